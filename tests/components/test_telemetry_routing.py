"""GuardTelemetryLog as GcpZone builds it for the GCP stacks that serve models: the guard's telemetry in a locked bucket
of its own, the same lines excluded from _Default, its diagnostics in the evidence bucket, and an alert on the first
line the guard could not write.

Cloud Logging's query language cannot be run here, and these tests do not imitate it: they pin the exact filter
strings, built from the named constants, so a change to what is routed is a change someone has to make on purpose.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from components.gcp.telemetry_routing import (
    FAILURE_WINDOW_SECONDS,
    WRITE_FAILED_MARKER,
    GuardTelemetryLogArgs,
    guard_logs_filter,
    write_failures_filter,
)
from components.k8s.guard import GUARD_CONTAINER
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project, read_stack
from modelfort.runtime.guard.telemetry_out import TelemetryWriter

REPO = Path(__file__).resolve().parents[2]
MUTANT = REPO / "tests" / "programs" / "gcp-telemetry-mutant"
PROJECT = "modelfort-production"
CLUSTER_NAME = "modelfort-production"
TELEMETRY_FILTER = ('resource.type="k8s_container" AND resource.labels.cluster_name="modelfort-production" AND '
                    'resource.labels.namespace_name="models" AND resource.labels.container_name="guard" AND '
                    'logName="projects/modelfort-production/logs/stdout"')
DIAGNOSTICS_FILTER = TELEMETRY_FILTER.replace("/logs/stdout", "/logs/stderr")
FAILURES_FILTER = f'{DIAGNOSTICS_FILTER} AND textPayload:"modelfort-guard: telemetry write failed"'


def stack(name: str) -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, name))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    return stack("gcp-production")


def props(resources: dict[str, dict], name: str) -> dict:
    return resources[name]["properties"]


def depends_on(resources: dict[str, dict], name: str, other: str) -> bool:
    return resources[other]["urn"] in resources[name]["dependencies"]


@pytest.mark.control("OB-01", "OB-03")
def test_the_filters_are_exactly_the_guards_streams_of_the_zones_cluster(production):
    assert props(production, "production-gpu-cluster")["name"] == CLUSTER_NAME
    assert guard_logs_filter(PROJECT, CLUSTER_NAME, "models", GUARD_CONTAINER, "stdout") == TELEMETRY_FILTER
    assert guard_logs_filter(PROJECT, CLUSTER_NAME, "models", GUARD_CONTAINER, "stderr") == DIAGNOSTICS_FILTER
    assert write_failures_filter(PROJECT, CLUSTER_NAME, "models", GUARD_CONTAINER) == FAILURES_FILTER


@pytest.mark.control("OB-01", "OB-03")
def test_telemetry_lands_only_in_a_locked_customer_encrypted_bucket_of_its_own(production):
    bucket = production["production-guard-telemetry-bucket"]
    assert bucket["properties"]["locked"] is True and bucket["properties"]["retentionDays"] == 365  # the high tier's
    assert bucket["properties"]["bucketId"] == "modelfort-production-guard-telemetry"
    assert bucket["properties"]["cmekSettings"]["kmsKeyName"] == production["production-guard-telemetry-key"]["id"]
    assert bucket["id"] != production["production-evidence-bucket"]["id"]
    # Cloud Logging's service account holds the key before the bucket is created.
    grant = props(production, "production-guard-telemetry-key-logging-0")
    assert grant["member"].endswith("@gcp-sa-logging.iam.gserviceaccount.com")
    assert depends_on(production, "production-guard-telemetry-bucket", "production-guard-telemetry-key-logging-0")

    sink = production["production-guard-telemetry-sink"]
    assert sink["properties"]["filter"] == TELEMETRY_FILTER
    assert sink["properties"]["destination"] == f"logging.googleapis.com/{bucket['id']}"
    assert bucket["urn"] in sink["propertyDependencies"]["destination"]
    assert "disabled" not in sink["properties"] or sink["properties"]["disabled"] is False


@pytest.mark.control("OB-01", "OB-03")
def test_the_same_lines_are_excluded_from_default_once_the_sink_routes_them(production):
    exclusions = [r for r in production.values() if r["type"] == "gcp:logging/projectExclusion:ProjectExclusion"]
    assert [r["name"] for r in exclusions] == ["production-guard-telemetry-not-in-default"]
    exclusion = exclusions[0]["properties"]
    assert exclusion["filter"] == props(production, "production-guard-telemetry-sink")["filter"] == TELEMETRY_FILTER
    assert exclusion.get("disabled") in (None, False) and exclusion["project"] == PROJECT
    assert depends_on(production, "production-guard-telemetry-not-in-default", "production-guard-telemetry-sink")


@pytest.mark.control("OB-02", "OB-03")
def test_the_guards_diagnostics_go_to_the_evidence_bucket(production):
    sink = production["production-guard-telemetry-diagnostics-sink"]
    evidence = production["production-evidence-bucket"]
    assert sink["properties"]["filter"] == DIAGNOSTICS_FILTER
    assert sink["properties"]["destination"] == f"logging.googleapis.com/{evidence['id']}"


@pytest.mark.control("OB-01")
def test_the_failure_metric_counts_the_line_the_guard_prints_when_a_write_fails(production):
    metric = props(production, "production-guard-telemetry-write-failures")
    assert metric["filter"] == FAILURES_FILTER
    assert metric["metricDescriptor"]["metricKind"] == "DELTA" and metric["metricDescriptor"]["valueType"] == "INT64"

    class Closed(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError("closed")

    errors = io.StringIO()
    assert TelemetryWriter(stream=Closed(), errors=errors).emit({"schema_version": 1}) is False
    line = errors.getvalue()
    assert line.startswith(WRITE_FAILED_MARKER) and f'"{WRITE_FAILED_MARKER}"' in metric["filter"]
    assert '"' not in WRITE_FAILED_MARKER and "\\" not in WRITE_FAILED_MARKER  # quoted verbatim in the filter


@pytest.mark.control("OB-01")
def test_the_alert_opens_on_the_first_failure_in_five_minutes(production):
    policy = production["production-guard-telemetry-write-failures-alert"]
    (condition,) = policy["properties"]["conditions"]
    threshold = condition["conditionThreshold"]
    metric_name = props(production, "production-guard-telemetry-write-failures")["name"]
    assert threshold["filter"] == f'metric.type="logging.googleapis.com/user/{metric_name}" AND resource.type="k8s_container"'
    assert threshold["comparison"] == "COMPARISON_GT" and threshold["thresholdValue"] == 0
    assert threshold["aggregations"] == [{"alignmentPeriod": f"{FAILURE_WINDOW_SECONDS}s", "perSeriesAligner": "ALIGN_SUM",
                                          "crossSeriesReducer": "REDUCE_SUM"}]
    assert FAILURE_WINDOW_SECONDS == 300 and threshold["duration"] == "0s" and threshold["trigger"] == {"count": 1}
    assert policy["properties"]["combiner"] == "OR" and policy["properties"]["severity"] == "CRITICAL"
    assert depends_on(production, "production-guard-telemetry-write-failures-alert", "production-guard-telemetry-write-failures")
    # The stack's modelfort:onCall (an address and a pager webhook) is what the incident notifies.
    channels = [production[f"production-guard-telemetry-on-call-{i}"] for i in range(2)]
    assert [(c["properties"]["type"], c["properties"]["labels"]) for c in channels] == [
        ("email", {"email_address": "secops-oncall@example.com"}),
        ("webhook_tokenauth", {"url": "https://events.pagerduty.example.com/integration/modelfort-gcp-production/enqueue"})]
    assert policy["properties"]["notificationChannels"] == [c["id"] for c in channels]


@pytest.mark.control("OB-01")
def test_the_alert_notifies_the_zones_on_call():
    """The endpoints given to GcpZone directly (a program composing it without a stack's modelfort:onCall)."""
    production = read_stack(read_project(str(REPO)), "gcp-production")
    settings = StackFile(stack="test", path=None, config={**production.config, "telemetry-mutant:mutation": "on-call"})
    result = run_program_under_mocks(read_project(str(MUTANT)), settings)
    assert result["error"] is None, result["error"]
    resources = {r["name"]: r for r in result["resources"]}
    channels = [resources[f"production-guard-telemetry-on-call-{i}"] for i in range(2)]
    assert [(c["properties"]["type"], c["properties"]["labels"]) for c in channels] == [
        ("email", {"email_address": "secops@example.com"}), ("webhook_tokenauth", {"url": "https://pager.example.com/hook"})]
    policy = props(resources, "production-guard-telemetry-write-failures-alert")
    assert policy["notificationChannels"] == [c["id"] for c in channels]


def test_zones_without_models_route_no_guard_telemetry():
    resources = stack("gcp-testing")
    assert not [n for n in resources if "guard-telemetry" in n]


@pytest.mark.parametrize("change,message", [
    ({"retention_days": 0}, "retention_days"),
    ({"key_rotation_days": 0}, "key_rotation_days"),
    ({"on_call": [("http", "http://pager.example.com")]}, "on_call"),
    ({"on_call": [("https", "pager.example.com")]}, "on_call"),
])
def test_unsafe_args_fail_naming_the_arg(change, message):
    base = dict(zone="production", project=PROJECT, region="us-central1", key_ring_id="kr", cluster_name=CLUSTER_NAME,
                evidence_log_bucket_id="b", retention_days=365)
    with pytest.raises(ValueError, match=message):
        GuardTelemetryLogArgs(**{**base, **change})
