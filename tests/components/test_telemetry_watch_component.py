"""TelemetryWatch under mocks, as the production stack wires it to the evidence store and on-call topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.lambda_package import LambdaPackageError, package_runtime_bundle
from components.aws.telemetry_watch import TelemetryWatchArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "production"))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08", "WP-04", "WP-07")
def test_every_telemetry_event_reaches_the_detectors(production):
    subscription = production["production-telemetry-watch-subscription"]["properties"]
    assert subscription["logGroup"] == "/modelfort/production/inference-telemetry"
    assert subscription["filterPattern"] == ""
    function = production["production-telemetry-watch-function"]["properties"]
    assert subscription["destinationArn"].endswith(":function:" + production["production-telemetry-watch-function"]["id"]) or subscription["destinationArn"]
    assert function["handler"] == "modelfort.runtime.telemetry_watch.handler.lambda_handler"
    assert function["reservedConcurrentExecutions"] == 1
    assert function["vpcConfig"]["subnetIds"] and function["vpcConfig"]["securityGroupIds"]
    permission = production["production-telemetry-watch-invoke"]["properties"]
    assert permission["principal"] == "logs.us-east-1.amazonaws.com" and permission["sourceArn"].endswith(":*")


@pytest.mark.control("OB-03")
def test_no_batch_is_silently_dropped(production):
    retries = production["production-telemetry-watch-retries"]["properties"]
    assert retries["maximumRetryAttempts"] == 2
    queue_arn = retries["destinationConfig"]["onFailure"]["destination"]
    assert queue_arn.startswith("arn:aws:sqs:")
    assert production["production-telemetry-watch-dead-letters"]["properties"]["kmsMasterKeyId"]
    alarms = {name: r["properties"] for name, r in production.items() if name.startswith("production-telemetry-watch-") and r["type"].endswith("MetricAlarm")}
    assert {"production-telemetry-watch-errors", "production-telemetry-watch-dead-letters-alarm",
            "production-telemetry-watch-high-findings", "production-telemetry-watch-malformed"} <= set(alarms)
    assert all(alarm["alarmActions"] for alarm in alarms.values())


@pytest.mark.control("OB-03", "WP-02")
def test_the_role_can_write_findings_and_alert_and_nothing_else(production):
    statements = {s["Sid"]: s for s in json.loads(production["production-telemetry-watch-access"]["properties"]["policy"])["Statement"]}
    assert statements["WriteFindingsOnly"]["Action"] == "s3:PutObject" and statements["WriteFindingsOnly"]["Resource"].endswith("/findings/*")
    assert statements["AlertOnCall"]["Action"] == "sns:Publish"
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.endswith("*") or a.startswith(("s3:Get", "s3:Delete", "iam:"))}


def test_the_bundle_ships_the_detectors_and_nothing_of_the_gate():
    package = package_runtime_bundle("telemetry_watch", ("detectors", "telemetry"))
    assert "modelfort/runtime/telemetry.py" in package.files
    assert any(f.startswith("modelfort/runtime/detectors/") for f in package.files)
    assert not any(f.startswith(("modelfort/gate", "components", "modelfort/runtime/weights")) for f in package.files)
    with pytest.raises(LambdaPackageError, match="does not ship"):
        package_runtime_bundle("telemetry_watch", ("telemetry",))  # the handler imports the detectors


def test_a_detector_config_the_function_would_refuse_is_refused_at_construction():
    base = dict(zone="production", region="us-east-1", telemetry_log_group_name="g", telemetry_log_group_arn="a",
                evidence_bucket_name="b", evidence_bucket_arn="ba", evidence_kms_key_arn="k", alert_topic_arn="t",
                alert_kms_key_arn="tk", subnet_ids=["s"], security_group_ids=["sg"], log_retention_days=365)
    with pytest.raises(ValueError, match="TelemetryWatchArgs.detector_config"):
        TelemetryWatchArgs(**base, detector_config={"no_such_setting": 1})
    with pytest.raises(ValueError, match="log_retention_days"):
        TelemetryWatchArgs(**{**base, "log_retention_days": 42})


@pytest.mark.control("OB-05", "OB-06", "OB-07")
def test_the_on_call_topic_pages_the_people_the_stack_names(production):
    subscriptions = [r["properties"] for r in production.values() if r["type"] == "aws:sns/topicSubscription:TopicSubscription"]
    assert {(s["protocol"], s["endpoint"]) for s in subscriptions} >= {
        ("email", "secops-oncall@example.com"),
        ("https", "https://events.pagerduty.example.com/integration/modelfort-production/enqueue"),
    }
