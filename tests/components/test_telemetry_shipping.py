"""TelemetryShipping under mocks, as the production zone wires it: the EKS log agent's role, its Fluent Bit config,
the guard diagnostics group and the alarms on the on-call topic; and a behaviour check of the config's filters."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from components.aws.telemetry_shipping import (
    ADDON_NAME,
    ADDON_VERSION,
    CHART_DEFAULT_FILES,
    SHIPPING_ACTIONS,
    WRITE_FAILURE_MARKER,
    TelemetryShippingArgs,
)
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack
from modelfort.runtime.guard.telemetry_out import TelemetryWriter, build_event

REPO = Path(__file__).resolve().parents[2]
S = "production-telemetry-shipping"
TELEMETRY_GROUP = "/modelfort/production/inference-telemetry"
DIAGNOSTICS_GROUP = "/modelfort/production/guard-diagnostics"


def _run(stack: str) -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, stack))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    return _run("production")


def parse_fluent_bit(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(section kind, [(key, value)])] of one Fluent Bit classic-format file (this test's own reading)."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "@SET")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], []))
            continue
        assert sections, f"a setting outside any section: {line!r}"
        key, _, value = line.partition(" ")
        sections[-1][1].append((key, value.strip()))
    return sections


def config_files(production) -> dict[str, str]:
    values = json.loads(production[f"{S}-addon"]["properties"]["configurationValues"])
    return values["containerLogs"]["fluentBit"]["config"]["extraFiles"]


def sections(production, kind: str) -> list[dict[str, list[str]]]:
    found = []
    for text in config_files(production).values():
        for section, entries in parse_fluent_bit(text):
            if section == kind:
                merged: dict[str, list[str]] = {}
                for key, value in entries:
                    merged.setdefault(key, []).append(value)
                found.append(merged)
    return found


@pytest.mark.control("OB-01")
def test_the_agents_role_appends_to_the_two_guard_groups_and_nothing_else(production):
    role = production[f"{S}-role"]["properties"]
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = trust["Condition"]["StringEquals"]
    assert sorted(conditions.values()) == ["sts.amazonaws.com", "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"]
    (statement,) = json.loads(production[f"{S}-access"]["properties"]["policy"])["Statement"]
    assert statement["Effect"] == "Allow" and sorted(statement["Action"]) == sorted(SHIPPING_ACTIONS)
    arns = {r.removesuffix(":*") for r in statement["Resource"]}
    assert {a.split(":log-group:", 1)[1] for a in arns} == {TELEMETRY_GROUP, DIAGNOSTICS_GROUP}
    assert all("*" not in r.removesuffix(":*") for r in statement["Resource"])
    # No managed policy (CloudWatchAgentServerPolicy) and no other inline policy on the role.
    role_urn = production[f"{S}-role"]["urn"]
    attached = [r for r in production.values() if r["type"].startswith("aws:iam/rolePolicy")
                and role_urn in r["propertyDependencies"].get("role", [])]
    assert [r["name"] for r in attached] == [f"{S}-access"]


@pytest.mark.control("OB-01", "OB-04")
def test_the_addon_is_pinned_with_its_own_role_and_minimal_features(production):
    addon = production[f"{S}-addon"]
    props = addon["properties"]
    assert props["addonName"] == ADDON_NAME and props["addonVersion"] == ADDON_VERSION == "v6.4.0-eksbuild.1"
    assert props["resolveConflictsOnUpdate"] == "OVERWRITE"
    assert production[f"{S}-role"]["urn"] in addon["propertyDependencies"]["serviceAccountRoleArn"]
    assert props["clusterName"] == "modelfort-production"
    values = json.loads(props["configurationValues"])
    assert values["containerLogs"]["enabled"] is True
    assert values["containerInsights"] == {"enabled": False} and values["applicationSignals"] == {"enabled": False}
    assert values["dcgmExporter"] == {"enabled": False} and values["neuronMonitor"] == {"enabled": False}
    # The chart renders extraFiles through Helm's tpl: a '{{' would be read as a template.
    assert "{{" not in props["configurationValues"]
    # It waits for its permissions and for the GPU nodes its DaemonSets run on.
    dependencies = set(addon["dependencies"])
    assert production[f"{S}-access"]["urn"] in dependencies
    assert production["production-gpu-nodes-nodes"]["urn"] in dependencies  # the node group


@pytest.mark.control("OB-01")
def test_the_config_replaces_every_chart_default_file_with_one_that_defines_nothing(production):
    files = config_files(production)
    for name in CHART_DEFAULT_FILES:
        assert parse_fluent_bit(files[name]) == [], name


@pytest.mark.control("OB-01", "OB-04")
def test_only_guard_stdout_with_the_marker_is_routed_to_the_telemetry_group(production):
    inputs, filters, outputs = (sections(production, kind) for kind in ("INPUT", "FILTER", "OUTPUT"))
    assert inputs and all(i["Name"] == ["tail"] and i["multiline.parser"] == ["cri"] for i in inputs)
    assert {p for i in inputs for p in i["Path"]} == {"/var/log/containers/*_models_guard-*.log"}
    assert all(f["Name"] == ["grep"] for f in filters)
    assert {o["log_group_name"][0] for o in outputs} == {TELEMETRY_GROUP, DIAGNOSTICS_GROUP}
    for output in outputs:
        assert output["Name"] == ["cloudwatch_logs"] and output["region"] == ["us-east-1"]
        assert output["auto_create_group"] == ["false"] and output["log_key"] == ["log"]
        (match,) = output["Match"]
        (source,) = [i for i in inputs if i["Tag"] == [match]]  # exactly one input feeds each output
        (grep,) = [f for f in filters if f["Match"] == [match]]
        if output["log_group_name"] == [TELEMETRY_GROUP]:
            assert grep["Regex"] == ["stream ^stdout$", 'log ^\\{"schema_version":[0-9]+,']
        else:
            assert grep["Regex"] == ["stream ^stderr$"]
        assert source["Exclude_Path"] == ["/var/log/containers/*_models_guard-*-*.log"]


# ---------------------------------------------------------------------------------------------------- behaviour
CRI = re.compile(r"^(?P<time>\S+) (?P<stream>stdout|stderr) (?P<flag>[FP]) (?P<log>.*)$")
"""The CRI log line format containerd writes, as Fluent Bit's built-in cri parser reads it."""


def _telemetry_line() -> str:
    out = io.StringIO()
    event = build_event(request_id="r-1", received=datetime(2026, 12, 4, tzinfo=timezone.utc), caller="alice",
                        model="llama", model_version="3.1", root_digest="sha256:" + "0" * 64, input_text="hi",
                        input_tokens=1, output_text="hello", output_tokens=1, latency_ms=2.0, intervened=False,
                        categories=(), outcome="accepted", status=200, controls=(), stream=False, path="/v1/chat/completions")
    assert TelemetryWriter(stream=out).emit(event)
    return out.getvalue().rstrip("\n")


def _failure_line() -> str:
    class Broken(io.StringIO):
        def write(self, _text):
            raise BrokenPipeError

    errors = io.StringIO()
    assert not TelemetryWriter(stream=Broken(), errors=errors).emit({"schema_version": 1})
    return errors.getvalue().rstrip("\n")


def route(production, path: str, cri_line: str) -> list[str]:
    """The log groups a line of `path` reaches under the generated config: the tail inputs' Path/Exclude_Path globs
    (fnmatch), the CRI fields, every grep filter on the input's tag (all Regex rules, re.search as Fluent Bit's grep
    does) and the outputs on that tag."""
    record = CRI.fullmatch(cri_line).groupdict()
    reached = []
    for source in sections(production, "INPUT"):
        if not any(fnmatchcase(path, p) for p in source["Path"]) or any(fnmatchcase(path, p) for p in source.get("Exclude_Path", [])):
            continue
        tag = source["Tag"][0].replace("*", path.lstrip("/").replace("/", "."))
        applies = lambda s: re.fullmatch(".*".join(map(re.escape, s["Match"][0].split("*"))), tag)  # noqa: E731
        kept = all(re.search(regex, record[key]) for f in sections(production, "FILTER") if applies(f)
                   for key, regex in (rule.split(" ", 1) for rule in f.get("Regex", [])))
        if kept:
            reached += [o["log_group_name"][0] for o in sections(production, "OUTPUT") if applies(o)]
    return reached


@pytest.mark.control("OB-01")
def test_sample_lines_reach_only_their_group(production):
    """Honest scope: this applies the exact globs and regexes the component generates, with Python's fnmatch and re,
    to CRI lines; it shows the config routes what it should, not that Fluent Bit's engine agrees byte for byte."""
    telemetry, failure = _telemetry_line(), _failure_line()
    assert failure.startswith(WRITE_FAILURE_MARKER)  # the marker is what the guard really prints
    guard = "/var/log/containers/chat-7d9f8-abcde_models_guard-" + "a" * 64 + ".log"
    server = "/var/log/containers/chat-7d9f8-abcde_models_model-server-" + "b" * 64 + ".log"
    lookalike = "/var/log/containers/chat-7d9f8-abcde_models_guard-proxy-" + "c" * 64 + ".log"
    elsewhere = "/var/log/containers/chat-7d9f8-abcde_staging_guard-" + "d" * 64 + ".log"
    when = "2026-12-04T10:00:00.000000001Z"
    cases = [
        (guard, f"{when} stdout F {telemetry}", [TELEMETRY_GROUP]),
        (guard, f"{when} stderr F {failure}", [DIAGNOSTICS_GROUP]),
        (guard, f"{when} stdout F INFO:     10.0.0.7:5123 - \"POST /v1/chat/completions HTTP/1.1\" 200", []),
        (guard, f'{when} stdout F {{"level":"info","schema_version":1}}', []),  # JSON, but not an event
        (guard, f"{when} stderr F {telemetry}", [DIAGNOSTICS_GROUP]),  # stderr is diagnostics, never telemetry
        (server, f"{when} stdout F {telemetry}", []),  # a model server printing event-shaped prompts
        (server, f"{when} stderr F {failure}", []),
        (lookalike, f"{when} stdout F {telemetry}", []),
        (elsewhere, f"{when} stdout F {telemetry}", []),
    ]
    assert [route(production, path, line) for path, line, _ in cases] == [expected for _, _, expected in cases]


# ---------------------------------------------------------------------------------------------------- diagnostics
@pytest.mark.control("OB-01", "OB-03")
def test_guard_diagnostics_are_encrypted_retained_and_failures_page_on_call(production):
    group = production[f"{S}-diagnostics"]
    assert group["properties"]["name"] == DIAGNOSTICS_GROUP and group["properties"]["retentionInDays"] == 365
    assert group["properties"]["deletionProtectionEnabled"] is True
    assert production["production-evidence-key"]["urn"] in group["propertyDependencies"]["kmsKeyId"]
    metric_filter = production[f"{S}-write-failures"]["properties"]
    assert metric_filter["pattern"] == f'"{WRITE_FAILURE_MARKER}"'
    assert metric_filter["metricTransformation"] == {"name": "TelemetryWriteFailures", "namespace": "ModelFort/production", "value": "1"}
    topic = production["production-alerts-topic"]
    alarm = production[f"{S}-write-failures-alarm"]
    props = alarm["properties"]
    assert (props["metricName"], props["namespace"], props["statistic"]) == ("TelemetryWriteFailures", "ModelFort/production", "Sum")
    assert props["threshold"] == 0 and props["comparisonOperator"] == "GreaterThanThreshold" and props["period"] == 300
    assert props["treatMissingData"] == "notBreaching"
    assert props["alarmActions"] == [f"arn:aws:sns:us-east-1:123456789012:{topic['id']}"]
    assert topic["urn"] in alarm["propertyDependencies"]["alarmActions"]


@pytest.mark.control("OB-01")
def test_traffic_without_telemetry_pages_on_call(production):
    props = production[f"{S}-delivery-alarm"]["properties"]
    queries = {q["id"]: q for q in props["metricQueries"]}
    assert queries["requests"]["metric"]["dimensions"] == {"ApiName": "modelfort-production-model-api", "Stage": "v1"}
    assert queries["delivered"]["metric"]["dimensions"] == {"LogGroupName": TELEMETRY_GROUP}
    assert queries["delivered"]["metric"]["metricName"] == "IncomingLogEvents"
    assert "FILL(delivered, 0) == 0" in queries["silent"]["expression"] and queries["silent"]["returnData"] is True
    assert props["evaluationPeriods"] == props["datapointsToAlarm"] == 3
    assert props["alarmActions"] and props["treatMissingData"] == "notBreaching"


@pytest.mark.control("OB-01")
def test_a_zone_that_serves_no_models_ships_nothing():
    testing = _run("testing")
    assert not [r for r in testing.values() if r["type"] == "aws:eks/addon:Addon"]


# ---------------------------------------------------------------------------------------------------- args
def _args(**changes) -> TelemetryShippingArgs:
    base = dict(zone="production", region="us-east-1", cluster_name="c", oidc_provider_arn="arn:oidc", oidc_issuer="oidc",
                telemetry_log_group_name=TELEMETRY_GROUP, telemetry_log_group_arn="arn:group", kms_key_arn="arn:key",
                alarm_topic_arn="arn:sns", log_retention_days=365)
    return TelemetryShippingArgs(**{**base, **changes})


@pytest.mark.parametrize("changes,field", [
    ({"log_retention_days": 31}, "log_retention_days"),
    ({"namespace": "Models"}, "namespace"),
    ({"namespace": "models_a"}, "namespace"),
    ({"telemetry_log_group_name": "/modelfort/testing/inference-telemetry"}, "telemetry_log_group_name"),
    ({"api_name": ""}, "api_name"),
    ({"silent_delivery_periods": 0}, "silent_delivery_periods"),
])
@pytest.mark.control("OB-01")
def test_args_refuse_what_would_ship_nowhere_or_wrongly(changes, field):
    with pytest.raises(ValueError, match=rf"TelemetryShippingArgs\.{field}: .* is not "):
        _args(**changes)
    assert _args().namespace == "models"
