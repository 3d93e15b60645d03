"""SecurityAlerts under mocks, and its metric filters checked against the schemas they read.

A filter that names a field the telemetry or the detectors do not write never matches: the alarm stays quiet
forever. So every JSON path in every pattern is resolved against the published telemetry schema and the finding
format, and every detector name and severity against the detectors' own definitions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.aws.alerts import ALERTS, FINDINGS, TELEMETRY, AlertSubscription
from components.aws.evidence_store import findings_log_group_name, telemetry_log_group_name
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project
from modelfort.runtime.detectors.config import DETECTOR_NAMES
from modelfort.runtime.detectors.findings import Finding, Severity

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "observability-mutant"
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "modelfort" / "runtime" / "telemetry_event.schema.json").read_text())
FINDING_FIELDS = set(Finding("d", "r", (), Severity.LOW, "c", "m", "v", "sha256:0", "id", "t", "why", "e").to_dict())
_PATH = re.compile(r"\$\.([A-Za-z0-9_.\[\]]+)")


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "observability-mutant:mutation": "none"})
    result = run_program_under_mocks(project, stack)
    assert result["error"] is None, result["error"]
    return result["resources"]


def of_type(resources: list[dict], kind: str, parent_name: str = "prod-alerts") -> list[dict]:
    return [r for r in resources if r["type"] == kind and r["name"].startswith(f"{parent_name}-")]


def _telemetry_field_exists(path: str) -> bool:
    node = SCHEMA
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node.get("properties", {}).get(name)
        if node is None:
            return False
        if "$ref" in node:
            node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        if index:
            if node.get("type") != "array":
                return False
            if int(index.rstrip("]")) >= node.get("maxItems", 0):
                return False  # an index the schema never allows would never match
            node = node["items"]
    return True


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
def test_every_alert_control_is_covered():
    covered = {control for alert in ALERTS for control in alert.controls}
    assert {"OB-05", "OB-06", "OB-07", "OB-08"} <= covered


@pytest.mark.control("OB-02")
@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_every_pattern_reads_fields_the_schema_defines(alert):
    paths = _PATH.findall(alert.pattern)
    assert paths, f"{alert.name}: not a JSON filter pattern"
    assert alert.pattern.startswith("{ ") and alert.pattern.endswith(" }")
    for path in paths:
        if alert.source == TELEMETRY:
            assert _telemetry_field_exists(path), f"{alert.name}: {path} is not in the telemetry schema"
        else:
            assert path in FINDING_FIELDS, f"{alert.name}: {path} is not a finding field"
    for value in re.findall(r'\$\.detector = "([a-z_]+)"', alert.pattern):
        assert value in DETECTOR_NAMES
    for value in re.findall(r'\$\.severity = "([A-Z]+)"', alert.pattern):
        assert value in {s.value for s in Severity}
    for value in re.findall(r'\$\.guardrail\.action = "([A-Z]+)"', alert.pattern):
        assert value in SCHEMA["properties"]["guardrail"]["properties"]["action"]["enum"]
    category = re.compile(SCHEMA["properties"]["guardrail"]["properties"]["categories"]["items"]["pattern"])
    for value in re.findall(r'\$\.guardrail\.categories\[\d+\] = "([^"]+)"', alert.pattern):
        assert category.match(value), f"{value} can never appear in guardrail.categories"
    # CloudWatch Logs refuses filter patterns over 1024 characters.
    assert len(alert.pattern) <= 1024


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
def test_each_alert_is_a_metric_filter_on_its_source_and_an_alarm_that_pages_on_call(resources):
    topics = of_type(resources, "aws:sns/topic:Topic")
    assert len(topics) == 1
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{topics[0]['properties']['name']}"
    filters = {r["name"]: r["properties"] for r in of_type(resources, "aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    alarms = {r["name"]: r["properties"] for r in of_type(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    groups = {TELEMETRY: telemetry_log_group_name("production"), FINDINGS: findings_log_group_name("production")}
    for alert in ALERTS:
        metric_filter = filters[f"prod-alerts-{alert.name}-filter"]
        assert metric_filter["logGroupName"] == groups[alert.source]
        assert metric_filter["pattern"] == alert.pattern
        assert metric_filter["metricTransformation"] == {"name": alert.metric, "namespace": "ModelFort/production", "value": "1"}
        alarm = alarms[f"prod-alerts-{alert.name}"]
        assert (alarm["namespace"], alarm["metricName"], alarm["threshold"]) == ("ModelFort/production", alert.metric, alert.threshold)
        assert alarm["alarmActions"] == [topic_arn] and alarm["okActions"] == [topic_arn]
        assert alarm["treatMissingData"] == "notBreaching"
    assert len(alarms) == len(ALERTS)


@pytest.mark.control("OB-05")
def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_only_this_accounts_alarms_publish(resources):
    topic = of_type(resources, "aws:sns/topic:Topic")[0]["properties"]
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:")
    key = {s["Sid"]: s for s in json.loads(of_type(resources, "aws:kms/key:Key")[0]["properties"]["policy"])["Statement"]}
    assert key["CloudWatchAlarmsPublishEncrypted"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(key["CloudWatchAlarmsPublishEncrypted"]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    policy = {s["Sid"]: s for s in json.loads(of_type(resources, "aws:sns/topicPolicy:TopicPolicy")[0]["properties"]["policy"])["Statement"]}
    publish = policy["CloudWatchAlarmsOfThisAccountPublish"]
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"},
    }
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
def test_every_alarm_of_the_program_has_actions(resources):
    alarms = [r for r in resources if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert alarms
    assert all(r["properties"].get("alarmActions") for r in alarms), [r["name"] for r in alarms if not r["properties"].get("alarmActions")]


@pytest.mark.parametrize(
    "protocol,endpoint,message",
    [("http", "http://pager.example.com", "protocol"), ("https", "http://pager.example.com", "endpoint"), ("sms", "+15555550100", "protocol")],
)
def test_alerts_are_never_sent_in_the_clear(protocol, endpoint, message):
    with pytest.raises(ValueError, match=f"AlertSubscription.{message}"):
        AlertSubscription(protocol=protocol, endpoint=endpoint)
    AlertSubscription(protocol="https", endpoint="https://events.pagerduty.com/integration/x/enqueue")
