"""The four rotation steps, shaped like the AWS rotation template (SecretsManagerRotationTemplate).

Secrets Manager invokes the function four times per rotation with the same ClientRequestToken (the id of the new
version) and stops at the first failure, retrying later with the same token. So every step is idempotent, and the
only step that changes what consumers read, finishSecret, runs after testSecret has proved the pending token:
whatever fails, AWSCURRENT keeps pointing at a working value.

Each step takes the Secrets Manager client, the issuer and the clock as parameters, so tests swap them freely.
``rotate`` is the dispatcher the Lambda entry point calls; it writes exactly one JSON log line per invocation.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .errors import (
    InvalidRotationEvent,
    InvalidServiceToken,
    IssuerFailed,
    PendingTokenRejected,
    RotationError,
    RotationNotEnabled,
    VersionNotStaged,
)
from .issuers import TokenIssuer
from .service_token import KIND_TAG, TOKEN_KINDS, ServiceToken, parse_service_token

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

LOGGER = logging.getLogger("modelfort.rotation")
# The Lambda runtime leaves the root logger at WARNING; these lines are the rotation's audit trail.
LOGGER.setLevel(logging.INFO)


@dataclass(frozen=True)
class RotationEvent:
    """The three fields Secrets Manager sends. None of them is secret: the token is a version id."""

    secret_id: str
    token: str
    step: str


def parse_event(event: Any) -> RotationEvent:
    """Refuse anything that is not a well-formed rotation event before touching the secret."""
    if not isinstance(event, Mapping):
        raise InvalidRotationEvent("rotation event must be a JSON object")
    for field in ("SecretId", "ClientRequestToken", "Step"):
        if not isinstance(event.get(field), str) or not event[field]:
            raise InvalidRotationEvent(f"rotation event field {field} must be a non-empty string")
    if event["Step"] not in STEPS:
        raise InvalidRotationEvent(f"rotation event field Step must be one of {', '.join(STEPS)}")
    return RotationEvent(secret_id=event["SecretId"], token=event["ClientRequestToken"], step=event["Step"])


def check_staging(metadata: Mapping[str, Any], token: str) -> bool:
    """The template's guard, run before every step. Returns False when ``token`` is already AWSCURRENT: a retry
    after finishSecret succeeded, so there is nothing left to do. Raises when this invocation must not touch
    the secret (rotation disabled, unknown version, version not AWSPENDING)."""
    arn = metadata["ARN"]
    if metadata.get("RotationEnabled") is not True:
        raise RotationNotEnabled(f"secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages") or {}
    if token not in versions:
        raise VersionNotStaged(f"secret version {token} has no stage for rotation of secret {arn}")
    if CURRENT in versions[token]:
        return False
    if PENDING not in versions[token]:
        raise VersionNotStaged(f"secret version {token} not set as AWSPENDING for rotation of secret {arn}")
    return True


def token_kind(metadata: Mapping[str, Any]) -> str:
    """The kind comes from the secret's tag, not the function's environment, so one function rotates every kind;
    a missing or unknown tag stops the rotation rather than minting a token of a guessed kind."""
    tags = {tag.get("Key"): tag.get("Value") for tag in metadata.get("Tags") or []}
    kind = tags.get(KIND_TAG)
    if kind not in TOKEN_KINDS:
        raise RotationError(f"secret {metadata['ARN']} must be tagged {KIND_TAG} with one of {sorted(TOKEN_KINDS)}")
    return kind


def current_version_id(metadata: Mapping[str, Any]) -> str | None:
    for version_id, stages in (metadata.get("VersionIdsToStages") or {}).items():
        if CURRENT in stages:
            return version_id
    return None


def create_secret(
    client: Any, *, arn: str, token: str, kind: str, issuer: TokenIssuer, now: Callable[[], datetime]
) -> str:
    """Store a new token as AWSPENDING under ``token``, unless a retry finds it already stored: a second issue
    would orphan the first value (and, for a third party, a key nobody tracks)."""
    # Like the template: no current value means the secret is broken, and rotating would hide that.
    client.get_secret_value(SecretId=arn, VersionStage=CURRENT)
    if _pending_value_exists(client, arn, token):
        return "pending version already stored; nothing created"
    new = _call_issuer(issuer, "issue", secret_arn=arn, kind=kind, now=now())
    if not isinstance(new, ServiceToken) or new.kind != kind:
        raise IssuerFailed(f"issuer {issuer.name} did not return a {kind!r} ServiceToken")
    value = new.to_secret_string()
    parse_service_token(value)  # never store what testSecret could not read back
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value, VersionStages=[PENDING])
    return "stored new pending version"


def set_secret(client: Any, *, arn: str, token: str, issuer: TokenIssuer) -> str:
    """Have the verifier accept the pending token while the current one stays valid."""
    pending = read_pending(client, arn, token)
    current = read_current(client, arn)
    _call_issuer(issuer, "activate", secret_arn=arn, pending=pending, current=current)
    return f"issuer {issuer.name} activated pending version"


def test_secret(client: Any, *, arn: str, token: str, kind: str, issuer: TokenIssuer) -> str:
    """The gate before promotion: the pending value parses, is of the secret's kind, and the issuer confirms it
    works. It does not compare with AWSCURRENT: with RotateImmediately=false Secrets Manager runs testSecret alone
    against a pending copy of the current value to check the configuration; finishSecret makes that comparison."""
    pending = read_pending(client, arn, token)
    _check_kind(pending, token, kind)
    _call_issuer(issuer, "test", secret_arn=arn, pending=pending)
    return f"issuer {issuer.name} accepted pending version"


def finish_secret(client: Any, *, arn: str, token: str, kind: str, metadata: Mapping[str, Any]) -> str:
    """Move AWSCURRENT to the pending version (Secrets Manager moves AWSPREVIOUS to the old one).

    Secrets Manager only calls this after testSecret succeeded. The value is checked again anyway, because this is
    the one call that changes what every consumer reads: it must parse, be of the secret's kind, and differ from
    the current token (promoting the same token would report a rotation that rotated nothing).
    """
    current_id = current_version_id(metadata)
    if current_id == token:
        return "version already AWSCURRENT; nothing moved"
    if current_id is None:
        raise RotationError(f"secret {arn} has no AWSCURRENT version to replace")
    pending = read_pending(client, arn, token)
    _check_kind(pending, token, kind)
    current = read_current(client, arn)
    if current is not None and hmac.compare_digest(current.token.encode(), pending.token.encode()):
        raise PendingTokenRejected(f"pending version {token} holds the same token as AWSCURRENT")
    client.update_secret_version_stage(
        SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current_id
    )
    return f"moved AWSCURRENT from version {current_id}"


def read_pending(client: Any, arn: str, token: str) -> ServiceToken:
    """The pending value, strictly parsed. Asking for the stage too makes a stale token fail instead of reading
    a version that is no longer pending."""
    response = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
    return parse_service_token(response.get("SecretString"))


def read_current(client: Any, arn: str) -> ServiceToken | None:
    """The current value, or None when it predates the format (the placeholder a secret is created with)."""
    response = client.get_secret_value(SecretId=arn, VersionStage=CURRENT)
    try:
        return parse_service_token(response.get("SecretString"))
    except InvalidServiceToken:
        return None


def rotate(
    event: Any,
    *,
    client: Any,
    issuer: TokenIssuer,
    now: Callable[[], datetime],
    log: logging.Logger = LOGGER,
) -> None:
    """Validate the event and the staging, run one step, and log one JSON line with its outcome.

    Errors are re-raised so Secrets Manager sees the failure and retries; only RotationError and AWS ClientError
    messages are logged or re-raised verbatim, since we know they carry identifiers only. Anything else is
    reported by type and code location, and replaced by a RotationError, so no secret reaches CloudWatch.
    """
    line: dict[str, Any] = {
        "event": "modelfort.rotation.step",
        "secret_arn": _event_field(event, "SecretId"),
        "step": _event_field(event, "Step"),
        "version_id": _event_field(event, "ClientRequestToken"),
        "issuer": issuer.name,
    }
    try:
        request = parse_event(event)
        metadata = client.describe_secret(SecretId=request.secret_id)
        line["secret_arn"] = metadata["ARN"]
        if not check_staging(metadata, request.token):
            _write(log, line, outcome="skipped", detail="version already AWSCURRENT; nothing to do")
            return
        detail = _run_step(client, metadata, request, issuer, now)
    except (RotationError, ClientError) as exc:
        _write(log, line, outcome="failed", error_type=type(exc).__name__, error=str(exc))
        raise
    except Exception as exc:
        location = _innermost_frame(exc)
        _write(log, line, outcome="failed", error_type=type(exc).__name__, error_location=location)
        raise RotationError(
            f"{line['step']} failed with {type(exc).__name__} at {location}; message withheld"
        ) from None
    _write(log, line, outcome="succeeded", detail=detail)


def _run_step(
    client: Any, metadata: Mapping[str, Any], request: RotationEvent, issuer: TokenIssuer, now: Callable[[], datetime]
) -> str:
    arn, token = metadata["ARN"], request.token
    kind = token_kind(metadata)
    if request.step == "createSecret":
        return create_secret(client, arn=arn, token=token, kind=kind, issuer=issuer, now=now)
    if request.step == "setSecret":
        return set_secret(client, arn=arn, token=token, issuer=issuer)
    if request.step == "testSecret":
        return test_secret(client, arn=arn, token=token, kind=kind, issuer=issuer)
    return finish_secret(client, arn=arn, token=token, kind=kind, metadata=metadata)


def _check_kind(pending: ServiceToken, token: str, kind: str) -> None:
    if pending.kind != kind:
        raise PendingTokenRejected(f"pending version {token} holds a {pending.kind!r} token, secret is {kind!r}")


def _pending_value_exists(client: Any, arn: str, token: str) -> bool:
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
    except ClientError as exc:
        # The version RotateSecret created has a stage but no value yet: AWS answers ResourceNotFoundException.
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


def _call_issuer(issuer: TokenIssuer, method: str, **kwargs: Any) -> Any:
    """Issuer code may put a key in an exception message (an HTTP error echoing a header, say): keep only its type
    and where it was raised. Issuers that want a reason in the logs raise PendingTokenRejected."""
    try:
        return getattr(issuer, method)(**kwargs)
    except RotationError:
        raise
    except Exception as exc:
        raise IssuerFailed(
            f"issuer {issuer.name} {method} raised {type(exc).__name__} at {_innermost_frame(exc)}; message withheld"
        ) from None


def _innermost_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"


def _event_field(event: Any, name: str) -> str | None:
    value = event.get(name) if isinstance(event, Mapping) else None
    return value if isinstance(value, str) else None


def _write(log: logging.Logger, line: Mapping[str, Any], **fields: Any) -> None:
    log.info(json.dumps({**line, **fields}, sort_keys=True))
