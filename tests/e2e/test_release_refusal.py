"""A stack whose release record does not match its artifacts is refused before anything is planned, naming the
mismatch (ST-01..ST-03, ST-07)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelfort.cli import main as modelfort

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(".venv*", ".git", "tests", "__pycache__", "*.egg-info", "benchmarks"))
    (target / ".venv").symlink_to(REPO / ".venv")  # Pulumi.yaml names .venv: the gate runs the program in it
    return target


def edit_stack(project: Path, old: str, new: str) -> None:
    stack = project / "stacks" / "Pulumi.production.yaml"
    text = stack.read_text()
    assert old in text
    stack.write_text(text.replace(old, new))


@pytest.mark.control("ST-01", "ST-07")
def test_a_pinned_root_digest_the_signature_does_not_sign_is_refused(project, capsys):
    # Roll the pin back to the previous release, whose weights the signature on record does not cover.
    edit_stack(project, "rootDigest: c8ac51bb0ea05fbc62287e60b3c7311353f25735e7702a95b6f08fd40784f882",
               "rootDigest: 7820cd5a5d2d621960a71b5dce974fd7e6efa2fbf8b88d18b85c6bb856899727")
    assert modelfort(["gate", str(project), "--stack", "production", "-q"]) == 1
    out = capsys.readouterr().out
    assert "VERDICT: BLOCKED — the program refused to plan this stack." in out
    assert "llama-guard" in out and "rootDigest" in out


@pytest.mark.control("ST-02", "ST-07")
def test_an_sbom_that_is_not_the_reviewed_one_is_refused(project, capsys):
    sbom = project / "releases" / "llama-guard" / "3.1.0" / "sbom.cdx.json"
    sbom.write_text(sbom.read_text().replace('"torch"', '"torch "'))
    assert modelfort(["gate", str(project), "--stack", "production", "-q"]) == 1
    out = capsys.readouterr().out
    assert "sbom" in out and "sha256" in out.lower()


@pytest.mark.control("ST-03", "ST-05", "ST-07")
def test_an_image_the_provenance_does_not_name_is_refused(project, capsys):
    edit_stack(project, "model-server@sha256:520765ee", "model-server@sha256:000000ee")
    assert modelfort(["gate", str(project), "--stack", "production", "-q"]) == 1
    assert "provenance" in capsys.readouterr().out
