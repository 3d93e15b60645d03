"""Cloud Function entry point of the service-token rotation (SC-04, SC-05): `entry.handle`.

Eventarc invokes it with a CloudEvent for every message on the secrets' rotation topic. The entry point only wires:
the Secret Manager client, the issuer (from the environment) and the clock, then `rotate.rotate`.

For keys a third party must accept, subclass `ThirdPartyIssuer` (modelfort.runtime.rotation.issuers) and deploy
`make_handler(YourIssuer)` as the entry point, exactly as on AWS.

Permissions, granted on each rotated secret only (never on the project): `roles/secretmanager.secretVersionManager`
(get the secret, list, add and disable versions) and `roles/secretmanager.secretAccessor` (read the current value, for
the issuer's activate step and the "differs from current" check). The secrets' CMEK needs nothing from the function:
Secret Manager's own service agent encrypts and decrypts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from modelfort.runtime.rotation.issuers import GeneratedTokenIssuer, TokenIssuer
from modelfort.runtime.rotation_gcp.rotate import rotate

# Client libraries log request bodies (payloads included) at DEBUG; keep them above it whatever the function's level.
_SDK_LOGGERS = ("google", "google.api_core", "google.auth", "urllib3", "grpc")


def handle(cloud_event: Any) -> None:
    """Rotate tokens we generate ourselves (the default issuer)."""
    _run(cloud_event, GeneratedTokenIssuer)


def make_handler(issuer_class: type[TokenIssuer]) -> Callable[[Any], None]:
    if not (isinstance(issuer_class, type) and issubclass(issuer_class, TokenIssuer)):
        raise TypeError("make_handler needs a TokenIssuer subclass")

    def handler(cloud_event: Any) -> None:
        _run(cloud_event, issuer_class)

    handler.__doc__ = f"Rotate tokens issued by {issuer_class.__name__}."
    return handler


def secret_manager_client() -> Any:
    # Imported here: the library ships in the function's requirements, and nothing else (tests, the gate) needs it.
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient()


def quiet_sdk_loggers() -> None:
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _run(cloud_event: Any, issuer_class: type[TokenIssuer], client_factory: Callable[[], Any] = secret_manager_client) -> None:
    quiet_sdk_loggers()
    rotate(cloud_event, client=client_factory(), issuer=issuer_class.from_environment(os.environ), now=_utc_now)


def _utc_now() -> datetime:
    return datetime.now(UTC)
