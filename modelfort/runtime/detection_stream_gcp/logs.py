"""Evidence, alerts and counts as Cloud Logging structured log lines (the GCP counterpart of S3 objects, SNS
messages and embedded metrics in `telemetry_watch.handler`).

A Cloud Run function's stdout line that is a JSON object becomes a log entry whose `jsonPayload` is the object;
`severity`, `message`, `time`, `logging.googleapis.com/insertId` and `logging.googleapis.com/labels` are taken as
the entry's own fields. So every line here is one self-describing entry:

- `record: "finding"`, one per finding, severity from the finding (LOW→NOTICE, MEDIUM→WARNING, HIGH→ERROR,
  CRITICAL→CRITICAL); `finding_id` (and the entry's `insertId`) is a digest of stage, event id and rule, and the
  entry time is the event's, so a finding written again after a redelivery is the same entry twice, which Cloud
  Logging removes as a duplicate from query results;
- `record: "malformed_event"`, one per unreadable telemetry entry (its log entry id, the error);
- `record: "alert"`, one per handled message that has findings at or above ALERT_MIN_SEVERITY, severity ALERT,
  with the subject and body `telemetry_watch.handler.alert_message` builds for SNS on AWS. The TelemetryWatch
  component counts these with a log-based metric and pages on it;
- `record: "counts"`, one per handled message (what EMF publishes on AWS), severity INFO.

What this is not: a store with object lock. Durability and immutability come from the log bucket the component's
sink routes `finding` and `malformed_event` lines to (the zone's evidence log bucket, locked retention); lines
are in the project's `_Default` bucket too, for the usual 30 days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.telemetry_watch.handler import alert_message

SEVERITIES = {Severity.LOW: "NOTICE", Severity.MEDIUM: "WARNING", Severity.HIGH: "ERROR", Severity.CRITICAL: "CRITICAL"}
ZONE_LABEL = "modelfort-zone"

Emit = Callable[[str], None]


def finding_id(stage: str, finding: Finding) -> str:
    return hashlib.sha256(f"{stage}\0{finding.request_id}\0{finding.rule}".encode()).hexdigest()[:32]


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"))


def finding_line(stage: str, zone: str, finding: Finding) -> str:
    identifier = finding_id(stage, finding)
    return _line({
        "severity": SEVERITIES[finding.severity],
        "message": f"{finding.severity.value} {finding.rule} caller={finding.caller} request={finding.request_id}",
        "time": finding.timestamp,
        "logging.googleapis.com/insertId": identifier,
        "logging.googleapis.com/labels": {ZONE_LABEL: zone},
        "record": "finding", "stage": stage, "zone": zone, "finding_id": identifier, "finding": finding.to_dict(),
    })


def malformed_line(stage: str, zone: str, entry_id: str, error: str) -> str:
    return _line({"severity": "WARNING", "message": f"malformed telemetry entry {entry_id}",
                  "logging.googleapis.com/labels": {ZONE_LABEL: zone},
                  "record": "malformed_event", "stage": stage, "zone": zone, "log_entry_id": entry_id,
                  "error": error[:300]})


def alert_line(stage: str, zone: str, urgent: list[Finding]) -> str:
    message = alert_message(urgent, zone, None)
    return _line({"severity": "ALERT", "message": message["Subject"], "logging.googleapis.com/labels": {ZONE_LABEL: zone},
                  "record": "alert", "stage": stage, "zone": zone, "body": message["Message"],
                  "finding_ids": [finding_id(stage, f) for f in urgent]})


def counts_line(stage: str, zone: str, moment: dt.datetime, **counts: int) -> str:
    return _line({"severity": "INFO", "message": f"{stage} handled a message",
                  "time": moment.isoformat().replace("+00:00", "Z"),
                  "logging.googleapis.com/labels": {ZONE_LABEL: zone}, "record": "counts", "stage": stage,
                  "zone": zone, **counts})


def write_findings(stage: str, zone: str, findings: Iterable[Finding], min_severity: Severity, emit: Emit) -> int:
    """Log every finding, then one alert line for the urgent ones; returns how many were urgent."""
    findings = list(findings)
    for finding in findings:
        emit(finding_line(stage, zone, finding))
    urgent = [f for f in findings if f.severity.rank >= min_severity.rank]
    if urgent:
        emit(alert_line(stage, zone, urgent))
    return len(urgent)
