"""What a detector reports: a `Finding`, serialisable to one JSON object.

A finding is meant to be stored as evidence (OB-03) and read by an on-call engineer, possibly in a shared channel.
So it carries everything needed to route and triage it (controls, severity, caller, model and version, request id)
and never the payload itself: `evidence` is a short, redacted excerpt (see `redact.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

FINDING_VERSION = 1


class Severity(str, Enum):
    """How urgently a human should look. Same names as the policy pack's severities, ordered LOW < CRITICAL."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def raised(self, steps: int = 1) -> Severity:
        """This severity raised by `steps` levels, capped at CRITICAL (used when signals corroborate each other)."""
        return _ORDER[min(self.rank + steps, len(_ORDER) - 1)]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.upper())
        except ValueError:
            raise ValueError(f"unknown severity {text!r} (expected one of {', '.join(s.value for s in cls)})") from None


_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
_RANK = {severity: rank for rank, severity in enumerate(_ORDER)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection on one inference event.

    `detector` is the family (`extraction`, `jailbreak`, `tool_use`, `rag_poisoning`); `rule` names the signal within
    it (`extraction.weight_dump`), so alarms can be tuned per rule without losing the family view."""

    detector: str
    rule: str
    controls: tuple[str, ...]
    severity: Severity
    caller: str
    model: str
    model_version: str
    root_digest: str
    request_id: str
    timestamp: str
    reason: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding_version": FINDING_VERSION,
            "detector": self.detector,
            "rule": self.rule,
            "controls": list(self.controls),
            "severity": self.severity.value,
            "caller": self.caller,
            "model": self.model,
            "model_version": self.model_version,
            "root_digest": self.root_digest,
            "request_id": self.request_id,
            "timestamp": self.timestamp,
            "reason": self.reason,
            "evidence": self.evidence,
        }

    def to_json(self) -> str:
        # ensure_ascii keeps the line safe to print in any terminal and to grep: evidence may hold escaped Unicode.
        return json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from `to_dict` output (for consumers that queue findings between processes)."""
        return cls(
            detector=data["detector"],
            rule=data["rule"],
            controls=tuple(data["controls"]),
            severity=Severity(data["severity"]),
            caller=data["caller"],
            model=data["model"],
            model_version=data["model_version"],
            root_digest=data["root_digest"],
            request_id=data["request_id"],
            timestamp=data["timestamp"],
            reason=data["reason"],
            evidence=data["evidence"],
        )
