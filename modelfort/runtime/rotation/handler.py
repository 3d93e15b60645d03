"""Lambda entry point of the service-token rotation function (SC-04).

Secrets Manager invokes it with ``{"SecretId", "ClientRequestToken", "Step"}`` for each of createSecret,
setSecret, testSecret and finishSecret. The entry point only wires: it builds the Secrets Manager client and the
issuer from the environment and calls ``steps.rotate``. The value format is documented in ``service_token``.

Packaging: zip the ``rotation/`` directory (it imports only boto3/botocore and the standard library) and use the
handler ``rotation.handler.lambda_handler``. For keys a third party must accept, add a module next to it:

    from rotation import ThirdPartyIssuer, make_lambda_handler

    class AcmeIssuer(ThirdPartyIssuer):
        name = "acme"
        def activate(self, *, secret_arn, pending, current): ...
        def test(self, *, secret_arn, pending): ...

    lambda_handler = make_lambda_handler(AcmeIssuer)

Environment:
- ``SECRETS_MANAGER_ENDPOINT`` (optional): an ``https://`` endpoint, e.g. the VPC interface endpoint when the
  function runs in an isolated subnet. Unset means the regional endpoint.

IAM permissions (least privilege), with ``Resource`` limited to the rotated secrets' ARNs:
- ``secretsmanager:DescribeSecret``: rotation enabled, version stages, the ``modelfort:token-kind`` tag.
- ``secretsmanager:GetSecretValue``: read AWSCURRENT and AWSPENDING.
- ``secretsmanager:PutSecretValue``: store the new AWSPENDING version.
- ``secretsmanager:UpdateSecretVersionStage``: move AWSCURRENT in finishSecret.
On the secrets' customer-managed KMS key (SC-03), with ``kms:ViaService = secretsmanager.<region>.amazonaws.com``:
- ``kms:Decrypt`` (GetSecretValue) and ``kms:GenerateDataKey`` (PutSecretValue).
Not needed, so not granted: ``secretsmanager:GetRandomPassword`` (tokens come from ``secrets.token_urlsafe``),
``secretsmanager:DeleteSecret``, ``secretsmanager:RotateSecret``. A third-party issuer lists its own extra
actions in ``TokenIssuer.required_iam_actions``. The usual Lambda logging permissions are the component's concern.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from .issuers import GeneratedTokenIssuer, TokenIssuer
from .steps import rotate

REQUIRED_IAM_ACTIONS: tuple[str, ...] = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
"""Granted on the rotated secrets."""

REQUIRED_KMS_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey")
"""Granted on the secrets' customer-managed key, via Secrets Manager only."""

# botocore logs request parameters (SecretString included) at DEBUG. Raising a function's log level to DEBUG
# to chase a problem must not copy every token into CloudWatch, so the SDK loggers never go below WARNING here.
_SDK_LOGGERS = ("boto3", "botocore", "urllib3")


def lambda_handler(event: Mapping[str, Any], context: Any) -> None:
    """Rotate a token we generate ourselves (the default issuer)."""
    _run(event, GeneratedTokenIssuer)


def make_lambda_handler(issuer_class: type[TokenIssuer]) -> Callable[[Mapping[str, Any], Any], None]:
    """Build an entry point that rotates with ``issuer_class`` (e.g. a ``ThirdPartyIssuer`` subclass)."""
    if not (isinstance(issuer_class, type) and issubclass(issuer_class, TokenIssuer)):
        raise TypeError("make_lambda_handler needs a TokenIssuer subclass")

    def handler(event: Mapping[str, Any], context: Any) -> None:
        _run(event, issuer_class)

    handler.__doc__ = f"Rotate a token issued by {issuer_class.__name__}."
    return handler


def secretsmanager_client(environ: Mapping[str, str]) -> Any:
    """Refuse a plain-http endpoint: tokens travel in PutSecretValue/GetSecretValue bodies."""
    endpoint = environ.get("SECRETS_MANAGER_ENDPOINT") or None
    if endpoint is not None and not endpoint.startswith("https://"):
        raise ValueError("SECRETS_MANAGER_ENDPOINT must be an https:// URL (or unset for the regional endpoint)")
    return boto3.client("secretsmanager", endpoint_url=endpoint)


def quiet_sdk_loggers() -> None:
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _run(event: Mapping[str, Any], issuer_class: type[TokenIssuer]) -> None:
    quiet_sdk_loggers()
    rotate(
        event,
        client=secretsmanager_client(os.environ),
        issuer=issuer_class.from_environment(os.environ),
        now=_utc_now,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)
