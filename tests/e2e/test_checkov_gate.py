"""checkov's cloud checks through the whole offline gate, on a model zone written without ModelFort's components.

The program is run under mocks in its own environment, the pack in its own (which pins checkov), and each insecure
resource must be blocked at the production tier by name with its checkov ID, in every report format; its hardened
twin passes; a waiver names the checkov policy like any other; a pack environment without checkov is a clear error.
"""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from fixtures import flagged, judge_all, res

from modelfort.gate.analyzer import PackProcess
from modelfort.gate.engine import GateOptions, run_gate
from modelfort.gate.reports.junit import junit_tree
from modelfort.gate.reports.markdown import render_markdown
from modelfort.gate.reports.sarif import sarif_dict

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policy_packs" / "modelfort"
PROGRAMS = REPO / "tests" / "programs"
PRODUCTION = {"aws:region": "us-east-1", "modelfort:zone": "production"}

# What the model zone must be blocked for: resource -> the checkov checks that name it (mandatory at production).
EXPECTED = {
    "inference-host": {"CKV_AWS_79", "CKV_AWS_8"},  # IMDSv1, unencrypted root volume
    "model-cache": {"CKV_AWS_3"},  # unencrypted EBS volume
    "conversations": {"CKV_AWS_16"},  # RDS without storage encryption
    "llm-api-http": {"CKV_AWS_2"},  # internet-facing HTTP listener
    "llm-endpoint-config": {"CKV_AWS_98"},  # SageMaker endpoint configuration without KMS
    "operators": {"CKV_AWS_62", "CKV_AWS_63"},  # "*" actions on "*"
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = {}
    for secure in ("false", "true"):
        target = tmp_path_factory.mktemp(f"checkov-{secure}") / "checkov-zone"
        shutil.copytree(PROGRAMS / "checkov-zone", target)
        (target / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": {**PRODUCTION, "checkov-zone:secure": secure}}))
        out[secure] = run_gate(GateOptions(program_dir=str(target), stack="test"))
    return out


@pytest.mark.control("RI-09", "WP-01", "WP-02", "NB-05")
def test_the_hand_built_zone_is_blocked_naming_each_resource_with_its_checkov_id(reports):
    report = reports["false"]
    assert report.error is None, report.error
    assert report.exit_code == 1
    blocking = {(v.resource_name, v.policy) for v in report.verdict.blocking}
    for resource, checks in EXPECTED.items():
        for check in checks:
            assert (resource, f"checkov:{check}") in blocking, f"{resource} not blocked by {check}"
    messages = {v.policy: v.message for v in report.verdict.blocking}
    assert "CKV_AWS_79" in messages["checkov:CKV_AWS_79"] and "inference-host" in messages["checkov:CKV_AWS_79"]


@pytest.mark.control("RI-09", "WP-01", "WP-02", "NB-05")
def test_the_hardened_twin_passes(reports):
    report = reports["true"]
    assert report.error is None, report.error
    assert report.exit_code == 0, [(v.policy, v.resource_name) for v in report.verdict.blocking]


def test_every_report_format_carries_the_checkov_ids(reports):
    report = reports["false"]
    sarif = sarif_dict(report)
    rule_ids = {rule["id"] for run in sarif["runs"] for rule in run["tool"]["driver"]["rules"]}
    result_ids = {result["ruleId"] for run in sarif["runs"] for result in run["results"]}
    assert {"checkov:CKV_AWS_79", "checkov:CKV_AWS_98"} <= rule_ids & result_ids
    junit = ET.tostring(junit_tree(report).getroot(), encoding="unicode")
    assert "checkov:CKV_AWS_16" in junit and "conversations" in junit
    markdown = render_markdown(report)
    assert "checkov:CKV_AWS_2" in markdown and "llm-api-http" in markdown


def test_a_waiver_names_a_checkov_policy_like_any_other(tmp_path):
    target = tmp_path / "checkov-zone"
    shutil.copytree(PROGRAMS / "checkov-zone", target)
    waiver = {"policy": "checkov:CKV_AWS_3", "resource": "urn:pulumi:test::checkov-zone::*::model-cache",
              "reason": "Scratch volume of public model files only, wiped per job (SEC-2001).",
              "owner": "platform-security@example.com", "expires": "2027-06-30"}
    (target / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": {
        **PRODUCTION, "checkov-zone:secure": "false", "modelfort:waivers": [waiver]}}))
    report = run_gate(GateOptions(program_dir=str(target), stack="test"))
    blocking = {(v.resource_name, v.policy) for v in report.verdict.blocking}
    assert ("model-cache", "checkov:CKV_AWS_3") not in blocking
    assert ("inference-host", "checkov:CKV_AWS_79") in blocking  # the waiver covers exactly what it names


def test_a_pack_environment_without_checkov_is_a_clear_mandatory_error():
    # The project's own interpreter is such an environment: checkov lives only in the pack's.
    with pytest.raises(ImportError):
        import checkov  # noqa: F401
    with PackProcess(pack_dir=str(PACK_DIR), project="fixture", stack="test", config=PRODUCTION,
                     python=sys.executable) as pack:
        pack.connect()
        pack.configure(pack.analyzer_info())
        pack.configure_stack()
        diagnostics = judge_all(pack, [res("aws:ebs/volume:Volume", "bare", {"availabilityZone": "us-east-1a", "size": 1})])
    missing = [d for d in diagnostics if d.policy == "modelfort-checkov-available"]
    assert missing and missing[0].enforcement == "mandatory"
    assert "requirements.txt" in missing[0].message and "checkov" in missing[0].message
    assert not flagged(diagnostics, "checkov:CKV_AWS_3"), "no cascade of checkov findings without checkov"
