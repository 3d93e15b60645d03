"""Secret Manager rotation for service tokens on Google Cloud (SC-04, SC-05).

Secret Manager does not call a rotation function step by step as AWS does: when a secret's rotation time comes it
publishes a `SECRET_ROTATE` message to the secret's Pub/Sub topics, and whoever subscribes must add the new version.
This package is that subscriber (a Cloud Function behind an Eventarc Pub/Sub trigger).

Reused from the AWS rotation package, unchanged: the service-token value format (`service_token`), the issuers that
mint, activate and test tokens (`issuers`), and the errors whose messages are safe to log (`errors`). Not reusable:
the four-step staging protocol (`steps`), which is AWS Secrets Manager's and imports botocore. What replaces it is
in `rotate`: issue, activate, test, add the version (with a CRC32C the service checks), then disable superseded
versions so a leaked old token stops working (SC-05).

The entry point is `entry.handle`; the function's archive carries only this package, those three shared modules and
the Secret Manager client library (components/gcp/secrets.py builds it).
"""

from modelfort.runtime.rotation_gcp.crc32c import crc32c
from modelfort.runtime.rotation_gcp.rotate import (
    KIND_LABEL,
    KEEP_ENABLED_VERSIONS,
    REQUIRED_ROLES,
    ROTATE_EVENT,
    RotationMessage,
    parse_message,
    rotate,
)

CONTROLS = ("SC-04", "SC-05")

__all__ = [
    "CONTROLS",
    "KEEP_ENABLED_VERSIONS",
    "KIND_LABEL",
    "REQUIRED_ROLES",
    "ROTATE_EVENT",
    "RotationMessage",
    "crc32c",
    "parse_message",
    "rotate",
]
