"""The policy pack runs in its own environment, built from its requirements.txt and cached by their hash; a pack
the offline gate cannot run (Node.js, an unknown runtime, a missing environment with --no-install) is exit 2."""

from __future__ import annotations

import os

import pytest

from gate_env_helpers import PREFIX_PACK, PREFIX_PROGRAM, make_venv, offline_requirements, write_pack, write_program
from modelfort.cli import main as modelfort
from modelfort.gate.engine import GateOptions, run_gate
from modelfort.gate.environments import cached_pack_env_dir

pytestmark = pytest.mark.control("ST-07")


@pytest.fixture
def pack_cache(tmp_path, monkeypatch):
    cache = tmp_path / "pack-envs"
    monkeypatch.setenv("MODELFORT_PACK_ENV_CACHE", str(cache))
    return cache


def _pack_prefix(report) -> str:
    messages = [v.message for v in report.verdict.violations if v.policy == "pack-prefix"]
    assert len(messages) == 1, report.error or report.verdict.violations
    return messages[0].removeprefix("pack prefix ")


def test_a_pack_with_requirements_runs_in_a_cached_environment_built_from_them(tmp_path, pack_cache):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", PREFIX_PACK)
    offline_requirements(pack / "requirements.txt", tmp_path / "wheels")
    expected = cached_pack_env_dir(str(pack))
    assert expected.startswith(str(pack_cache))

    first = run_gate(GateOptions(program_dir=str(program), stack="test", policy_pack=str(pack)))
    assert first.exit_code == 0, first.error
    assert first.pack_python.created
    assert os.path.realpath(_pack_prefix(first)) == os.path.realpath(expected)

    second = run_gate(GateOptions(program_dir=str(program), stack="test", policy_pack=str(pack), install=False))
    assert not second.pack_python.created and second.pack_python.python == first.pack_python.python


def test_the_pack_environment_follows_the_requirements(tmp_path, pack_cache):
    pack = write_pack(tmp_path / "pack", PREFIX_PACK)
    (pack / "requirements.txt").write_text("pulumi-policy==1.21.0\n")
    before = cached_pack_env_dir(str(pack))
    assert cached_pack_env_dir(str(pack)) == before
    (pack / "requirements.txt").write_text("pulumi-policy==1.21.0\ncheckov==3.3.30\n")
    assert cached_pack_env_dir(str(pack)) != before


def test_a_pack_naming_its_virtualenv_runs_in_it(tmp_path, pack_cache):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", PREFIX_PACK, runtime={"name": "python", "options": {"virtualenv": "venv"}})
    make_venv(pack / "venv")
    report = run_gate(GateOptions(program_dir=str(program), stack="test", policy_pack=str(pack)))
    assert os.path.realpath(_pack_prefix(report)) == os.path.realpath(pack / "venv")
    assert not pack_cache.exists()


def test_a_missing_pack_environment_with_no_install_says_how_to_create_it(tmp_path, pack_cache, capsys):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", PREFIX_PACK)
    (pack / "requirements.txt").write_text("pulumi-policy==1.21.0\n")
    assert modelfort(["gate", str(program), "--stack", "test", "--policy-pack", str(pack), "--no-install", "-q"]) == 2
    out = capsys.readouterr().out
    assert "--no-install forbids creating it" in out and f"-m modelfort.gate.environments pack {pack}" in out


def test_a_nodejs_pack_is_a_usage_error(tmp_path, capsys):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", "", runtime="nodejs")
    assert modelfort(["gate", str(program), "--stack", "test", "--policy-pack", str(pack), "-q"]) == 2
    out = capsys.readouterr().out
    assert "a Node.js policy pack; the offline gate runs Python packs only" in out
    assert "pulumi preview --policy-pack" in out


def test_a_pack_of_an_unknown_runtime_is_a_usage_error(tmp_path, capsys):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", "", runtime={"name": "dotnet"})
    assert modelfort(["gate", str(program), "--stack", "test", "--policy-pack", str(pack), "-q"]) == 2
    assert "runtime is 'dotnet'; the offline gate runs Python policy packs only" in capsys.readouterr().out


def test_requirements_pip_cannot_satisfy_are_a_usage_error_with_pips_reason(tmp_path, pack_cache):
    program = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    pack = write_pack(tmp_path / "pack", PREFIX_PACK)
    (tmp_path / "wheels").mkdir()
    (pack / "requirements.txt").write_text(f"--no-index\n--find-links {tmp_path / 'wheels'}\nmodelfort-absent==1.0\n")
    report = run_gate(GateOptions(program_dir=str(program), stack="test", policy_pack=str(pack)))
    assert report.exit_code == 2
    assert report.error.startswith(f"pip install -r requirements.txt in {pack} failed")
    assert "No matching distribution found for modelfort-absent==1.0" in report.error
    # Nothing half-built is left to be mistaken for a complete environment next time.
    assert not (pack_cache.exists() and any(p.joinpath(".modelfort-env-complete").exists() for p in pack_cache.iterdir() if p.is_dir()))
