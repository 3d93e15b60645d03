"""One rotation of a Secret Manager secret, driven by the `SECRET_ROTATE` notification Secret Manager publishes.

    issue (issuer) -> activate (issuer) -> test (issuer) -> add version (Secret Manager checks the CRC32C)
    -> disable versions older than the previous one (SC-05)

Consumers read the `latest` version, so adding the version *is* promotion: everything that could refuse the new token
(the issuer's activate and test, the format check, "differs from the current token") runs before it. A failure raises,
the function fails, Eventarc redelivers, and the current version keeps working meanwhile.

Pub/Sub delivers at least once. A redelivery of a notification that already led to a new version must not rotate again
(a third party would be left with a key nobody tracks): if the newest enabled version is younger than the notification,
rotation is skipped and only the clean-up runs. The function runs with one instance and one request at a time, so two
deliveries never race.

The client is the Secret Manager client (`google.cloud.secretmanager.SecretManagerServiceClient`) or anything with the
same five methods; `now` is the clock. Tests pass fakes for both.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelfort.runtime.rotation.errors import (
    InvalidRotationEvent,
    InvalidServiceToken,
    IssuerFailed,
    PendingTokenRejected,
    RotationError,
    RotationNotEnabled,
)
from modelfort.runtime.rotation.issuers import TokenIssuer
from modelfort.runtime.rotation.service_token import TOKEN_KINDS, ServiceToken, parse_service_token
from modelfort.runtime.rotation_gcp.crc32c import crc32c

ROTATE_EVENT = "SECRET_ROTATE"
KIND_LABEL = "modelfort-token-kind"
"""The secret's label naming the token kind (GCP labels cannot hold ':', so not the AWS tag `modelfort:token-kind`)."""
KEEP_ENABLED_VERSIONS = 2
"""The new version and the one before it: consumers that read `latest` just before the rotation keep working for one
more period; anything older is disabled."""
REQUIRED_ROLES = ("roles/secretmanager.secretVersionManager", "roles/secretmanager.secretAccessor")
"""Granted on each rotated secret only: read it, list and add versions, disable old ones. Nothing project-wide."""
# API errors from google-api-core carry resource names and permissions, never payloads: safe to log verbatim.
SAFE_ERROR_MODULES = ("google.api_core.exceptions",)
_SECRET_NAME = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$")
_FRACTION = re.compile(r"\.(\d{6})\d*")

LOGGER = logging.getLogger("modelfort.rotation.gcp")
LOGGER.setLevel(logging.INFO)


@dataclass(frozen=True)
class RotationMessage:
    """What the notification says. None of it is secret: names and times."""

    event_type: str
    secret: str
    """`projects/<project>/secrets/<id>`."""
    published_at: datetime
    message_id: str


def parse_message(event: Any) -> RotationMessage:
    """Read the Pub/Sub message out of an Eventarc CloudEvent (`google.cloud.pubsub.topic.v1.messagePublished`), given
    as the CloudEvent object or its data mapping. Anything malformed is refused before a secret is touched."""
    data = getattr(event, "data", event)
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise InvalidRotationEvent("event carries no Pub/Sub message")
    attributes = message.get("attributes")
    if not isinstance(attributes, Mapping):
        raise InvalidRotationEvent("Pub/Sub message has no attributes")
    event_type, secret = attributes.get("eventType"), attributes.get("secretId")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidRotationEvent("message attribute eventType must be a non-empty string")
    if not isinstance(secret, str) or not _SECRET_NAME.match(secret):
        raise InvalidRotationEvent("message attribute secretId must be projects/<project>/secrets/<id>")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidRotationEvent("Pub/Sub message has no messageId")
    return RotationMessage(event_type=event_type, secret=secret, published_at=_parse_time(message.get("publishTime")),
                           message_id=message_id)


def rotate(
    event: Any,
    *,
    client: Any,
    issuer: TokenIssuer,
    now: Callable[[], datetime],
    log: logging.Logger = LOGGER,
) -> str:
    """Handle one notification; returns the outcome (`rotated`, `skipped`, `ignored`) and logs one JSON line.

    Errors are re-raised so the delivery is retried. RotationErrors and Google API errors are logged verbatim (they
    carry identifiers only); anything else is reported by type and code location and replaced by a RotationError, so
    a message quoting a token never reaches Cloud Logging.
    """
    line: dict[str, Any] = {"event": "modelfort.rotation.gcp", "issuer": issuer.name}
    try:
        message = parse_message(event)
        line.update(secret=message.secret, message_id=message.message_id, event_type=message.event_type)
        if message.event_type != ROTATE_EVENT:
            # The same topic hears every change to the secret, including the version this function adds.
            _write(log, line, outcome="ignored", detail=f"{message.event_type} is not a rotation")
            return "ignored"
        outcome, detail, disabled = _rotate(message, client, issuer, now)
    except RotationError as exc:
        _write(log, line, outcome="failed", error_type=type(exc).__name__, error=str(exc))
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(SAFE_ERROR_MODULES):
            _write(log, line, outcome="failed", error_type=type(exc).__name__, error=str(exc))
            raise
        location = _innermost_frame(exc)
        _write(log, line, outcome="failed", error_type=type(exc).__name__, error_location=location)
        raise RotationError(f"rotation failed with {type(exc).__name__} at {location}; message withheld") from None
    _write(log, line, outcome=outcome, detail=detail, disabled_versions=disabled)
    return outcome


def _rotate(message: RotationMessage, client: Any, issuer: TokenIssuer, now: Callable[[], datetime]) -> tuple[str, str, list[str]]:
    secret = client.get_secret(request={"name": message.secret})
    rotation = getattr(secret, "rotation", None)
    if not getattr(rotation, "rotation_period", None):
        raise RotationNotEnabled(f"secret {message.secret} has no rotation period; nobody asked for this rotation")
    kind = token_kind(message.secret, getattr(secret, "labels", None) or {})
    versions = enabled_versions(client, message.secret)
    if versions and versions[-1].create_time >= message.published_at:
        outcome, detail = "skipped", f"version {_short(versions[-1].name)} is newer than the notification; not rotated again"
    else:
        current = read_current(client, versions)
        pending = _call_issuer(issuer, "issue", secret_arn=message.secret, kind=kind, now=now())
        if not isinstance(pending, ServiceToken) or pending.kind != kind:
            raise IssuerFailed(f"issuer {issuer.name} did not return a {kind!r} ServiceToken")
        value = pending.to_secret_string()
        parse_service_token(value)  # never store what a reader could not parse back
        _call_issuer(issuer, "activate", secret_arn=message.secret, pending=pending, current=current)
        _call_issuer(issuer, "test", secret_arn=message.secret, pending=pending)
        if current is not None and hmac.compare_digest(current.token.encode(), pending.token.encode()):
            raise PendingTokenRejected(f"issuer {issuer.name} returned the current token of {message.secret}")
        data = value.encode("utf-8")
        added = client.add_secret_version(
            request={"parent": message.secret, "payload": {"data": data, "data_crc32c": crc32c(data)}}
        )
        versions = [*versions, added]
        outcome, detail = "rotated", f"added version {_short(added.name)}"
    return outcome, detail, disable_superseded(client, versions)


def token_kind(secret: str, labels: Mapping[str, str]) -> str:
    """From the secret's label, so one function rotates every kind; a missing or unknown label stops the rotation
    rather than minting a token of a guessed kind."""
    kind = labels.get(KIND_LABEL)
    if kind not in TOKEN_KINDS:
        raise RotationError(f"secret {secret} must be labelled {KIND_LABEL} with one of {sorted(TOKEN_KINDS)}")
    return kind


def enabled_versions(client: Any, secret: str) -> list[Any]:
    """Enabled versions, oldest first."""
    versions = client.list_secret_versions(request={"parent": secret, "filter": "state:ENABLED"})
    enabled = [v for v in versions if _state(v) == "ENABLED"]
    return sorted(enabled, key=lambda v: v.create_time)


def read_current(client: Any, versions: Sequence[Any]) -> ServiceToken | None:
    """The newest enabled value, or None when there is none yet or it predates the format (a bootstrap value)."""
    if not versions:
        return None
    response = client.access_secret_version(request={"name": versions[-1].name})
    data = response.payload.data
    expected = getattr(response.payload, "data_crc32c", None)
    if expected is not None and crc32c(data) != int(expected):
        raise RotationError(f"version {versions[-1].name} arrived corrupted (CRC32C mismatch)")
    try:
        return parse_service_token(data.decode("utf-8"))
    except (InvalidServiceToken, UnicodeDecodeError):
        return None


def disable_superseded(client: Any, versions: Sequence[Any]) -> list[str]:
    """Disable every enabled version but the newest KEEP_ENABLED_VERSIONS (disabled, not destroyed: an operator can
    re-enable one in an emergency; the secret's version_destroy_ttl governs destruction)."""
    disabled = []
    for version in list(versions)[:-KEEP_ENABLED_VERSIONS]:
        client.disable_secret_version(request={"name": version.name})
        disabled.append(_short(version.name))
    return disabled


def _call_issuer(issuer: TokenIssuer, method: str, **kwargs: Any) -> Any:
    """As in the AWS steps: issuer code may put a key in an exception message, so keep only its type and location.
    (The issuers' `secret_arn` parameter receives the Secret Manager resource name here.)"""
    try:
        return getattr(issuer, method)(**kwargs)
    except RotationError:
        raise
    except Exception as exc:
        raise IssuerFailed(
            f"issuer {issuer.name} {method} raised {type(exc).__name__} at {_innermost_frame(exc)}; message withheld"
        ) from None


def _state(version: Any) -> str:
    state = getattr(version, "state", None)
    return getattr(state, "name", str(state))


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidRotationEvent("Pub/Sub message has no publishTime")
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r".\1", value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidRotationEvent("Pub/Sub message publishTime is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise InvalidRotationEvent("Pub/Sub message publishTime has no time zone")
    return moment.astimezone(UTC)


def _short(version_name: str) -> str:
    return version_name.rsplit("/", 1)[-1]


def _innermost_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"


def _write(log: logging.Logger, line: Mapping[str, Any], **fields: Any) -> None:
    log.info(json.dumps({**line, **fields}, sort_keys=True, default=str))
