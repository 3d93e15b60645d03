"""Waivers: a stack's audited, expiring exceptions to a policy for named resources.

A waiver lives in the stack config under `modelfort:waivers`:

    modelfort:waivers:
      - policy: sg-rule-outside-zone
        resource: "urn:pulumi:redteam::modelfort::*::redteam-network-workload-sg"
        reason: Red-team targets sit in the lab range 198.51.100.0/24 (ticket SEC-123).
        owner: redteam-leads@example.com
        expires: 2027-03-31

Waivers must not widen silently: each names one policy, a URN pattern whose resource name is not a bare wildcard,
a reason of at least 10 characters, an owner and an expiry no more than a year ahead. A malformed or expired waiver
waives nothing and fails the gate; a waiver that matched nothing is reported so it gets cleaned up.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

CONFIG_KEY = "modelfort:waivers"
MIN_REASON_LENGTH = 10
MAX_WAIVER_DAYS = 366
FIELDS = ("policy", "resource", "reason", "owner", "expires")


@dataclass(frozen=True)
class Waiver:
    policy: str
    resource: str
    """A glob over the resource URN (fnmatch syntax, case-sensitive)."""
    reason: str
    owner: str
    expires: dt.date

    def matches(self, policy_name: str, urn: str) -> bool:
        return self.policy == policy_name and fnmatch.fnmatchcase(urn, self.resource)

    def describe(self) -> str:
        return f"{self.policy} on {self.resource} (owner {self.owner}, expires {self.expires.isoformat()}): {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "resource": self.resource,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class WaiverProblem:
    index: int | None
    message: str

    def __str__(self) -> str:
        where = CONFIG_KEY if self.index is None else f"{CONFIG_KEY}[{self.index}]"
        return f"{where}: {self.message}"


def parse_waivers(raw: object, today: dt.date) -> tuple[list[Waiver], list[WaiverProblem]]:
    """Split raw config into the waivers in force and the problems that must fail the gate.

    `raw` is the decoded config value (a list of mappings) or None when the stack has no waivers.
    """
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [WaiverProblem(None, f"must be a list of waivers, got {type(raw).__name__}")]
    waivers: list[Waiver] = []
    problems: list[WaiverProblem] = []
    for index, entry in enumerate(raw):
        waiver, entry_problems = _parse_one(entry, today)
        problems.extend(WaiverProblem(index, message) for message in entry_problems)
        if waiver is not None and not entry_problems:
            waivers.append(waiver)
    return waivers, problems


def _parse_one(entry: object, today: dt.date) -> tuple[Waiver | None, list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"must be a mapping with keys {', '.join(FIELDS)}, got {type(entry).__name__}"]
    problems = [f"unknown key '{key}' (allowed: {', '.join(FIELDS)})" for key in entry if key not in FIELDS]
    values: dict[str, str] = {}
    for key in FIELDS:
        value = entry.get(key)
        if isinstance(value, dt.date):  # YAML loaders turn unquoted dates into date objects.
            value = value.isoformat()
        if not isinstance(value, str) or not value.strip():
            problems.append(f"'{key}' is required and must be a non-empty string")
        else:
            values[key] = value.strip()
    if problems:
        return None, problems

    if len(values["reason"]) < MIN_REASON_LENGTH:
        problems.append(f"'reason' must explain the exception in at least {MIN_REASON_LENGTH} characters")
    if not values["resource"].startswith("urn:pulumi:"):
        problems.append("'resource' must be a URN pattern starting with 'urn:pulumi:'")
    elif _name_is_bare_wildcard(values["resource"]):
        problems.append(
            "'resource' must name the resource: urn:pulumi:<stack>::<project>::<type>::<name>, the name not a bare "
            "wildcard (that would waive every resource)"
        )
    try:
        expires = dt.date.fromisoformat(values["expires"])
    except ValueError:
        problems.append(f"'expires' must be a date YYYY-MM-DD, got '{values['expires']}'")
        return None, problems
    if expires < today:
        problems.append(f"expired on {expires.isoformat()}: renew it with a fresh review or fix the resource")
    elif (expires - today).days > MAX_WAIVER_DAYS:
        problems.append(f"'expires' must be within {MAX_WAIVER_DAYS} days so the exception is reviewed at least yearly")
    if problems:
        return None, problems
    return Waiver(values["policy"], values["resource"], values["reason"], values["owner"], expires), []


def _name_is_bare_wildcard(pattern: str) -> bool:
    # A URN is urn:pulumi:<stack>::<project>::<type>::<name>; a pattern without all four parts could match anything.
    if pattern.count("::") < 3:
        return True
    name = pattern.rsplit("::", 1)[-1]
    return name.strip("*?[]") == ""
