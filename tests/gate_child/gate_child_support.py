"""Running the gate's child side the way the gate does: inside a program's interpreter, through the private alias
`_modelfort_gate_child`, with nothing of ModelFort importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import modelfort.gate.child as child

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = REPO / "tests" / "programs"
RUNNER_TIMEOUT_SECONDS = 300


def run_child(tmp: Path, program: str, config: dict[str, str] | None = None, region: str | None = None) -> dict[str, Any]:
    """Run tests/programs/<program> under the child runner in a fresh interpreter; return the result JSON.

    PYTHONPATH holds only the alias directory and the interpreter's site-packages, and `-s -E` keeps user site
    and environment paths out, and `-S` skips site-packages' .pth files (ModelFort's editable install is one), so an
    import of ModelFort from the child fails here as it would in a program's own virtualenv."""
    alias_dir = tmp / "alias"
    alias_dir.mkdir(exist_ok=True)
    alias = alias_dir / "_modelfort_gate_child"
    if not alias.exists():
        alias.symlink_to(Path(child.__file__).parent, target_is_directory=True)
    job = {"program_dir": str(PROGRAMS / program), "project": program, "stack": "test", "config": config or {},
           "secret_keys": [], "region": region}
    job_path, result_path = tmp / f"{program}-job.json", tmp / f"{program}-result.json"
    job_path.write_text(json.dumps(job))
    site = sysconfig.get_paths()["purelib"]
    bootstrap = (
        "import runpy, sys; "
        f"sys.path[:] = [{str(alias_dir)!r}, {site!r}] + [p for p in sys.path if 'site-packages' not in p and p]; "
        "import importlib.util; "
        "assert importlib.util.find_spec('modelfort') is None, 'ModelFort is importable: the isolation is broken'; "
        f"sys.argv = ['program_runner', {str(job_path)!r}, {str(result_path)!r}]; "
        "runpy.run_module('_modelfort_gate_child.program_runner', run_name='__main__')"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join([str(alias_dir), site]),
           "HOME": str(tmp)}
    completed = subprocess.run([sys.executable, "-S", "-s", "-E", "-c", bootstrap], cwd=str(tmp), env=env, capture_output=True,
                               text=True, timeout=RUNNER_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0 and result_path.exists(), f"the child runner failed:\n{completed.stderr[-4000:]}"
    return json.loads(result_path.read_text())


def by_name(result: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [r for r in result["resources"] if r["name"] == name]
    assert len(matches) == 1, f"expected one resource named {name!r}, found {[r['urn'] for r in matches]}"
    return matches[0]


def program_copy(tmp: Path, program: str, config: dict[str, str]) -> Path:
    """A scratch copy of a test program with a `test` stack holding `config` (for whole-gate runs)."""
    import shutil

    import yaml

    target = tmp / program
    shutil.copytree(PROGRAMS / program, target, dirs_exist_ok=True)
    (target / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return target
