"""TelemetryWatch under mocks, as the production stack wires it to the evidence store and on-call topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.lambda_package import LambdaPackageError, package_runtime_bundle
from components.aws.telemetry_watch import TelemetryWatchArgs
from modelfort.runtime.detection_stream.consumer import PROCESSED_IDS
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "production"))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


W = "production-telemetry-watch"


def statements(production, policy: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(production[f"{W}-{policy}"]["properties"]["policy"])["Statement"]}


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08", "WP-04", "WP-07")
def test_every_telemetry_event_reaches_the_fan_out_which_scales_with_traffic(production):
    subscription = production[f"{W}-subscription"]["properties"]
    assert subscription["logGroup"] == "/modelfort/production/inference-telemetry"
    assert subscription["filterPattern"] == ""
    fanout = production[f"{W}-fanout"]["properties"]
    assert fanout["handler"] == "modelfort.runtime.detection_stream.fanout.lambda_handler"
    # Stateless: no reserved concurrency of one, the old design's throughput cap.
    assert "reservedConcurrentExecutions" not in fanout
    assert fanout["environment"]["variables"]["DETECTION_STREAM"]
    assert fanout["vpcConfig"]["subnetIds"] and fanout["vpcConfig"]["securityGroupIds"]
    permission = production[f"{W}-invoke"]["properties"]
    assert permission["principal"] == "logs.us-east-1.amazonaws.com" and permission["sourceArn"].endswith(":*")


@pytest.mark.control("OB-05", "OB-07", "WP-04")
def test_the_per_caller_detectors_consume_the_stream_in_order_with_durable_state(production):
    mapping = production[f"{W}-consumer-source"]["properties"]
    assert mapping["eventSourceArn"].startswith("arn:aws:kinesis:")
    assert mapping["parallelizationFactor"] == 10 and mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["bisectBatchOnFunctionError"] is True
    assert mapping["batchSize"] <= PROCESSED_IDS  # a retried batch is always within the ids each caller remembers
    assert mapping["destinationConfig"]["onFailure"]["destinationArn"].startswith("arn:aws:sqs:")
    consumer = production[f"{W}-consumer"]["properties"]
    assert consumer["handler"] == "modelfort.runtime.detection_stream.consumer.lambda_handler"
    assert consumer["environment"]["variables"]["STATE_TABLE"]
    table = production[f"{W}-state"]["properties"]
    assert table["hashKey"] == "caller" and table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table["pointInTimeRecovery"]["enabled"] is True and table["deletionProtectionEnabled"] is True


@pytest.mark.control("OB-03", "OB-01")
def test_stream_state_and_dead_letters_are_encrypted_with_the_watchs_key(production):
    stream = production[f"{W}-stream"]["properties"]
    table = production[f"{W}-state"]["properties"]
    queue = production[f"{W}-dead-letters"]["properties"]
    assert stream["encryptionType"] == "KMS" and stream["kmsKeyId"]
    assert stream["retentionPeriod"] == 168 and stream["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert table["serverSideEncryption"]["enabled"] is True and table["serverSideEncryption"]["kmsKeyArn"]
    assert stream["kmsKeyId"] == table["serverSideEncryption"]["kmsKeyArn"] == queue["kmsMasterKeyId"]


@pytest.mark.control("OB-03")
def test_no_batch_is_silently_dropped_and_a_lagging_consumer_is_reported(production):
    retries = production[f"{W}-fanout-retries"]["properties"]
    assert retries["maximumRetryAttempts"] == 2
    assert retries["destinationConfig"]["onFailure"]["destination"].startswith("arn:aws:sqs:")
    alarms = {name: r["properties"] for name, r in production.items() if name.startswith(f"{W}-") and r["type"].endswith("MetricAlarm")}
    assert {f"{W}-fanout-errors", f"{W}-consumer-errors", f"{W}-dead-letters-alarm", f"{W}-iterator-age",
            f"{W}-high-findings", f"{W}-malformed"} <= set(alarms)
    assert alarms[f"{W}-iterator-age"]["metricName"] == "IteratorAge"
    assert all(alarm["alarmActions"] for alarm in alarms.values())


@pytest.mark.control("OB-03", "WP-02")
def test_each_stage_can_do_its_work_and_nothing_else(production):
    fanout, consumer = statements(production, "fanout-access"), statements(production, "consumer-access")
    assert fanout["WriteFindingsOnly"]["Resource"].endswith("/findings/fanout/*")
    assert consumer["WriteFindingsOnly"]["Resource"].endswith("/findings/stream/*")
    assert set(fanout["ForwardToTheStream"]["Action"]) == {"kinesis:PutRecords", "kinesis:PutRecord"}
    assert "ReadTheStream" not in fanout and "CallerState" not in fanout
    assert "ForwardToTheStream" not in consumer
    assert set(consumer["CallerState"]["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"}
    for policy in (fanout, consumer):
        actions = {a for s in policy.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not {a for a in actions if a.endswith("*") or a.startswith(("s3:Get", "s3:Delete", "iam:", "dynamodb:Delete", "dynamodb:Scan"))}
        assert all(s["Condition"]["StringEquals"]["kms:ViaService"] for s in policy.values() if s["Action"][0].startswith("kms:"))


def test_the_bundle_ships_the_detectors_and_nothing_of_the_gate():
    package = package_runtime_bundle("detection_stream", ("detectors", "telemetry", "telemetry_watch"), handler="fanout")
    assert "modelfort/runtime/telemetry.py" in package.files
    assert "modelfort/runtime/detection_stream/consumer.py" in package.files
    assert any(f.startswith("modelfort/runtime/detectors/") for f in package.files)
    assert not any(f.startswith(("modelfort/gate", "components", "modelfort/runtime/weights")) for f in package.files)
    with pytest.raises(LambdaPackageError, match="does not ship"):
        package_runtime_bundle("detection_stream", ("telemetry",), handler="fanout")  # the stages import the detectors


def test_a_detector_config_the_function_would_refuse_is_refused_at_construction():
    base = dict(zone="production", region="us-east-1", telemetry_log_group_name="g", telemetry_log_group_arn="a",
                evidence_bucket_name="b", evidence_bucket_arn="ba", evidence_kms_key_arn="k", alert_topic_arn="t",
                alert_kms_key_arn="tk", subnet_ids=["s"], security_group_ids=["sg"], log_retention_days=365)
    with pytest.raises(ValueError, match="TelemetryWatchArgs.detector_config"):
        TelemetryWatchArgs(**base, detector_config={"no_such_setting": 1})
    with pytest.raises(ValueError, match="log_retention_days"):
        TelemetryWatchArgs(**{**base, "log_retention_days": 42})
    for key, bad in (("batch_size", PROCESSED_IDS + 1), ("parallelization_factor", 11), ("shard_count", 0),
                     ("stream_retention_hours", 12), ("parallelization_factor", True)):
        with pytest.raises(ValueError, match=f"TelemetryWatchArgs.{key}: .* use an integer from"):
            TelemetryWatchArgs(**{**base, key: bad})


@pytest.mark.control("OB-05", "OB-06", "OB-07")
def test_the_on_call_topic_pages_the_people_the_stack_names(production):
    subscriptions = [r["properties"] for r in production.values() if r["type"] == "aws:sns/topicSubscription:TopicSubscription"]
    assert {(s["protocol"], s["endpoint"]) for s in subscriptions} >= {
        ("email", "secops-oncall@example.com"),
        ("https", "https://events.pagerduty.example.com/integration/modelfort-production/enqueue"),
    }
