"""The janitor's audit trail: one JSON record per decision on an idle credential, and one summary per run.

Records go to CloudWatch Logs through the ``modelfort.janitor.audit`` logger (one JSON object per line, so Logs
Insights and a metric filter on ``"outcome":"failed"`` can use them) and are kept in memory for the summary and
for tests. Outcomes:

- ``applied``: the change was made (key disabled / deletion scheduled) and tagged;
- ``planned``: dry run, the change would have been made;
- ``exempt``: idle, but exempt (tag, or a secret owned by another AWS service); nothing changed;
- ``failed``: something went wrong; ``changed`` says whether the credential was changed anyway, ``failed_step``
  where it went wrong (``inspect``, ``disable``, ``delete``, ``tag``, ``list``).

The janitor never reads secret values, so no record can contain one; error messages are AWS's own.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

OUTCOMES = ("applied", "planned", "exempt", "failed")

LOGGER = logging.getLogger("modelfort.janitor.audit")
# The Lambda runtime leaves the root logger at WARNING; the audit trail must not depend on that.
LOGGER.setLevel(logging.INFO)


def log_record(record: dict[str, Any]) -> None:
    LOGGER.info(json.dumps(record, sort_keys=True, default=str))


class AuditTrail:
    """Emits and counts records. ``emit`` is injectable so tests (or another sink) can take the records."""

    def __init__(self, *, run_id: str, dry_run: bool, emit: Callable[[dict[str, Any]], None] = log_record) -> None:
        self.run_id = run_id
        self.dry_run = dry_run
        self.records: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()
        self._emit = emit

    def record(
        self, *, resource_type: str, resource_id: str, action: str, outcome: str, changed: bool, **details: Any
    ) -> dict[str, Any]:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        record = {
            "record": "modelfort.janitor.action",
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "action": action,
            "outcome": outcome,
            "changed": changed,
            **details,
        }
        self.records.append(record)
        self.counts[outcome] += 1
        self._emit(record)
        return record

    @property
    def failures(self) -> int:
        return self.counts["failed"]

    def summary(self, **details: Any) -> dict[str, Any]:
        record = {
            "record": "modelfort.janitor.summary",
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            **{outcome: self.counts[outcome] for outcome in OUTCOMES},
            **details,
        }
        self._emit(record)
        return record


def error_details(exc: BaseException) -> dict[str, str]:
    """What went wrong, in fields a query can group by: the AWS error code when there is one."""
    details = {"error_type": type(exc).__name__, "error": str(exc)}
    if isinstance(exc, ClientError):
        details["error_code"] = exc.response.get("Error", {}).get("Code", "")
    return details
