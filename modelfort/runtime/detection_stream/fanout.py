"""Stage one: read the telemetry subscription, run the stateless detectors, re-key every valid event by caller.

Runs at any concurrency (no state: `Detector(stateless=True)`, detectors `STATELESS_DETECTORS`). For each
CloudWatch Logs batch: parse and validate every event once, judge it, write the findings as evidence and alert as
the telemetry watch does, and put every valid event on the Kinesis stream with the caller as partition key, so
stage two (`consumer.py`) sees each caller's events in order on one shard.

Delivery. The invocation fails (CloudWatch retries it, then the on-failure destination keeps it) when records
could not be put after `PUT_ATTEMPTS` tries: Kinesis accepts a batch partially and reports per record, so only the
records it refused are retried, with backoff. A retried invocation may put a record twice; the consumer drops the
duplicate by its event id. A malformed event is counted and kept as evidence (never forwarded: it is unreadable).

Environment: EVIDENCE_BUCKET, EVIDENCE_PREFIX, ALERT_TOPIC_ARN, ALERT_MIN_SEVERITY, ZONE (as the telemetry watch),
DETECTION_STREAM (the stream name), DETECTOR_CONFIG (JSON, optional).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.telemetry import TelemetryError, parse_event_json
from modelfort.runtime.telemetry_watch.handler import BatchReport, Settings, decode_subscription, record_outcome

STATELESS_DETECTORS = frozenset({"jailbreak", "rag_poisoning"})
MAX_RECORDS_PER_PUT = 500  # Kinesis PutRecords limit
MAX_BYTES_PER_PUT = 5 * 1024 * 1024
PUT_ATTEMPTS = 5
EVIDENCE_STAGE = "fanout"


class ForwardError(Exception):
    """Records Kinesis still refused after every attempt: the invocation must fail and be retried."""


def stateless_detector(config: DetectorConfig, *, reference: bool = False) -> Detector:
    """The stage's detector; `reference` runs the original, unoptimised path (identical findings, for comparison)."""
    return Detector(dataclasses.replace(config, enabled=config.enabled & STATELESS_DETECTORS), stateless=True,
                    reference=reference)


@dataclass(frozen=True, slots=True)
class StreamRecord:
    caller: str
    data: bytes


def judge(payload: Mapping[str, Any], detector: Detector) -> tuple[BatchReport, list[StreamRecord]]:
    """Findings of the stateless detectors and the records to forward (every valid event, in log order)."""
    report = BatchReport(log_group=str(payload.get("logGroup", "")), log_stream=str(payload.get("logStream", "")))
    records: list[StreamRecord] = []
    add_record = records.append
    add_findings = report.findings.extend
    process = detector.process
    reference = detector.reference
    for log_event in payload.get("logEvents", []):
        report.events += 1
        message = log_event.get("message") if type(log_event) is dict or isinstance(log_event, dict) else None
        try:
            if type(message) is not str and not isinstance(message, str):
                raise TelemetryError("<root>", "the log event has no message string")
            event = parse_event_json(message, reference=reference)
        except TelemetryError as error:
            event_id = str(log_event.get("id", "")) if isinstance(log_event, dict) else ""
            report.malformed.append({"log_event_id": event_id, "error": str(error)[:300]})
            detector.stats.malformed += 1
            continue
        add_findings(process(event))
        # The validated message as logged: the consumer parses it again (cheap next to the detectors) rather than
        # trusting a re-serialisation, and evidence quotes what the serving layer wrote.
        add_record(StreamRecord(event.caller, message.encode()))
    return report, records


def chunks(records: list[StreamRecord]) -> list[list[StreamRecord]]:
    """PutRecords batches within Kinesis's count and size limits (partition key bytes count towards the size)."""
    out: list[list[StreamRecord]] = []
    current: list[StreamRecord] = []
    size = 0
    for record in records:
        record_size = len(record.data) + len(record.caller.encode())
        if current and (len(current) >= MAX_RECORDS_PER_PUT or size + record_size > MAX_BYTES_PER_PUT):
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += record_size
    if current:
        out.append(current)
    return out


def forward(records: list[StreamRecord], stream: str, kinesis: Any, sleep: Callable[[float], None] = time.sleep) -> int:
    """Put every record; retries only those Kinesis refused, raises `ForwardError` if some are still refused."""
    for batch in chunks(records):
        pending = batch
        for attempt in range(PUT_ATTEMPTS):
            response = kinesis.put_records(StreamName=stream, Records=[
                {"Data": r.data, "PartitionKey": r.caller} for r in pending])
            if not response.get("FailedRecordCount"):
                break
            pending = [r for r, result in zip(pending, response["Records"]) if result.get("ErrorCode")]
            sleep(min(2.0, 0.05 * 2 ** attempt))  # throughput exceeded: back off before the next try
        else:
            raise ForwardError(f"{len(pending)} record(s) refused by stream {stream} after {PUT_ATTEMPTS} attempts")
    return len(records)


def handle(event: Mapping[str, Any], detector: Detector, settings: Settings, stream: str, s3: Any, sns: Any,
           kinesis: Any, now: Callable[[], dt.datetime], emit: Callable[[str], None] = print) -> BatchReport:
    payload = decode_subscription(event)
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return BatchReport()
    report, records = judge(payload, detector)
    # Forward first: if the stream refuses, nothing below ran and the retry repeats the whole batch.
    forward(records, stream, kinesis)
    return record_outcome(report, payload, settings, f"{settings.evidence_prefix}/{EVIDENCE_STAGE}", s3, sns, now(), emit)


_DETECTOR: Detector | None = None


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    global _DETECTOR
    if _DETECTOR is None:
        raw = os.environ.get("DETECTOR_CONFIG")
        _DETECTOR = stateless_detector(DetectorConfig.from_mapping(json.loads(raw)) if raw else DetectorConfig())
    stream = os.environ.get("DETECTION_STREAM")
    if not stream:
        raise ValueError("environment variable DETECTION_STREAM must be set")
    retries = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    report = handle(event, _DETECTOR, Settings.from_environment(os.environ), stream,
                    boto3.client("s3", config=retries), boto3.client("sns", config=retries),
                    boto3.client("kinesis", config=retries), lambda: dt.datetime.now(dt.timezone.utc))
    return {"events": report.events, "malformed": len(report.malformed), "findings": len(report.findings),
            "evidence": report.evidence_key, "alerted": report.alerted}
