"""The janitor's decisions as pure functions: when is a credential idle, and who is exempt.

Kept apart from the AWS calls so the rules a security reviewer signs off are a few lines they can read whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

EXEMPT_TAG = "modelfort:janitor-exempt"
TAG_PREFIX = "modelfort:janitor-"


@dataclass(frozen=True)
class Activity:
    """When a credential was last used, and where that date came from (``last-used`` or ``created``)."""

    at: datetime
    source: str

    def idle_days(self, now: datetime) -> int:
        return max((now - self.at).days, 0)


def last_activity(last_used: datetime | None, created: datetime) -> Activity:
    """A credential never used counts from its creation: otherwise a key leaked before its first use would be
    idle forever and never revoked."""
    if last_used is not None:
        return Activity(at=last_used, source="last-used")
    return Activity(at=created, source="created")


def is_idle(activity: Activity, now: datetime, max_idle_days: int) -> bool:
    """Idle means strictly more than ``max_idle_days`` since the last activity. AWS reports secret access by day,
    so a secret read any time on the boundary day is still within the limit."""
    if now.tzinfo is None or activity.at.tzinfo is None:
        raise ValueError("janitor times must be timezone-aware")
    return now - activity.at > timedelta(days=max_idle_days)


def is_exempt(tags: Iterable[Mapping[str, str]]) -> bool:
    """Only the exact value ``true`` (any case) exempts: an exemption has to be deliberate, so ``yes``, ``1`` or
    an empty value do not count."""
    return any(tag.get("Key") == EXEMPT_TAG and str(tag.get("Value", "")).lower() == "true" for tag in tags)


def reason(activity: Activity, now: datetime, max_idle_days: int) -> str:
    """Human-readable, and valid as an IAM / Secrets Manager tag value (letters, digits, spaces, ``-``)."""
    return f"unused {activity.idle_days(now)} days limit {max_idle_days} days since {activity.source}"


def activity_fields(activity: Activity, now: datetime, max_idle_days: int) -> dict[str, object]:
    """The audit-record fields that justify a decision, shared by every sweep so records line up in queries."""
    return {
        "last_activity": activity.at.isoformat(),
        "last_activity_source": activity.source,
        "idle_days": activity.idle_days(now),
        "max_idle_days": max_idle_days,
        "reason": reason(activity, now, max_idle_days),
    }
