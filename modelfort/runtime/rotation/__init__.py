"""Secrets Manager rotation function for service tokens (SC-04).

Rotates the API keys agents and tools use and the tokens clients present to the model API, with the four-step
protocol (createSecret, setSecret, testSecret, finishSecret). ``handler`` is the Lambda entry point and lists the
IAM actions it needs; ``service_token`` documents the secret value format; ``issuers`` holds the pluggable issuer
(the default one mints tokens, ``ThirdPartyIssuer`` is the hook for keys another party must accept).

Depends only on boto3/botocore and the standard library: it ships to Lambda as a zip of this directory.
"""

from .errors import (
    InvalidRotationEvent,
    InvalidServiceToken,
    IssuerFailed,
    PendingTokenRejected,
    RotationError,
    RotationNotEnabled,
    VersionNotStaged,
)
from .handler import (
    REQUIRED_IAM_ACTIONS,
    REQUIRED_KMS_ACTIONS,
    lambda_handler,
    make_lambda_handler,
)
from .issuers import GeneratedTokenIssuer, ThirdPartyIssuer, TokenIssuer
from .service_token import (
    FORMAT,
    KIND_TAG,
    TOKEN_KINDS,
    ServiceToken,
    parse_service_token,
)

__all__ = [
    "FORMAT",
    "KIND_TAG",
    "REQUIRED_IAM_ACTIONS",
    "REQUIRED_KMS_ACTIONS",
    "TOKEN_KINDS",
    "GeneratedTokenIssuer",
    "InvalidRotationEvent",
    "InvalidServiceToken",
    "IssuerFailed",
    "PendingTokenRejected",
    "RotationError",
    "RotationNotEnabled",
    "ServiceToken",
    "ThirdPartyIssuer",
    "TokenIssuer",
    "VersionNotStaged",
    "lambda_handler",
    "make_lambda_handler",
    "parse_service_token",
]
