"""Schedule deletion of Secrets Manager secrets nobody has read for ``max_idle_days`` (SC-05).

Deletion is always scheduled with a recovery window (7 to 30 days) and never forced: until the window ends,
``RestoreSecret`` brings the secret back unchanged, so a wrong call by the janitor costs a restore, not an outage.
Secrets owned by another AWS service (``OwningService``, e.g. RDS-managed credentials) are left to that service,
which refuses DeleteSecret anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .audit import AuditTrail, error_details
from .config import JanitorConfig
from .pagination import paginate
from .rules import (
    EXEMPT_TAG,
    TAG_PREFIX,
    activity_fields,
    is_exempt,
    is_idle,
    last_activity,
)

RESOURCE_TYPE = "secret"
ACTION = "schedule-secret-deletion"


def schedule_idle_secret_deletion(
    secretsmanager: Any, *, config: JanitorConfig, now: datetime, audit: AuditTrail, page_size: int | None = None
) -> int:
    """Sweep every secret not already scheduled for deletion; return how many were examined."""
    examined = 0
    try:
        # Listing includes secrets already scheduled for deletion, and skips them here: without them, every
        # deletion would shrink the listing under the paginator and shift the next page past secrets never seen.
        for secret in paginate(secretsmanager, "list_secrets", "SecretList", page_size, IncludePlannedDeletion=True):
            if secret.get("DeletedDate") is not None:
                continue
            examined += 1
            _sweep_secret(secretsmanager, secret, config=config, now=now, audit=audit)
    except Exception as exc:
        audit.record(
            resource_type=RESOURCE_TYPE,
            resource_id="*",
            action="list-secrets",
            outcome="failed",
            changed=False,
            failed_step="list",
            **error_details(exc),
        )
    return examined


def _sweep_secret(
    secretsmanager: Any, secret: Mapping[str, Any], *, config: JanitorConfig, now: datetime, audit: AuditTrail
) -> None:
    """Decide, tag, schedule deletion, and write exactly one record if the secret is idle (or on failure).

    The tags go on first because Secrets Manager refuses changes to a secret scheduled for deletion
    (InvalidRequestException). If the deletion then fails, the tags describe a decision that did not take effect;
    the failed record is the authority, and the next run decides again.
    """
    arn = secret["ARN"]
    base: dict[str, Any] = {
        "resource_type": RESOURCE_TYPE,
        "resource_id": arn,
        "action": ACTION,
        "name": secret.get("Name"),
        "recovery_window_days": config.recovery_window_days,
    }
    try:
        activity = last_activity(secret.get("LastAccessedDate"), secret["CreatedDate"])
        if not is_idle(activity, now, config.max_idle_days):
            return
        base.update(activity_fields(activity, now, config.max_idle_days))
        if secret.get("OwningService"):
            audit.record(**base, outcome="exempt", changed=False, exemption=f"managed by {secret['OwningService']}")
            return
        if is_exempt(secret.get("Tags") or []):
            audit.record(**base, outcome="exempt", changed=False, exemption=f"tagged {EXEMPT_TAG}=true")
            return
        if config.dry_run:
            audit.record(**base, outcome="planned", changed=False)
            return
    except Exception as exc:
        audit.record(**base, outcome="failed", changed=False, failed_step="inspect", **error_details(exc))
        return
    tag_error = _tag(secretsmanager, arn, now, base["reason"])
    try:
        response = secretsmanager.delete_secret(SecretId=arn, RecoveryWindowInDays=config.recovery_window_days)
    except Exception as exc:
        if tag_error is not None:
            base["tag_error"] = error_details(tag_error)
        audit.record(**base, outcome="failed", changed=False, failed_step="delete", **error_details(exc))
        return
    base["deletion_date"] = _iso(response.get("DeletionDate"))
    if tag_error is not None:
        audit.record(**base, outcome="failed", changed=True, failed_step="tag", **error_details(tag_error))
        return
    audit.record(**base, outcome="applied", changed=True)


def _tag(secretsmanager: Any, arn: str, now: datetime, why: str) -> Exception | None:
    """Tag the decision; a tagging failure must not stop the revocation itself, so it is returned, not raised."""
    try:
        secretsmanager.tag_resource(
            SecretId=arn,
            Tags=[
                {"Key": f"{TAG_PREFIX}action", "Value": ACTION},
                {"Key": f"{TAG_PREFIX}date", "Value": f"{now:%Y-%m-%d}"},
                {"Key": f"{TAG_PREFIX}reason", "Value": why},
            ],
        )
    except Exception as exc:
        return exc
    return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
