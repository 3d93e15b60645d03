"""CredentialJanitor (SC-05): disables idle IAM access keys and schedules idle secrets for recoverable deletion.

``handler`` is the Lambda entry point and lists the IAM actions it needs; ``rules`` holds the decisions as pure
functions; ``config`` validates the environment; ``audit`` writes the JSON audit trail.

Depends only on boto3/botocore and the standard library: it ships to Lambda as a zip of this directory.
"""

from .audit import AuditTrail
from .config import ConfigError, JanitorConfig, load_config
from .handler import REQUIRED_IAM_ACTIONS, JanitorRunFailed, lambda_handler, run_janitor
from .rules import EXEMPT_TAG

__all__ = [
    "EXEMPT_TAG",
    "REQUIRED_IAM_ACTIONS",
    "AuditTrail",
    "ConfigError",
    "JanitorConfig",
    "JanitorRunFailed",
    "lambda_handler",
    "load_config",
    "run_janitor",
]
