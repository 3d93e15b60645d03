"""End to end: the four GCP stacks through the offline gate and the pack as shipped, with every report format."""

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
GCP_STACKS = {"gcp-redteam": "redteam", "gcp-testing": "testing", "gcp-production": "production", "gcp-high-sensitivity": "high-sensitivity"}
SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def config(stack: str) -> dict:
    return yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_there_is_a_gcp_stack_per_zone_each_in_its_own_project():
    assert {stack: config(stack)["modelfort:zone"] for stack in GCP_STACKS} == GCP_STACKS
    assert all(config(stack)["modelfort:cloud"] == "gcp" for stack in GCP_STACKS)
    projects = [config(stack)["gcp:project"] for stack in GCP_STACKS]
    assert len(set(projects)) == len(projects)


def test_the_serving_gcp_stacks_pin_the_same_release_as_the_aws_production_stack():
    (release,) = config("production")["modelfort:models"]
    for stack, zone in (("gcp-production", "production"), ("gcp-high-sensitivity", "high-sensitivity")):
        (pinned,) = config(stack)["modelfort:models"]
        # The same build, pulled from the zone's own Artifact Registry (which Binary Authorization and the nodes' pull
        # grant cover): only the registry differs, never the digest or anything else.
        assert {**pinned, "image": None} == {**release, "image": None}
        assert pinned["image"].split("@")[1] == release["image"].split("@")[1]
        assert pinned["image"].startswith(f"us-central1-docker.pkg.dev/modelfort-{zone}/modelfort-{zone}/")


@pytest.mark.control("ST-07", "DP-08")
@pytest.mark.parametrize("stack", sorted(GCP_STACKS))
def test_every_gcp_stack_passes_the_gate_with_every_report(stack, tmp_path, capsys):
    zone = GCP_STACKS[stack]
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown")}
    args = [arg for fmt, path in paths.items() for arg in (f"--{fmt}", str(path))]
    exit_code = modelfort(["gate", str(REPO), "--stack", stack, "--quiet", *args])
    out = capsys.readouterr().out
    assert exit_code == 0, out
    assert f"zone {zone}" in out and "VERDICT: PASS" in out

    report = json.loads(paths["json"].read_text())
    assert report["verdict"] == "pass" and report["zone"] == zone and report["exitCode"] == 0
    assert [v for v in report["violations"] if v["blocking"]] == []
    assert report["unansweredInvokes"] == []
    networks = [r for r in report["resources"] if r["type"] == "gcp:compute/network:Network"]
    assert len(networks) == 1 and {"urn", "type", "name", "parent", "inputs"} <= set(networks[0])
    assert not [r for r in report["resources"] if r["type"].startswith("aws:")]

    sarif = json.loads(paths["sarif"].read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    assert not [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")
    assert int(suite.get("tests")) == len(sarif["runs"][0]["tool"]["driver"]["rules"]) and suite.get("failures") == "0"
    markdown = paths["markdown"].read_text()
    assert "PASS" in markdown and "```mermaid" in markdown and "SegmentedNetwork" in markdown


def test_below_the_critical_tier_the_stricter_gcp_controls_only_advise():
    """The perimeter and confidential nodes are mandatory only for high-sensitivity; elsewhere the reports still say
    what is missing, so nobody mistakes their absence for an oversight."""
    report = run_gate(GateOptions(program_dir=str(REPO), stack="gcp-production"))
    advisory = {(v.policy, v.resource_name) for v in report.verdict.violations if not v.blocking}
    assert ("gcp-vpc-sc-perimeter", "production-weights-bucket") in advisory
    assert ("gke-confidential-nodes", "production-gpu-nodes-pool") in advisory
    assert report.exit_code == 0


@pytest.mark.control("DP-07", "NB-02")
def test_the_red_team_waiver_covers_exactly_its_egress_hatch(tmp_path, capsys):
    json_path = tmp_path / "report.json"
    assert modelfort(["gate", str(REPO), "--stack", "gcp-redteam", "-q", "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert "Waivers in force" in out and "redteam-leads@example.com" in out
    records = json.loads(json_path.read_text())["waiverRecords"]
    assert any("WAIVED gcp-firewall-outside-zone" in r["message"] and "redteam-network-allow-egress-allowlist" in r["message"]
               for r in records)
    assert not any("UNUSED" in r["message"] for r in records)


def test_without_its_waiver_the_red_team_stack_is_blocked(tmp_path):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "__pycache__", "*.egg-info", "examples"))
    (project / ".venv").symlink_to(REPO / ".venv")  # Pulumi.yaml names .venv: the gate runs the program in it
    stack = project / "stacks" / "Pulumi.gcp-redteam.yaml"
    settings = yaml.safe_load(stack.read_text())
    del settings["config"]["modelfort:waivers"]
    stack.write_text(yaml.safe_dump(settings))
    report = run_gate(GateOptions(program_dir=str(project), stack="gcp-redteam"))
    assert report.exit_code == 1
    assert {(v.policy, v.resource_name) for v in report.verdict.blocking} == {
        ("gcp-firewall-outside-zone", "redteam-network-allow-egress-allowlist")}
