"""The two push handlers, as functions of the decoded request and their clients (the entry module wires them).

Stage one (`handle_telemetry`), a push from the `telemetry` subscription: one Cloud Logging entry of the guard's
telemetry. The entry is judged by the stateless detectors with the AWS fan-out's own code (`fanout.judge`), every
valid event is published to `caller-events` as one message per caller with `orderingKey` = caller, and only then
are the findings logged (`logs.py`): a refused publish fails the request before anything is written, so the
redelivery repeats the whole entry, as the AWS fan-out does.

Stage two (`handle_caller_events`), a push from the ordered `caller-events` subscription: one caller's events.
Its state is loaded from the state bucket, the events whose ids were processed already are skipped, the rest are
judged by the stateful detectors in order, their findings logged, then state and ids committed over the generation
read. See the package docstring for the delivery semantics.

Both answer an HTTP status: 204 when the message is done (acknowledged), 409 when the state commit lost a race,
503 when a dependency failed (Pub/Sub, Cloud Storage), 400 when the message is unreadable. Pub/Sub redelivers every
non-2xx answer with the subscription's exponential backoff and dead-letters it after the maximum delivery attempts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelfort.runtime.detection_stream.consumer import StateConflict, stateful_detector
from modelfort.runtime.detection_stream.fanout import judge, stateless_detector
from modelfort.runtime.detection_stream_gcp import logs
from modelfort.runtime.detection_stream_gcp.pubsub import OutgoingMessage, PublishError, Publisher, PushError, decode_push
from modelfort.runtime.detection_stream_gcp.state_store import Loaded, StateBucket
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.telemetry import TelemetryError, TelemetryEvent, parse_event_json

STAGE_ONE = "fanout"
STAGE_TWO = "stream"
MAX_EVENTS_PER_MESSAGE = 1000
OK, BAD_REQUEST, CONFLICT, UNAVAILABLE = 204, 400, 409, 503

__all__ = ["stateful_detector", "stateless_detector"]  # re-exported for the entry module


@dataclass(frozen=True)
class GcpSettings:
    zone: str
    alert_min_severity: Severity = Severity.HIGH

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> GcpSettings:
        if not environ.get("ZONE"):
            raise ValueError("environment variable ZONE must be set")
        raw = environ.get("ALERT_MIN_SEVERITY", "HIGH")
        try:
            severity = Severity(raw.upper())
        except ValueError as error:
            raise ValueError(f"ALERT_MIN_SEVERITY: {raw!r} is not one of {', '.join(s.value for s in Severity)}") from error
        return cls(environ["ZONE"], severity)


@dataclass
class StageReport:
    status: int = OK
    events: int = 0
    malformed: int = 0
    published: int = 0
    duplicates: int = 0
    processed: int = 0
    state_reset: bool = False
    findings: list[Finding] = field(default_factory=list)
    alerted: int = 0
    error: str = ""


# ---------------------------------------------------------------------------------------------------- stage one
def telemetry_line(entry: Mapping[str, Any]) -> str:
    """The guard's telemetry line from a Cloud Logging entry: a JSON stdout line arrives as `jsonPayload`, anything
    else as `textPayload` (then it is parsed as it was written, and refused if it is not telemetry)."""
    payload = entry.get("jsonPayload")
    if isinstance(payload, Mapping):
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = entry.get("textPayload")
    if isinstance(text, str):
        return text
    raise TelemetryError("<root>", "the log entry has neither jsonPayload nor textPayload")


def caller_messages(records: list[Any], source: str) -> list[OutgoingMessage]:
    """One message per caller, its events in log order; the ordering key is the caller."""
    by_caller: dict[str, list[str]] = {}
    for record in records:
        by_caller.setdefault(record.caller, []).append(record.data.decode())
    return [OutgoingMessage(json.dumps({"caller": caller, "events": events}, separators=(",", ":")).encode(), caller,
                            {"source_entry": source[:200]})
            for caller, events in by_caller.items()]


def handle_telemetry(body: Any, detector: Detector, settings: GcpSettings, publisher: Publisher,
                     now: Callable[[], dt.datetime], emit: logs.Emit = print) -> StageReport:
    report = StageReport()
    try:
        message = decode_push(body)
        entry = json.loads(message.data)
        if not isinstance(entry, Mapping):
            raise PushError("the message is not a log entry")
    except (PushError, ValueError, UnicodeDecodeError) as error:
        report.status, report.error = BAD_REQUEST, str(error)[:300]
        emit(json.dumps({"severity": "ERROR", "message": "unreadable push message", "error": report.error}))
        return report
    # One push request carries one log entry; it is judged as a one-event batch of the AWS fan-out's shape.
    entry_id = str(entry.get("insertId") or message.message_id)
    try:
        line: str | None = telemetry_line(entry)
    except TelemetryError:
        line = None  # counted as malformed by `judge` ("no message string")
    judged, records = judge({"logGroup": str(entry.get("logName", "")), "logEvents": [{"id": entry_id, "message": line}]},
                            detector)
    report.events, report.malformed, report.findings = judged.events, len(judged.malformed), judged.findings
    try:
        # Publish first: if Pub/Sub refuses, nothing below ran and the redelivery repeats the whole entry.
        report.published = len(publisher.publish(caller_messages(records, message.message_id)))
    except (PublishError, OSError) as error:
        report.status, report.error = UNAVAILABLE, str(error)[:300]
        emit(json.dumps({"severity": "ERROR", "message": "publish to caller-events failed", "error": report.error}))
        return report
    for malformed in judged.malformed:
        emit(logs.malformed_line(STAGE_ONE, settings.zone, malformed["log_event_id"], malformed["error"]))
    report.alerted = logs.write_findings(STAGE_ONE, settings.zone, report.findings, settings.alert_min_severity, emit)
    emit(logs.counts_line(STAGE_ONE, settings.zone, now(), events=report.events, malformed=report.malformed,
                          published=report.published, findings=len(report.findings)))
    return report


# ---------------------------------------------------------------------------------------------------- stage two
def caller_events(message_data: bytes, ordering_key: str, report: StageReport) -> tuple[str, list[TelemetryEvent]]:
    """The caller and its events. An event of another caller than the message's is dropped as malformed: it would
    be judged against the wrong state and arrive outside its own caller's order."""
    try:
        document = json.loads(message_data)
        caller, lines = document["caller"], document["events"]
        if not isinstance(caller, str) or not caller or not isinstance(lines, list) or len(lines) > MAX_EVENTS_PER_MESSAGE:
            raise ValueError("caller or events of the wrong shape")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise PushError(f"not a caller-events message ({type(error).__name__})") from error
    if ordering_key and ordering_key != caller:
        raise PushError("the ordering key is not the message's caller")
    events: list[TelemetryEvent] = []
    for line in lines:
        report.events += 1
        try:
            event = parse_event_json(line if isinstance(line, str) else "")
        except TelemetryError:
            report.malformed += 1
            continue
        if event.caller != caller:
            report.malformed += 1
            continue
        events.append(event)
    return caller, events


def judge_caller(events: list[TelemetryEvent], loaded: Loaded, detector: Detector,
                 report: StageReport) -> tuple[list[str], float]:
    """Judge the events not processed yet, in order, updating the loaded state in place; returns the ids to store
    and the last event's time (0.0: nothing new, nothing to commit)."""
    state, _, ids, reset = loaded
    report.state_reset = reset
    seen = set(ids)
    last_event = 0.0
    for event in events:
        if event.request_id in seen:
            report.duplicates += 1
            continue
        report.findings.extend(detector.process_with_state(event, state))
        seen.add(event.request_id)
        ids.append(event.request_id)
        last_event = max(last_event, event.epoch)
        report.processed += 1
    return ids, last_event


def handle_caller_events(body: Any, detector: Detector, store: StateBucket, settings: GcpSettings,
                         now: Callable[[], dt.datetime], emit: logs.Emit = print) -> StageReport:
    report = StageReport()
    try:
        message = decode_push(body)
        caller, events = caller_events(message.data, message.ordering_key, report)
    except PushError as error:
        report.status, report.error = BAD_REQUEST, str(error)[:300]
        emit(json.dumps({"severity": "ERROR", "message": "unreadable caller-events message", "error": report.error}))
        return report
    try:
        loaded = store.load(caller)
        ids, last_event = judge_caller(events, loaded, detector, report)
        # Findings before the commit: a crash between the two loses no finding, and the redelivery that follows
        # logs the same entries again (same finding_id, insertId and time).
        report.alerted = logs.write_findings(STAGE_TWO, settings.zone, report.findings, settings.alert_min_severity,
                                             emit)
        if last_event:
            store.commit(caller, loaded[0], loaded[1], ids, last_event)
    except StateConflict:
        report.status, report.error = CONFLICT, "another writer committed this caller's state first"
    except Exception as error:  # noqa: BLE001 - any dependency failure: Pub/Sub redelivers, then dead-letters
        report.status, report.error = UNAVAILABLE, type(error).__name__
    caller_digest = hashlib.sha256(caller.encode()).hexdigest()[:16]
    if report.status != OK:
        emit(json.dumps({"severity": "WARNING" if report.status == CONFLICT else "ERROR",
                         "message": "caller events not committed; Pub/Sub will redeliver", "status": report.status,
                         "error": report.error, "caller_sha256": caller_digest}))
    emit(logs.counts_line(STAGE_TWO, settings.zone, now(), status=report.status, events=report.events,
                          malformed=report.malformed, duplicates=report.duplicates, processed=report.processed,
                          state_reset=int(report.state_reset), findings=len(report.findings)))
    return report

