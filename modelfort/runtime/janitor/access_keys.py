"""Disable IAM access keys nobody has used for ``max_idle_days`` (SC-05).

Keys are set Inactive, never deleted: an owner who still needs one re-activates it in seconds, while a deleted key
is gone for good and whatever depended on it has to be re-provisioned. The exemption tag lives on the IAM user,
because access keys themselves cannot be tagged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

RESOURCE_TYPE = "iam-access-key"
ACTION = "disable-access-key"
DISABLED_TAG_PREFIX = f"{TAG_PREFIX}disabled:"


def revoke_idle_access_keys(
    iam: Any, *, config: JanitorConfig, now: datetime, audit: AuditTrail, page_size: int | None = None
) -> int:
    """Sweep every user's active keys; return how many active keys were examined. A failure listing users ends
    this sweep (there is no way to page on) but is recorded, so the run still reports it."""
    examined = 0
    try:
        for user in paginate(iam, "list_users", "Users", page_size):
            examined += _sweep_user(iam, user["UserName"], config=config, now=now, audit=audit, page_size=page_size)
    except Exception as exc:
        audit.record(
            resource_type="iam-user",
            resource_id="*",
            action="list-users",
            outcome="failed",
            changed=False,
            failed_step="list",
            **error_details(exc),
        )
    return examined


def _sweep_user(
    iam: Any, user_name: str, *, config: JanitorConfig, now: datetime, audit: AuditTrail, page_size: int | None
) -> int:
    try:
        keys = list(paginate(iam, "list_access_keys", "AccessKeyMetadata", page_size, UserName=user_name))
    except Exception as exc:
        audit.record(
            resource_type="iam-user",
            resource_id=user_name,
            action="list-access-keys",
            outcome="failed",
            changed=False,
            failed_step="list",
            **error_details(exc),
        )
        return 0
    tags = _UserTags(iam, user_name, page_size)
    active = [key for key in keys if key.get("Status") == "Active"]
    for key in active:
        _sweep_key(iam, user_name, key, tags, config=config, now=now, audit=audit)
    return len(active)


def _sweep_key(
    iam: Any,
    user_name: str,
    key: Mapping[str, Any],
    user_tags: Callable[[], list[Mapping[str, str]]],
    *,
    config: JanitorConfig,
    now: datetime,
    audit: AuditTrail,
) -> None:
    """Decide, act, tag, and write exactly one record if the key is idle (or if anything failed)."""
    key_id = key["AccessKeyId"]
    base: dict[str, Any] = {"resource_type": RESOURCE_TYPE, "resource_id": key_id, "action": ACTION, "user": user_name}
    step = "inspect"
    try:
        activity = last_activity(_last_used(iam, key_id), key["CreateDate"])
        if not is_idle(activity, now, config.max_idle_days):
            return
        base.update(activity_fields(activity, now, config.max_idle_days))
        # An unreadable exemption is an error, not a decision: we neither override a possible exemption nor
        # skip silently; the run fails so a human looks, and the next run retries.
        if is_exempt(user_tags()):
            audit.record(**base, outcome="exempt", changed=False, exemption=f"user tagged {EXEMPT_TAG}=true")
            return
        if config.dry_run:
            audit.record(**base, outcome="planned", changed=False)
            return
        step = "disable"
        iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status="Inactive")
        step = "tag"
        iam.tag_user(
            UserName=user_name,
            Tags=[{"Key": f"{DISABLED_TAG_PREFIX}{key_id}", "Value": f"{now:%Y-%m-%d} {base['reason']}"}],
        )
    except Exception as exc:
        # Past the disable call the key is off even if tagging failed: say so, the record is the evidence.
        audit.record(**base, outcome="failed", changed=step == "tag", failed_step=step, **error_details(exc))
        return
    audit.record(**base, outcome="applied", changed=True)


def _last_used(iam: Any, key_id: str) -> datetime | None:
    return iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"].get("LastUsedDate")


class _UserTags:
    """A user's tags, fetched once and only if one of their keys is idle (most users need no extra call)."""

    def __init__(self, iam: Any, user_name: str, page_size: int | None) -> None:
        self._iam, self._user_name, self._page_size = iam, user_name, page_size
        self._tags: list[Mapping[str, str]] | None = None

    def __call__(self) -> list[Mapping[str, str]]:
        if self._tags is None:
            self._tags = list(paginate(self._iam, "list_user_tags", "Tags", self._page_size, UserName=self._user_name))
        return self._tags
