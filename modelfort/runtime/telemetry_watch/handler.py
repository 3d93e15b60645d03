"""Telemetry watch: CloudWatch Logs subscription → detectors → evidence, alerts and metrics.

Delivery semantics. CloudWatch Logs invokes this function asynchronously; Lambda retries a failed invocation and
then hands it to the on-failure destination (a dead-letter queue). So the handler fails loudly whenever a batch could
not be fully accounted for — an unreadable payload, evidence not written, an alert not sent — and never swallows
it. A malformed *event* inside a readable batch is different: it is counted (metric and evidence record, with its log
event id) and the rest of the batch is processed, because retrying would not make it readable.

State. The stateful detectors (baselines, bursts, probing) need every event of a caller to reach the same process;
the function runs with a reserved concurrency of one, and the detector lives across warm invocations.

Outputs.
- Evidence: one JSON-lines object per batch in the evidence bucket (object lock), holding every finding and every
  malformed event's id: `s3://$EVIDENCE_BUCKET/$EVIDENCE_PREFIX/<yyyy>/<mm>/<dd>/<log stream>/<first id>-<last id>.jsonl`.
  The key is a function of the batch, so a retried batch lands on the same key (a new object version).
- Alerts: one SNS message per batch listing the findings at or above ALERT_MIN_SEVERITY (default HIGH).
- Metrics: one CloudWatch embedded-metric-format line on stdout per batch (namespace ModelFort/Telemetry).

Environment: EVIDENCE_BUCKET, EVIDENCE_PREFIX (default `findings`), ALERT_TOPIC_ARN, ALERT_MIN_SEVERITY,
DETECTOR_CONFIG (JSON, optional), ZONE.

IAM (least privilege, granted by the TelemetryWatch component): s3:PutObject on the evidence prefix, sns:Publish on
the alert topic, kms:GenerateDataKey and kms:Decrypt on their keys (via S3 and SNS only), and its own log group.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import json
import os
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.telemetry import TelemetryError

REQUIRED_IAM_ACTIONS = ("s3:PutObject", "sns:Publish")
REQUIRED_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
METRIC_NAMESPACE = "ModelFort/Telemetry"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's own limit for a synchronous payload; anything larger is not ours
MAX_ALERT_FINDINGS = 20


class PayloadError(Exception):
    """The subscription payload itself cannot be read: the batch must be retried, then dead-lettered."""


@dataclass
class BatchReport:
    log_group: str = ""
    log_stream: str = ""
    events: int = 0
    malformed: list[dict[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    evidence_key: str | None = None
    alerted: int = 0


def decode_subscription(event: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded CloudWatch Logs subscription payload (`awslogs.data`: base64 of gzip of JSON)."""
    try:
        data = event["awslogs"]["data"]
    except (KeyError, TypeError) as error:
        raise PayloadError("not a CloudWatch Logs subscription event (no awslogs.data)") from error
    if not isinstance(data, str) or len(data) > MAX_PAYLOAD_BYTES * 2:
        raise PayloadError("awslogs.data is not a string of a plausible size")
    try:
        compressed = base64.b64decode(data, validate=True)
        raw = gzip.decompress(compressed)
        payload = json.loads(raw)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as error:
        raise PayloadError(f"awslogs.data cannot be decoded ({type(error).__name__})") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("logEvents", []), list):
        raise PayloadError("the decoded payload has no logEvents list")
    return payload


def process_batch(payload: Mapping[str, Any], detector: Detector) -> BatchReport:
    report = BatchReport(log_group=str(payload.get("logGroup", "")), log_stream=str(payload.get("logStream", "")))
    for log_event in payload.get("logEvents", []):
        report.events += 1
        event_id = str(log_event.get("id", "")) if isinstance(log_event, dict) else ""
        message = log_event.get("message") if isinstance(log_event, dict) else None
        try:
            if not isinstance(message, str):
                raise TelemetryError("the log event has no message string")
            report.findings.extend(detector.process_line(message))
        except TelemetryError as error:
            report.malformed.append({"log_event_id": event_id, "error": str(error)[:300]})
    return report


def evidence_key(report: BatchReport, payload: Mapping[str, Any], prefix: str, now: dt.datetime) -> str:
    events = payload.get("logEvents") or [{}]
    first, last = str(events[0].get("id", "none")), str(events[-1].get("id", "none"))
    stream = "".join(c if c.isalnum() or c in "-_." else "_" for c in report.log_stream)[:200] or "unknown-stream"
    return f"{prefix.strip('/')}/{now:%Y/%m/%d}/{stream}/{first}-{last}.jsonl"


def evidence_body(report: BatchReport, zone: str) -> bytes:
    lines = [json.dumps({"record": "finding", "zone": zone, "log_group": report.log_group, **f.to_dict()}, ensure_ascii=True)
             for f in report.findings]
    lines += [json.dumps({"record": "malformed_event", "zone": zone, "log_group": report.log_group, **m}, ensure_ascii=True)
              for m in report.malformed]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def alert_message(findings: list[Finding], zone: str, evidence: str | None) -> dict[str, str]:
    worst = max(findings, key=lambda f: f.severity.rank)
    lines = [f"{f.severity.value} {f.rule} caller={f.caller} model={f.model}@{f.model_version} request={f.request_id}: {f.reason}"
             for f in findings[:MAX_ALERT_FINDINGS]]
    if len(findings) > MAX_ALERT_FINDINGS:
        lines.append(f"... and {len(findings) - MAX_ALERT_FINDINGS} more in the evidence object")
    subject = f"[ModelFort {zone}] {len(findings)} telemetry finding(s), e.g. {worst.rule}"[:100]
    return {"Subject": subject, "Message": "\n".join(lines) + (f"\nevidence: {evidence}" if evidence else "")}


def emf_record(report: BatchReport, zone: str, now: dt.datetime) -> dict[str, Any]:
    """CloudWatch embedded metric format: the log line is the metric, no PutMetricData permission needed."""
    by_detector = Counter(f.detector for f in report.findings)
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["Zone"]],
                "Metrics": [{"Name": name, "Unit": "Count"} for name in (
                    "EventsProcessed", "MalformedEvents", "Findings", "ExtractionFindings", "JailbreakFindings",
                    "ToolUseFindings", "RagPoisoningFindings", "HighSeverityFindings")],
            }],
        },
        "Zone": zone,
        "EventsProcessed": report.events,
        "MalformedEvents": len(report.malformed),
        "Findings": len(report.findings),
        "ExtractionFindings": by_detector.get("extraction", 0),
        "JailbreakFindings": by_detector.get("jailbreak", 0),
        "ToolUseFindings": by_detector.get("tool_use", 0),
        "RagPoisoningFindings": by_detector.get("rag_poisoning", 0),
        "HighSeverityFindings": sum(1 for f in report.findings if f.severity in (Severity.HIGH, Severity.CRITICAL)),
    }
    return record


@dataclass(frozen=True)
class Settings:
    evidence_bucket: str
    alert_topic_arn: str
    zone: str
    evidence_prefix: str = "findings"
    alert_min_severity: Severity = Severity.HIGH

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        missing = [name for name in ("EVIDENCE_BUCKET", "ALERT_TOPIC_ARN", "ZONE") if not environ.get(name)]
        if missing:
            raise ValueError(f"environment variable(s) {', '.join(missing)} must be set")
        severity = environ.get("ALERT_MIN_SEVERITY", "HIGH")
        try:
            parsed = Severity(severity.upper())
        except ValueError as error:
            raise ValueError(f"ALERT_MIN_SEVERITY: {severity!r} is not one of {', '.join(s.value for s in Severity)}") from error
        return cls(environ["EVIDENCE_BUCKET"], environ["ALERT_TOPIC_ARN"], environ["ZONE"],
                   environ.get("EVIDENCE_PREFIX", "findings"), parsed)


def handle(event: Mapping[str, Any], detector: Detector, settings: Settings, s3: Any, sns: Any,
           now: Callable[[], dt.datetime], emit: Callable[[str], None] = print) -> BatchReport:
    payload = decode_subscription(event)
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return BatchReport()  # CloudWatch's reachability probe carries no telemetry
    report = process_batch(payload, detector)
    return record_outcome(report, payload, settings, settings.evidence_prefix, s3, sns, now(), emit)


def record_outcome(report: BatchReport, payload: Mapping[str, Any], settings: Settings, evidence_prefix: str, s3: Any,
                   sns: Any, moment: dt.datetime, emit: Callable[[str], None]) -> BatchReport:
    """Keep a judged batch's findings as evidence, alert on-call on the urgent ones, and publish its metrics."""
    body = evidence_body(report, settings.zone)
    if body:
        key = evidence_key(report, payload, evidence_prefix, moment)
        # Raises on failure: the invocation fails, is retried, and is finally dead-lettered — never dropped.
        s3.put_object(Bucket=settings.evidence_bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        report.evidence_key = f"s3://{settings.evidence_bucket}/{key}"
    urgent = [f for f in report.findings if f.severity.rank >= settings.alert_min_severity.rank]
    if urgent:
        sns.publish(TopicArn=settings.alert_topic_arn, **alert_message(urgent, settings.zone, report.evidence_key))
        report.alerted = len(urgent)
    emit(json.dumps(emf_record(report, settings.zone, moment), separators=(",", ":")))
    return report


# ----------------------------------------------------------------------------------------------- Lambda entry point
_DETECTOR: Detector | None = None


def _detector(environ: Mapping[str, str]) -> Detector:
    global _DETECTOR
    if _DETECTOR is None:
        raw = environ.get("DETECTOR_CONFIG")
        config = DetectorConfig.from_mapping(json.loads(raw)) if raw else DetectorConfig()
        _DETECTOR = Detector(config)
    return _DETECTOR


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    settings = Settings.from_environment(os.environ)
    retries = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    report = handle(event, _detector(os.environ), settings, boto3.client("s3", config=retries),
                    boto3.client("sns", config=retries), lambda: dt.datetime.now(dt.timezone.utc))
    return {"events": report.events, "malformed": len(report.malformed), "findings": len(report.findings),
            "evidence": report.evidence_key, "alerted": report.alerted}
