"""The program runs in the interpreter its Pulumi.yaml selects, as with the Pulumi CLI; a missing environment is
created from the program's requirements, or, with --no-install, refused with the way to create it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate_env_helpers import CRASHING_PACK, PREFIX_PROGRAM, make_venv, offline_requirements, write_program
from modelfort.cli import main as modelfort
from modelfort.gate.engine import GateOptions, run_gate

pytestmark = pytest.mark.control("ST-07")


def _probe(report) -> dict:
    bucket = next(r for r in report.resources if r["type"] == "aws:s3/bucket:Bucket")
    return bucket["properties"]["tags"]


def _gate(directory: Path, **options):
    # The crashing pack fails after the program ran: every resource is recorded, which is all these tests read.
    return run_gate(GateOptions(program_dir=str(directory), stack="test", policy_pack=str(CRASHING_PACK), **options))


def test_a_program_naming_a_virtualenv_runs_in_it(tmp_path):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"virtualenv": "venv"}})
    make_venv(directory / "venv")
    report = _gate(directory)
    assert os.path.realpath(_probe(report)["prefix"]) == os.path.realpath(directory / "venv")
    assert report.program_python.python == str(directory / "venv" / "bin" / "python")
    assert not report.program_python.created


def test_a_program_naming_no_environment_runs_in_the_gates_interpreter(tmp_path):
    import sys

    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    assert os.path.realpath(_probe(_gate(directory))["prefix"]) == os.path.realpath(sys.prefix)


def test_a_program_naming_no_environment_runs_in_the_active_virtualenv(tmp_path, monkeypatch):
    # As with the CLI, whose `python3` on PATH is the activated environment's.
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM)
    make_venv(tmp_path / "active")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "active"))
    report = _gate(directory)
    assert os.path.realpath(_probe(report)["prefix"]) == os.path.realpath(tmp_path / "active")
    assert "VIRTUAL_ENV" in report.program_python.source


def test_a_missing_virtualenv_with_no_install_is_a_usage_error_saying_how_to_create_it(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"virtualenv": "venv"}})
    (directory / "requirements.txt").write_text("pulumi\n")
    assert modelfort(["gate", str(directory), "--stack", "test", "--no-install", "-q"]) == 2
    out = capsys.readouterr().out
    assert "--no-install forbids creating it" in out
    assert "python3 -m venv venv && venv/bin/python -m pip install -r requirements.txt" in out
    assert not (directory / "venv").exists()


def test_a_missing_virtualenv_is_created_from_requirements_txt(tmp_path):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"virtualenv": "venv"}})
    offline_requirements(directory / "requirements.txt", tmp_path / "wheels")
    report = _gate(directory)
    assert report.program_python.created
    assert (directory / "venv" / "pyvenv.cfg").is_file()
    assert os.path.realpath(_probe(report)["prefix"]) == os.path.realpath(directory / "venv")
    # The second run finds it and creates nothing.
    assert not _gate(directory).program_python.created


def test_a_missing_virtualenv_without_requirements_is_a_usage_error(tmp_path):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"virtualenv": "venv"}})
    report = _gate(directory)
    assert report.exit_code == 2
    assert "there is no requirements.txt to create it from" in report.error


@pytest.mark.parametrize("toolchain", ["poetry", "uv"])
def test_a_toolchain_that_is_not_installed_is_a_usage_error_naming_it(tmp_path, monkeypatch, capsys, toolchain):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"toolchain": toolchain}})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert modelfort(["gate", str(directory), "--stack", "test", "-q"]) == 2
    assert f"names toolchain {toolchain}, but {toolchain} is not installed" in capsys.readouterr().out


def test_an_unknown_toolchain_is_a_usage_error_listing_the_allowed_ones(tmp_path):
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": {"toolchain": "conda"}})
    report = _gate(directory)
    assert report.exit_code == 2
    assert "runtime.options.toolchain is 'conda'; allowed: pip, poetry, uv" in report.error


def test_a_missing_required_config_value_is_a_config_error(tmp_path, capsys):
    directory = write_program(tmp_path / "prog", """
        import pulumi

        pulumi.Config().require("modelCatalogue")
    """)
    assert modelfort(["gate", str(directory), "--stack", "test", "-q"]) == 2
    out = capsys.readouterr().out
    assert "ERROR (exit 2): the stack's config is incomplete" in out
    assert "envprobe:modelCatalogue" in out


@pytest.mark.parametrize("virtualenv", [None, "envs/uv"])
def test_a_uv_program_runs_in_the_environment_uv_builds(tmp_path, monkeypatch, virtualenv):
    import sys

    # uv is a dev dependency, installed beside the gate's interpreter; the gate finds it on PATH like the CLI does.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("UV_PYTHON", sys.executable)  # the interpreter uv builds from: no download, same version
    options = {"toolchain": "uv", **({"virtualenv": virtualenv} if virtualenv else {})}
    directory = write_program(tmp_path / "prog", PREFIX_PROGRAM, runtime={"name": "python", "options": options})
    offline_requirements(directory / "requirements.txt", tmp_path / "wheels")
    report = _gate(directory)
    expected = directory / (virtualenv or ".venv")
    assert report.program_python.created, report.error
    assert os.path.realpath(_probe(report)["prefix"]) == os.path.realpath(expected)
