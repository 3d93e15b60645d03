"""End to end: every stack in stacks/ through the offline gate and the pack as shipped, with every report format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml

from modelfort.cli import main as modelfort
from modelfort.gate.engine import GateOptions, run_gate

REPO = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO / "stacks").glob("Pulumi.*.yaml"))
SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def test_the_project_ships_a_stack_per_zone():
    assert {"redteam", "testing", "production", "high-sensitivity"} <= set(STACKS)


@pytest.mark.control("ST-07")
@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_gate_with_every_report(stack, tmp_path, capsys):
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown")}
    args = [arg for fmt, path in paths.items() for arg in (f"--{fmt}", str(path))]
    exit_code = modelfort(["gate", str(REPO), "--stack", stack, "--quiet", *args])
    out = capsys.readouterr().out
    assert exit_code == 0, out
    zone = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["modelfort:zone"]
    assert f"zone {zone}" in out and "VERDICT: PASS" in out

    report = json.loads(paths["json"].read_text())
    assert report["verdict"] == "pass" and report["zone"] == zone and report["exitCode"] == 0
    assert [v for v in report["violations"] if v["blocking"]] == []
    networks = [r for r in report["resources"] if r["type"] in ("aws:ec2/vpc:Vpc", "gcp:compute/network:Network")]
    assert len(networks) == 1 and {"urn", "type", "name", "parent", "inputs"} <= set(networks[0])

    sarif = json.loads(paths["sarif"].read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    assert not [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]

    junit = ET.parse(paths["junit"]).getroot()
    suite = junit.find("testsuite")
    assert int(suite.get("tests")) == len(sarif["runs"][0]["tool"]["driver"]["rules"]) and suite.get("failures") == "0"

    markdown = paths["markdown"].read_text()
    assert "PASS" in markdown and "```mermaid" in markdown and "SegmentedNetwork" in markdown


@pytest.mark.control("DP-07", "DP-05")
def test_waivers_appear_in_every_report(tmp_path, capsys):
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "markdown")}
    args = [arg for fmt, path in paths.items() for arg in (f"--{fmt}", str(path))]
    assert modelfort(["gate", str(REPO), "--stack", "redteam", "-q", *args]) == 0
    out = capsys.readouterr().out
    assert "Waivers in force" in out and "redteam-leads@example.com" in out and "suppressed" in out
    report = json.loads(paths["json"].read_text())
    assert report["waivers"][0]["owner"] == "redteam-leads@example.com"
    assert any("WAIVED sg-rule-outside-zone" in w["message"] for w in report["waiverRecords"])
    suppressed = [r for r in json.loads(paths["sarif"].read_text())["runs"][0]["results"] if r.get("suppressions")]
    assert suppressed and suppressed[0]["ruleId"] == "modelfort-waivers-applied"
    assert "redteam-leads@example.com" in paths["markdown"].read_text()


@pytest.mark.control("NB-02")
def test_a_program_with_open_egress_is_blocked_and_the_resource_named(capsys, tmp_path):
    sarif = tmp_path / "out.sarif"
    exit_code = modelfort(["gate", str(REPO / "examples" / "insecure-egress"), "--stack", "dev", "-q", "--sarif", str(sarif)])
    out = capsys.readouterr().out
    assert exit_code == 1
    assert "[BLOCKING] sg-egress-open-internet (NB-02) — model-host-sg" in out
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert any(r["ruleId"] == "sg-egress-open-internet" and r["level"] == "error"
               and r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("::model-host-sg") for r in results)


@pytest.mark.control("DP-08")
def test_a_stack_without_a_zone_is_judged_at_the_strictest_tier(program):
    # The production network rotates its log key yearly and keeps flow logs a year: enough for production, not for
    # the strictest tier.
    directory = program("mutant", stack="zoned", config={"aws:region": "us-east-1", "modelfort:zone": "production", "mutant:mutation": "none"})
    assert run_gate(GateOptions(program_dir=str(directory), stack="zoned")).exit_code == 0
    directory = program("mutant", stack="nozone", config={"aws:region": "us-east-1", "mutant:mutation": "none"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="nozone"))
    assert report.zone is None and report.exit_code == 1
    # Only the tier's thresholds bite (rotation and retention), nothing structural.
    assert {v.policy for v in report.verdict.blocking} == {
        "kms-key-rotation", "vpc-flow-logs", "log-group-encrypted-retained", "access-log-retention", "reference-store-compliance-lock",
    }


def test_a_program_without_a_stack_file_is_still_judged(capsys):
    messages: list[str] = []
    report = run_gate(GateOptions(program_dir=str(REPO / "examples" / "insecure-egress"), stack="no-such-stack"), messages.append)
    assert report.stack_file.path is None and report.exit_code == 1
    assert any("judging at the strictest tier" in m for m in messages)


def test_a_failing_program_is_an_error_not_a_pass(program):
    directory = program("broken", config={"aws:region": "us-east-1"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.exit_code == 3 and "could not read its model catalogue" in report.error


def test_an_invalid_stack_config_is_a_config_error_naming_the_key(tmp_path, capsys):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "__pycache__", "*.egg-info"))
    (project / ".venv").symlink_to(REPO / ".venv")  # Pulumi.yaml names .venv: the gate runs the program in it
    stack = project / "stacks" / "Pulumi.production.yaml"
    stack.write_text(stack.read_text().replace("cidr: 10.30.0.0/16", "cidr: 10.30.0.0/33"))
    assert modelfort(["gate", str(project), "--stack", "production", "-q"]) == 2
    assert "modelfort:network.cidr: '10.30.0.0/33' is not a valid CIDR" in capsys.readouterr().out


def test_an_unknown_value_read_by_a_mandatory_policy_blocks(program):
    directory = program("unknown-input", config={"aws:region": "us-east-1"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.exit_code == 1
    (violation,) = report.verdict.blocking
    assert violation.policy == "subnet-private" and violation.reason == "unknown-value"


def test_a_crashing_pack_is_an_error_not_a_pass(program):
    directory = program("mutant", config={"aws:region": "us-east-1", "mutant:mutation": "none"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(REPO / "tests" / "packs" / "crashing")))
    assert report.exit_code == 3 and "policy bug" in report.error


def test_another_teams_pack_runs_too(program):
    directory = program("mutant", config={"aws:region": "us-east-1", "mutant:mutation": "bare-vpc"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(REPO / "tests" / "packs" / "third-party")))
    assert report.exit_code == 0 and report.pack.name == "acme-network"
    assert [v.policy for v in report.verdict.violations] == []


@pytest.mark.parametrize(
    "args,expected",
    [
        (["gate", "/nonexistent", "-q"], "no Pulumi.yaml here"),
        (["gate", str(REPO), "-q", "--policy-pack", "/nonexistent"], "not a policy pack"),
    ],
)
def test_usage_errors_exit_2(args, expected, capsys):
    assert modelfort(args) == 2
    assert expected in capsys.readouterr().out


@pytest.mark.control("DP-07")
def test_an_expired_waiver_fails_the_gate(program):
    directory = program(
        "mutant",
        config={
            "aws:region": "us-east-1",
            "modelfort:zone": "production",
            "mutant:mutation": "none",
            "modelfort:waivers": [{"policy": "no-default-route", "resource": "urn:pulumi:test::mutant::*::x", "reason": "an old exception that lapsed", "owner": "a@example.com", "expires": "2025-01-01"}],
        },
    )
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.exit_code == 1
    assert [v.policy for v in report.verdict.blocking] == ["modelfort-waivers-valid"]
