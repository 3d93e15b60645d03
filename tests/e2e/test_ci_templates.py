"""The CI templates parse and carry the steps the suite promises: gate on pull requests with SARIF, JUnit and a
Markdown comment; preview with the policy pack, then an approved `pulumi up` per zone; canary promotion, rollback,
and secret scanning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from modelfort.release import ReleaseError, promote_canary, rollback

REPO = Path(__file__).resolve().parents[2]
GITHUB = yaml.safe_load((REPO / "ci-templates" / "github" / "modelfort.yml").read_text())
GITLAB = yaml.safe_load((REPO / "ci-templates" / "gitlab" / "modelfort.gitlab-ci.yml").read_text())
ZONES = ["testing", "redteam", "production", "high-sensitivity"]


def steps_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) + str(step.get("with", "")) for step in job["steps"])


@pytest.mark.control("DP-04", "DP-07", "ST-07")
def test_github_gates_every_pull_request_with_every_report():
    on = GITHUB[True] if True in GITHUB else GITHUB["on"]  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    gate = GITHUB["jobs"]["gate"]
    assert gate["strategy"]["matrix"]["stack"] == ZONES
    text = steps_text(gate)
    for flag in ("--sarif", "--junit", "--markdown", "--html"):
        assert flag in text
    assert "github/codeql-action/upload-sarif" in text
    assert "junit" in text.lower() and "sticky-pull-request-comment" in text


@pytest.mark.control("DP-07", "DP-10")
def test_github_deploys_zone_by_zone_behind_an_approval_with_preview_before_up():
    deploy = GITHUB["jobs"]["deploy"]
    assert deploy["environment"] == "${{ matrix.stack }}" and deploy["strategy"]["max-parallel"] == 1
    commands = [step["with"]["command"] for step in deploy["steps"] if "pulumi/actions" in str(step.get("uses"))]
    assert commands == ["preview", "up"]
    assert all(step["with"]["policyPacks"] == "policy_packs/modelfort" for step in deploy["steps"] if "pulumi/actions" in str(step.get("uses")))


@pytest.mark.control("DP-11", "DP-12", "SC-01")
def test_github_has_canary_promotion_rollback_and_secret_scanning():
    release = steps_text(GITHUB["jobs"]["release-operation"])
    assert "modelfort.release promote-canary" in release and "modelfort.release rollback" in release
    assert "gitleaks" in steps_text(GITHUB["jobs"]["secrets-scan"])


@pytest.mark.control("DP-07", "DP-11", "DP-12")
def test_gitlab_gates_merge_requests_and_deploys_with_manual_approval_per_zone():
    gate = GITLAB["modelfort-gate"]
    assert "--junit" in " ".join(gate["script"][-1:]) and gate["artifacts"]["reports"]["junit"] == "gate-$STACK.xml"
    for zone in ZONES:
        job = GITLAB[f"deploy-{zone}"]
        assert job["environment"]["name"] == zone
        assert job["rules"][0]["when"] == "manual"
        script = "\n".join(job["script"][1:])
        assert script.index("pulumi preview") < script.index("pulumi up")
    assert GITLAB["promote-canary"]["variables"]["RELEASE_ACTION"] == "promote-canary"
    assert GITLAB["rollback"]["variables"]["RELEASE_ACTION"] == "rollback"


@pytest.mark.control("SC-01")
def test_pre_commit_scans_for_secrets():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"gitleaks", "detect-secrets"} <= hooks


STACK = """\
config:
  # the zone
  modelfort:zone: production
  modelfort:models:
    - name: llama-guard
      version: 3.1.0   # pinned after review
      image: reg/vllm@sha256:{a}
      rootDigest: {b}
{canary}"""
CANARY = """\
      canary:
        version: 3.2.0
        image: reg/vllm@sha256:{c}
        rootDigest: {d}
        percent: 10
"""


def stack(version="3.1.0", a="a" * 64, b="b" * 64, canary=False) -> str:
    text = STACK.format(a=a, b=b, canary=CANARY.format(c="c" * 64, d="d" * 64) if canary else "")
    return text.replace("3.1.0", version)


@pytest.mark.control("DP-11")
def test_promoting_the_canary_makes_it_the_release_and_keeps_comments():
    promoted = promote_canary(stack(canary=True), "llama-guard")
    assert "version: 3.2.0" in promoted and "rootDigest: " + "d" * 64 in promoted and "canary" not in promoted
    assert "# the zone" in promoted and "modelfort:zone: production" in promoted
    with pytest.raises(ReleaseError, match="no canary"):
        promote_canary(stack(), "llama-guard")


@pytest.mark.control("DP-12")
def test_rollback_drops_a_canary_first_then_restores_the_previous_release():
    assert "canary" not in rollback(stack(canary=True), "llama-guard", [])
    history = [stack(version="3.2.0", a="e" * 64, b="f" * 64), stack(), stack(version="3.0.0", a="1" * 64, b="2" * 64)]
    current = stack(version="3.2.0", a="e" * 64, b="f" * 64)
    restored = rollback(current, "llama-guard", history)
    assert "version: 3.1.0" in restored and "rootDigest: " + "b" * 64 in restored
    with pytest.raises(ReleaseError, match="no earlier release"):
        rollback(stack(), "llama-guard", [stack()])
    with pytest.raises(ReleaseError, match="no model named"):
        rollback(stack(), "other", [])


def test_rollback_reads_the_previous_release_from_git(tmp_path):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    path = stacks / "Pulumi.production.yaml"
    run = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("config", "user.email", "t@example.com")
    run("config", "user.name", "t")
    for version, digest in (("3.0.0", "1"), ("3.1.0", "b")):
        path.write_text(stack(version=version, b=digest * 64))
        run("add", ".")
        run("commit", "-qm", version)
    from modelfort.release import main

    assert main(["rollback", "--stack", "production", "--model", "llama-guard", "--stacks-dir", str(stacks)]) == 0
    assert "version: 3.0.0" in path.read_text()
