"""Messages that tell the truth (a gap of the gate's mocks, a pack crash naming the resource) and blind spots that
never pass silently (remote components the pack does not judge, what cannot be expanded offline)."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest

from gate_env_helpers import CRASHING_PACK, PREFIX_PROGRAM, write_program
from modelfort.cli import main as modelfort
from modelfort.gate.engine import GateOptions, run_gate

pytestmark = pytest.mark.control("ST-07")

REMOTE_PROGRAM = """
    import pulumi


    class Widget(pulumi.ComponentResource):
        def __init__(self, name):
            # remote=True: a multi-language component, built by its provider plugin at deploy time.
            super().__init__("acme:index:Widget", name, {"size": 3}, None, remote=True)


    Widget("widget")
"""
WIDGET_URN = "urn:pulumi:test::envprobe::pulumi:pulumi:Stack$acme:index:Widget::widget"


def _waiver(policy: str, resource: str) -> dict:
    return {"policy": policy, "resource": resource, "reason": "judged with pulumi preview in CI (SEC-1)",
            "owner": "platform-security@example.com",
            # Waivers must expire within a year, so the review is repeated.
            "expires": (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=180)).isoformat()}


def test_a_program_failing_after_a_mock_gap_names_the_invoke_as_a_gap_of_the_gate(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", """
        import pulumi

        answer = pulumi.runtime.invoke("acme:index:getCatalogue", {"team": "ml"})
        catalogue = answer.value["models"]
    """)
    json_path = tmp_path / "report.json"
    assert modelfort(["gate", str(directory), "--stack", "test", "-q", "--json", str(json_path)]) == 3
    out = capsys.readouterr().out
    assert "the gate's mocks had no answer for: invoke acme:index:getCatalogue" in out
    assert "a gap in the offline gate's mocks, not necessarily a fault of the program" in out
    gaps = json.loads(json_path.read_text())["mockGaps"]
    assert [(g["kind"], g["token"]) for g in gaps] == [("invoke", "acme:index:getCatalogue")]


def test_a_pack_crash_names_the_resource_and_the_failing_policy_code(tmp_path):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    report = run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(CRASHING_PACK)))
    assert report.exit_code == 3
    first_line = report.error.splitlines()[0]
    assert first_line.startswith("policy pack crashed analyzing urn:pulumi:test::envprobe::pulumi:pulumi:Stack::envprobe-test")
    assert "(type pulumi:pulumi:Stack)" in first_line
    assert "the pack's traceback ends in explode() at " in first_line and "crashing/__main__.py:7" in first_line
    assert "policy bug" in first_line


def test_the_plan_count_says_what_else_was_registered(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", REMOTE_PROGRAM + PREFIX_PROGRAM)
    # ModelFort's pack judges it; the bucket and the widget fail mandatory policies, beside the point here.
    modelfort(["gate", str(directory), "--stack", "test", "-q"])
    out = capsys.readouterr().out
    assert "Plan: 1 resources (the program also registered 1 components, 0 providers and 1 stack" in out


def test_an_unjudged_remote_component_blocks_in_every_report_format(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", REMOTE_PROGRAM)
    paths = {k: tmp_path / f"report.{k}" for k in ("json", "sarif", "junit", "markdown")}
    args = ["gate", str(directory), "--stack", "test", "-q"] + [a for k, p in paths.items() for a in (f"--{k}", str(p))]
    assert modelfort(args) == 1
    out = capsys.readouterr().out
    assert "[BLOCKING] modelfort-gate-remote-component (ST-07) — widget" in out
    assert "remote component acme:index:Widget was not expanded" in out
    assert "pulumi preview --policy-pack" in out

    violations = json.loads(paths["json"].read_text())["violations"]
    assert [(v["policy"], v["urn"], v["blocking"]) for v in violations] == [("modelfort-gate-remote-component", WIDGET_URN, True)]
    sarif = json.loads(paths["sarif"].read_text())["runs"][0]
    assert "modelfort-gate-remote-component" in {r["id"] for r in sarif["tool"]["driver"]["rules"]}
    assert [(r["ruleId"], r["level"]) for r in sarif["results"]] == [("modelfort-gate-remote-component", "error")]
    junit = ET.parse(paths["junit"]).getroot()
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == ["modelfort-gate-remote-component"]
    assert "`modelfort-gate-remote-component`" in paths["markdown"].read_text()


def test_a_remote_component_is_waivable_and_the_waiver_is_reported(tmp_path, capsys):
    config = {"modelfort:zone": "production",
              "modelfort:waivers": [_waiver("modelfort-gate-remote-component", WIDGET_URN)]}
    directory = write_program(tmp_path / "prog", REMOTE_PROGRAM, config=config)
    json_path = tmp_path / "report.json"
    code = modelfort(["gate", str(directory), "--stack", "test", "-q", "--json", str(json_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    records = json.loads(json_path.read_text())["waiverRecords"]
    assert any("waived modelfort-gate-remote-component on widget" in r["message"] and r["urn"] == WIDGET_URN for r in records)
    assert "waived modelfort-gate-remote-component on widget" in out
    assert "UNUSED waiver" not in out


def test_a_third_party_pack_cannot_vouch_for_a_remote_component(tmp_path):
    directory = write_program(tmp_path / "prog", REMOTE_PROGRAM)
    pack = CRASHING_PACK.parent / "third-party"
    report = run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(pack)))
    assert [v.policy for v in report.verdict.blocking] == ["modelfort-gate-remote-component"]


def test_a_helm_chart_that_needs_rendering_is_blocked_as_unexpandable(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", """
        import pulumi_kubernetes as k8s

        k8s.helm.v4.Chart("ingress", chart="ingress-nginx", namespace="edge")
    """)
    json_path = tmp_path / "report.json"
    assert modelfort(["gate", str(directory), "--stack", "test", "-q", "--json", str(json_path)]) == 1
    out = capsys.readouterr().out
    assert "[BLOCKING] modelfort-gate-unexpandable (ST-07) — ingress" in out
    assert "helm-chart kubernetes:helm.sh/v4:Chart could not be expanded offline" in out
    report = json.loads(json_path.read_text())
    assert [e["kind"] for e in report["unexpandable"]] == ["helm-chart"]
    assert "modelfort-gate-unexpandable" in {v["policy"] for v in report["violations"] if v["blocking"]}


def test_a_helm_release_the_provider_renders_is_blocked_unless_the_pack_judges_its_chart(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", """
        import pulumi_kubernetes as k8s

        k8s.helm.v3.Release("blog", chart="wordpress", version="24.1.0",
                            repository_opts={"repo": "https://charts.bitnami.com/bitnami"})
        k8s.helm.v3.Release("gpu", chart="gpu-operator", version="v25.3.1", namespace="gpu-operator",
                            repository_opts={"repo": "https://helm.ngc.nvidia.com/nvidia"})
    """)
    json_path = tmp_path / "report.json"
    assert modelfort(["gate", str(directory), "--stack", "test", "-q", "--json", str(json_path)]) == 1
    out = capsys.readouterr().out
    assert "[BLOCKING] modelfort-gate-unexpandable (ST-07) — blog" in out
    report = json.loads(json_path.read_text())
    unseen = [e for e in report["unexpandable"] if e["kind"] == "helm-release"]
    # gpu-operator's values are what the pack judges (k8s-gpu-operator-hardened); wordpress's objects were unseen.
    assert [e["urn"].rsplit("::", 1)[-1] for e in unseen] == ["blog"]


def test_a_remote_component_type_modelforts_pack_judges_is_left_to_the_pack(tmp_path):
    from modelfort_policy.rules.remote_components import JUDGED_COMPONENT_TYPES

    assert "awsx:ec2:Vpc" in JUDGED_COMPONENT_TYPES
    directory = write_program(tmp_path / "prog", """
        import pulumi


        class Vpc(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("awsx:ec2:Vpc", name, {"cidrBlock": "10.0.0.0/16"}, None, remote=True)


        Vpc("models")
    """)
    modelfort_pack = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert modelfort_pack.error is None, modelfort_pack.error
    assert "modelfort-gate-remote-component" not in {v.policy for v in modelfort_pack.verdict.violations}
    # The same component under a pack that is not ModelFort's: nobody vouches for it, so it blocks.
    other = run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(CRASHING_PACK.parent / "third-party")))
    assert [v.policy for v in other.verdict.blocking] == ["modelfort-gate-remote-component"]
