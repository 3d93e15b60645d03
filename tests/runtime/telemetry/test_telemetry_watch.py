"""The telemetry-watch Lambda against moto: subscription payloads in, evidence objects, alerts and metrics out;
malformed events counted, unreadable batches and failed writes raised so nothing is silently dropped."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.telemetry_watch.handler import PayloadError, Settings, decode_subscription, handle

CORPUS = Path(__file__).resolve().parents[2] / "detectors" / "corpus"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
MALICIOUS = [line for line in (CORPUS / "malicious.jsonl").read_text().splitlines() if line.strip()]
BENIGN = [line for line in (CORPUS / "benign.jsonl").read_text().splitlines() if line.strip()]


def subscription(messages: list[str], message_type: str = "DATA_MESSAGE") -> dict:
    payload = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "/modelfort/production/inference-telemetry",
        "logStream": "serving/llama-guard/abc",
        "subscriptionFilters": ["telemetry-watch"],
        "logEvents": [{"id": f"3{index:055d}", "timestamp": 1764158400000 + index, "message": m} for index, m in enumerate(messages)],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="evidence")
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="on-call")["TopicArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield {"s3": s3, "sns": sns, "sqs": sqs, "queue": queue, "settings": Settings("evidence", topic, "production")}


def run(aws, event, detector=None, emitted=None):
    emitted = emitted if emitted is not None else []
    return handle(event, detector or Detector(), aws["settings"], aws["s3"], aws["sns"], lambda: NOW, emitted.append), emitted


def alerts(aws) -> list[dict]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.control("OB-05", "OB-06", "WP-07", "OB-03")
def test_findings_become_evidence_an_alert_and_metrics(aws):
    report, emitted = run(aws, subscription(MALICIOUS[:40] + BENIGN[:40]))
    assert report.events == 80 and report.findings and not report.malformed
    key = report.evidence_key.removeprefix("s3://evidence/")
    assert key.startswith("findings/2026/11/26/serving_llama-guard_abc/")
    records = [json.loads(line) for line in aws["s3"].get_object(Bucket="evidence", Key=key)["Body"].read().decode().splitlines()]
    assert len(records) == len(report.findings) and {r["record"] for r in records} == {"finding"}
    assert all(r["zone"] == "production" and r["controls"] for r in records)
    (alert,) = alerts(aws)
    assert alert["Subject"].startswith("[ModelFort production]") and "caller=" in alert["Message"]
    (metrics,) = [json.loads(line) for line in emitted]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ModelFort/Telemetry"
    assert metrics["EventsProcessed"] == 80 and metrics["Findings"] == len(report.findings)
    assert metrics["JailbreakFindings"] > 0


def test_a_quiet_batch_writes_nothing_and_alerts_no_one(aws):
    report, emitted = run(aws, subscription(BENIGN[:30]))
    assert report.findings == [] and report.evidence_key is None
    assert aws["s3"].list_objects_v2(Bucket="evidence").get("KeyCount") == 0
    assert alerts(aws) == []
    assert json.loads(emitted[0])["EventsProcessed"] == 30


@pytest.mark.control("OB-02")
def test_malformed_events_are_counted_and_recorded_without_dropping_the_batch(aws):
    messages = ["not json", json.dumps({"request_id": "x"}), "{" * 10_000, MALICIOUS[0], json.dumps({"caller": 5})]
    report, emitted = run(aws, subscription(messages))
    assert report.events == 5 and len(report.malformed) == 4 and report.findings
    body = aws["s3"].get_object(Bucket="evidence", Key=report.evidence_key.removeprefix("s3://evidence/"))["Body"].read().decode()
    kinds = [json.loads(line)["record"] for line in body.splitlines()]
    assert kinds.count("malformed_event") == 4
    assert json.loads(emitted[0])["MalformedEvents"] == 4


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"awslogs": {"data": "%%% not base64 %%%"}},
        {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b"not json")).decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b'{"logEvents": 5}')).decode()}},
    ],
)
def test_an_unreadable_payload_fails_the_invocation_so_it_is_retried_then_dead_lettered(aws, event):
    with pytest.raises(PayloadError):
        run(aws, event)


def test_control_messages_are_acknowledged(aws):
    report, emitted = run(aws, subscription(["CWL CONTROL MESSAGE: Checking health of destination"], "CONTROL_MESSAGE"))
    assert report.events == 0 and emitted == []


def test_a_failed_evidence_write_fails_the_invocation(aws):
    aws["s3"].delete_bucket(Bucket="evidence")
    with pytest.raises(Exception, match="NoSuchBucket"):
        run(aws, subscription(MALICIOUS[:5]))
    assert alerts(aws) == [], "no alert for findings that were not kept as evidence"


def burst(count: int) -> list[str]:
    """One caller, one event a second, four tool calls each: ten events are 40 calls in 10 s, past the
    30-per-minute burst threshold; either half alone (20 calls) is not."""
    template = next(event for event in map(json.loads, BENIGN) if event.get("tool_calls"))
    events = []
    for second in range(count):
        event = {**template, "request_id": f"burst-{second}", "caller": "svc:burst-agent",
                 "timestamp": f"2026-11-26T12:00:{second:02d}Z"}
        events.append(json.dumps(event))
    return events


@pytest.mark.control("OB-07")
def test_the_detector_keeps_a_callers_state_across_batches(aws):
    calls = burst(10)
    warm = Detector()
    first, _ = run(aws, subscription(calls[:5]), warm)
    assert "tool_use.burst" not in {f.rule for f in first.findings}
    second, _ = run(aws, subscription(calls[5:]), warm)
    assert "tool_use.burst" in {f.rule for f in second.findings}
    # The same second half seen by a detector that forgot the first half: no burst (the reason for concurrency 1).
    cold, _ = run(aws, subscription(calls[5:]), Detector())
    assert "tool_use.burst" not in {f.rule for f in cold.findings}


def test_a_retried_batch_lands_on_the_same_evidence_key(aws):
    event = subscription(MALICIOUS[:3])
    first, _ = run(aws, event)
    second, _ = run(aws, event)
    assert first.evidence_key == second.evidence_key


def test_settings_are_validated_naming_the_variable():
    with pytest.raises(ValueError, match="EVIDENCE_BUCKET"):
        Settings.from_environment({"ALERT_TOPIC_ARN": "arn", "ZONE": "production"})
    with pytest.raises(ValueError, match="ALERT_MIN_SEVERITY"):
        Settings.from_environment({"EVIDENCE_BUCKET": "b", "ALERT_TOPIC_ARN": "arn", "ZONE": "z", "ALERT_MIN_SEVERITY": "loud"})
    assert Settings.from_environment({"EVIDENCE_BUCKET": "b", "ALERT_TOPIC_ARN": "arn", "ZONE": "z", "ALERT_MIN_SEVERITY": "critical"}).alert_min_severity.value == "CRITICAL"


def test_decode_round_trips_a_real_shaped_payload():
    payload = decode_subscription(subscription(["{}"]))
    assert payload["logGroup"] == "/modelfort/production/inference-telemetry" and len(payload["logEvents"]) == 1
