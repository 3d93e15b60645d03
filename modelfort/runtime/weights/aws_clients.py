"""boto3 clients with bounded retries, and the helpers that read botocore errors.

Retries are botocore's own "standard" mode (exponential backoff with jitter on throttling, 5xx and connection
errors), capped by `total_max_attempts`, so a throttled or unavailable S3 delays startup by seconds, never hangs it,
and then fails with a precise reason. Timeouts are explicit for the same reason: botocore's default read timeout
(60 s) times 5 attempts is too long for an init container to sit silent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_MAX_ATTEMPTS = 5
MAX_ATTEMPTS_LIMIT = 10
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30

# Error codes AWS uses for throttling (botocore's standard retry mode treats the same codes as throttles).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "BandwidthLimitExceeded",
        "LimitExceededException",
    }
)

# (service, region) -> client. Tests pass a factory that returns moto-backed or instrumented clients.
ClientFactory = Callable[[str, "str | None"], Any]


def retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS):
    """botocore config: standard-mode retries, at most `max_attempts` tries per request in total."""
    from botocore.config import Config

    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise ValueError(f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {max_attempts}")
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )


def client_factory(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> ClientFactory:
    """The production factory: boto3's default credential chain, our retry and timeout settings."""

    def make(service: str, region: str | None = None) -> Any:
        import boto3

        return boto3.client(service, region_name=region, config=retry_config(max_attempts))

    return make


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore `ClientError` (e.g. `SlowDown`, `NoSuchKey`, `404`), or ''."""
    response = getattr(error, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def http_status(error: BaseException) -> int:
    """The HTTP status of a botocore `ClientError`, or 0 when there was no HTTP response."""
    response = getattr(error, "response", None) or {}
    try:
        return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode", 0))
    except (TypeError, ValueError):
        return 0


def region_of_kms_key(key_id: str) -> str | None:
    """The region in a KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`), so signing needs no region setting."""
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) >= 6 and parts[3]:
            return parts[3]
    return None
