"""Which Python interpreter runs the program and which runs the policy pack, chosen the way the Pulumi CLI does.

Program (Pulumi.yaml `runtime`, a string or `{name: python, options: {toolchain, virtualenv, typechecker}}`):
  - toolchain pip (the default) with `virtualenv: DIR`: DIR/bin/python, DIR relative to the project directory.
  - toolchain poetry: the environment `poetry env info --path` names, asked in the project directory.
  - toolchain uv: `virtualenv` if given, else the project's `.venv` (uv's default).
  - no toolchain environment named at all: the CLI uses the `python3` on PATH, which is the activated virtualenv's
    when one is active. The gate does the same when VIRTUAL_ENV names one, and otherwise uses its own interpreter
    (a bare system `python3` would rarely hold the Pulumi SDK).
  A named environment that does not exist is created and filled the way `pulumi install` does (pip: `python -m venv`
  then `pip install -r requirements.txt`; poetry: `poetry install --no-root`; uv: `uv sync` or `uv pip install -r`),
  unless the gate runs with --no-install, when it is an error that says how to create it.

Policy pack (PulumiPolicy.yaml `runtime`, same shape):
  - `virtualenv: DIR`: PACK/DIR/bin/python, created from PACK/requirements.txt when missing, as the CLI does for
    `pulumi preview --policy-pack`.
  - no virtualenv but a requirements.txt: the CLI would run the pack with whatever `python3` is on PATH, which makes
    the verdict depend on the machine. The gate instead builds an environment from exactly the pack's requirements,
    cached under the pack-env cache keyed by a hash of requirements.txt and the interpreter version, so the pack is
    judged with what it declares and a second run (or CI) reuses it.
  - neither: the gate's own interpreter.
  - `runtime: nodejs` or anything else: an error (exit 2); the offline gate speaks only to Python packs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from modelfort.gate.stack_files import UsageError

TOOLCHAINS = ("pip", "poetry", "uv")
INSTALL_TIMEOUT_SECONDS = 1800
QUERY_TIMEOUT_SECONDS = 120
PACK_ENV_CACHE_VARIABLE = "MODELFORT_PACK_ENV_CACHE"
COMPLETE_MARKER = ".modelfort-env-complete"
# pip's progress and per-location warnings: noise around the lines that say why an install failed.
PIP_PROGRESS = ("WARNING:", "Collecting ", "Downloading ", "Using cached ", "Requirement already satisfied",
                "Looking in ", "Obtaining ", "Processing ", "Preparing metadata", "Installing build dependencies",
                "Getting requirements to build", "INFO: ")


class EnvironmentProblem(UsageError):
    """The program's or the pack's interpreter is missing, unbuildable or of an unsupported runtime: exit 2."""


@dataclass(frozen=True)
class Interpreter:
    python: str
    source: str
    """Why this interpreter, in words for the summary (e.g. "Pulumi.yaml virtualenv 'venv'")."""
    created: bool = False
    """The gate created and filled this environment during this run."""
    virtualenv: str | None = None
    """The environment's directory, to activate it for the child like the CLI does (VIRTUAL_ENV, PATH)."""


@dataclass(frozen=True)
class RuntimeOptions:
    name: str
    toolchain: str = "pip"
    virtualenv: str | None = None
    typechecker: str | None = None


def parse_runtime(runtime: Any, where: str) -> RuntimeOptions:
    """Pulumi.yaml / PulumiPolicy.yaml `runtime`: a name, or a mapping with `name` and `options`."""
    if isinstance(runtime, str):
        return RuntimeOptions(name=runtime)
    if not isinstance(runtime, Mapping) or not isinstance(runtime.get("name"), str):
        raise EnvironmentProblem(f"{where}: 'runtime' must be a name (python) or a mapping with 'name' and 'options'")
    options = runtime.get("options") or {}
    if not isinstance(options, Mapping):
        raise EnvironmentProblem(f"{where}: 'runtime.options' must be a mapping")
    toolchain = options.get("toolchain", "pip")
    if toolchain not in TOOLCHAINS:
        raise EnvironmentProblem(f"{where}: runtime.options.toolchain is {toolchain!r}; allowed: {', '.join(TOOLCHAINS)}")
    virtualenv = options.get("virtualenv")
    if virtualenv is not None and (not isinstance(virtualenv, str) or not virtualenv):
        raise EnvironmentProblem(f"{where}: runtime.options.virtualenv must be a directory name, got {virtualenv!r}")
    typechecker = options.get("typechecker")
    return RuntimeOptions(runtime["name"], toolchain, virtualenv, typechecker if isinstance(typechecker, str) else None)


# ---------------------------------------------------------------------------------------------------- program
def _unnamed_environment() -> Interpreter:
    active = os.environ.get("VIRTUAL_ENV")
    if active and is_virtualenv(active) and os.path.realpath(active) != os.path.realpath(sys.prefix):
        return Interpreter(venv_python(active), f"the active virtualenv {active} (VIRTUAL_ENV; Pulumi.yaml names none)", virtualenv=active)
    return Interpreter(sys.executable, "the gate's own interpreter (Pulumi.yaml names no virtualenv)")


def program_interpreter(project_dir: str, runtime: RuntimeOptions, install: bool = True) -> Interpreter:
    if runtime.toolchain == "poetry":
        return _poetry_interpreter(project_dir, install)
    if runtime.toolchain == "uv":
        return _uv_interpreter(project_dir, runtime.virtualenv or ".venv", install)
    if runtime.virtualenv is None:
        return _unnamed_environment()
    env_dir = _resolve(project_dir, runtime.virtualenv)
    source = f"Pulumi.yaml runtime.options.virtualenv {runtime.virtualenv!r}"
    if is_virtualenv(env_dir):
        return Interpreter(venv_python(env_dir), source, virtualenv=env_dir)
    requirements = os.path.join(project_dir, "requirements.txt")
    if not install:
        steps = [f"python3 -m venv {runtime.virtualenv}"]
        if os.path.isfile(requirements):
            steps.append(f"{runtime.virtualenv}/bin/python -m pip install -r requirements.txt")
        raise EnvironmentProblem(
            f"{project_dir}: Pulumi.yaml names the virtualenv {runtime.virtualenv!r}, but {env_dir} is not a virtual "
            f"environment, and --no-install forbids creating it. Create it with `pulumi install`, or: "
            + " && ".join(steps)
        )
    if not os.path.isfile(requirements):
        # An empty virtualenv cannot run a Pulumi program (no pulumi SDK): say so now rather than fail inside it.
        raise EnvironmentProblem(
            f"{project_dir}: Pulumi.yaml names the virtualenv {runtime.virtualenv!r}, but {env_dir} is not a virtual "
            "environment, and there is no requirements.txt to create it from. Create it yourself (python3 -m venv "
            f"{runtime.virtualenv}, then install the program's dependencies into it) or add a requirements.txt."
        )
    create_pip_env(env_dir, requirements, cwd=project_dir)
    return Interpreter(venv_python(env_dir), source + " (created from requirements.txt)", created=True, virtualenv=env_dir)


def _poetry_interpreter(project_dir: str, install: bool) -> Interpreter:
    poetry = _require_tool("poetry", "https://python-poetry.org/docs/#installation")
    env_dir = _poetry_env(poetry, project_dir)
    created = False
    if env_dir is None:
        if not install:
            raise EnvironmentProblem(
                f"{project_dir}: Pulumi.yaml names toolchain poetry, but poetry has no environment for this project, "
                "and --no-install forbids creating it. Create it with `pulumi install` or `poetry install --no-root`."
            )
        _run([poetry, "install", "--no-root", "--no-interaction"], project_dir, "poetry install")
        env_dir, created = _poetry_env(poetry, project_dir), True
        if env_dir is None:
            raise EnvironmentProblem(f"{project_dir}: `poetry install` ran but `poetry env info --path` still names no environment")
    return Interpreter(venv_python(env_dir), "Pulumi.yaml toolchain poetry (`poetry env info --path`)", created, env_dir)


def _poetry_env(poetry: str, project_dir: str) -> str | None:
    completed = subprocess.run([poetry, "env", "info", "--path"], cwd=project_dir, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=QUERY_TIMEOUT_SECONDS)
    path = completed.stdout.strip()
    return path if completed.returncode == 0 and path and is_virtualenv(path) else None


def _uv_interpreter(project_dir: str, virtualenv: str, install: bool) -> Interpreter:
    uv = _require_tool("uv", "https://docs.astral.sh/uv/getting-started/installation/")
    env_dir = _resolve(project_dir, virtualenv)
    source = f"Pulumi.yaml toolchain uv, environment {virtualenv!r}"
    if is_virtualenv(env_dir):
        return Interpreter(venv_python(env_dir), source, virtualenv=env_dir)
    if not install:
        raise EnvironmentProblem(
            f"{project_dir}: Pulumi.yaml names toolchain uv, but {env_dir} is not a virtual environment, and "
            "--no-install forbids creating it. Create it with `pulumi install` or `uv sync`."
        )
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": env_dir}
    if os.path.isfile(os.path.join(project_dir, "pyproject.toml")):
        _run([uv, "sync"], project_dir, "uv sync", env)
    else:
        _run([uv, "venv", env_dir], project_dir, "uv venv", env)
        requirements = os.path.join(project_dir, "requirements.txt")
        if os.path.isfile(requirements):
            _run([uv, "pip", "install", "--python", venv_python(env_dir), "-r", requirements], project_dir, "uv pip install", env)
    return Interpreter(venv_python(env_dir), source + " (created)", created=True, virtualenv=env_dir)


def _require_tool(name: str, how: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise EnvironmentProblem(f"Pulumi.yaml names toolchain {name}, but {name} is not installed (not on PATH); install it ({how}) or change the toolchain")
    return found


# ---------------------------------------------------------------------------------------------------- pack
def pack_interpreter(pack_dir: str, install: bool = True) -> Interpreter:
    path = os.path.join(pack_dir, "PulumiPolicy.yaml")
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as error:
        raise EnvironmentProblem(f"{path}: cannot read it as YAML ({error})") from error
    if not isinstance(document, Mapping):
        raise EnvironmentProblem(f"{path}: must be a YAML mapping")
    runtime = parse_runtime(document.get("runtime"), path)
    if runtime.name == "nodejs":
        raise EnvironmentProblem(
            f"{path}: a Node.js policy pack; the offline gate runs Python packs only. Judge this stack with "
            "`pulumi preview --policy-pack` where the Pulumi CLI is installed."
        )
    if runtime.name != "python":
        raise EnvironmentProblem(f"{path}: runtime is {runtime.name!r}; the offline gate runs Python policy packs only (runtime: python)")
    requirements = os.path.join(pack_dir, "requirements.txt")
    has_requirements = os.path.isfile(requirements)
    if runtime.virtualenv is not None:
        env_dir = _resolve(pack_dir, runtime.virtualenv)
        source = f"PulumiPolicy.yaml runtime.options.virtualenv {runtime.virtualenv!r}"
    elif has_requirements:
        env_dir = cached_pack_env_dir(pack_dir)
        source = f"the pack's requirements.txt, environment cached at {env_dir}"
    else:
        return Interpreter(sys.executable, "the gate's own interpreter (the pack names no virtualenv and has no requirements.txt)")
    cached = runtime.virtualenv is None
    if _env_complete(env_dir, cached):
        return Interpreter(venv_python(env_dir), source, virtualenv=env_dir)
    if not install:
        raise EnvironmentProblem(
            f"{pack_dir}: the policy pack's environment {env_dir} does not exist, and --no-install forbids creating it. "
            f"Create it with `{sys.executable} -m modelfort.gate.environments pack {pack_dir}`."
        )
    with _lock(env_dir):
        # Another gate (a parallel test worker, say) may have built it while this one waited for the lock.
        if not _env_complete(env_dir, cached):
            if os.path.isdir(env_dir) and cached:
                shutil.rmtree(env_dir)  # a half-built cache entry from an interrupted run
            create_pip_env(env_dir, requirements if has_requirements else None, cwd=pack_dir)
            if cached:
                with open(os.path.join(env_dir, COMPLETE_MARKER), "w", encoding="utf-8") as handle:
                    handle.write(_requirements_key(pack_dir) + "\n")
            created = True
        else:
            created = False
    return Interpreter(venv_python(env_dir), source + (" (created)" if created else ""), created, env_dir)


def cached_pack_env_dir(pack_dir: str) -> str:
    root = os.environ.get(PACK_ENV_CACHE_VARIABLE) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "modelfort", "pack-envs"
    )
    name = os.path.basename(os.path.abspath(pack_dir)) or "pack"
    return os.path.join(root, f"{name}-{_requirements_key(pack_dir)[:16]}")


def _requirements_key(pack_dir: str) -> str:
    """Same requirements and same interpreter version: same environment. Anything else: a new one."""
    digest = hashlib.sha256()
    with open(os.path.join(pack_dir, "requirements.txt"), "rb") as handle:
        digest.update(handle.read())
    digest.update(f"\0{sys.version_info.major}.{sys.version_info.minor}\0{sys.platform}".encode())
    return digest.hexdigest()


def _env_complete(env_dir: str, cached: bool) -> bool:
    # A cache entry counts only once fully installed (the marker is written last); a virtualenv the pack names is
    # the pack author's to manage, as with the CLI.
    if not is_virtualenv(env_dir):
        return False
    return not cached or os.path.isfile(os.path.join(env_dir, COMPLETE_MARKER))


@contextlib.contextmanager
def _lock(env_dir: str) -> Iterator[None]:
    os.makedirs(os.path.dirname(os.path.abspath(env_dir)), exist_ok=True)
    with open(os.path.abspath(env_dir) + ".lock", "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------------- shared
def create_pip_env(env_dir: str, requirements: str | None, cwd: str) -> None:
    """What `pulumi install` does for the pip toolchain: a venv, then the requirements into it."""
    _run([sys.executable, "-m", "venv", env_dir], cwd, "python -m venv")
    if requirements is not None:
        # Not -q: without it pip says which requirements conflict ("The conflict is caused by: ...").
        _run([venv_python(env_dir), "-m", "pip", "install", "--progress-bar", "off", "-r", requirements], cwd,
             "pip install -r requirements.txt")


def is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg")) and os.path.isfile(venv_python(path))


def venv_python(env_dir: str) -> str:
    return os.path.join(env_dir, "bin", "python")


def activated_env(interpreter: Interpreter, base: Mapping[str, str]) -> dict[str, str]:
    """The environment the CLI gives a program run in a virtualenv: VIRTUAL_ENV set, its bin first on PATH."""
    env = dict(base)
    if interpreter.virtualenv:
        env["VIRTUAL_ENV"] = interpreter.virtualenv
        env["PATH"] = os.path.join(interpreter.virtualenv, "bin") + os.pathsep + env.get("PATH", "")
        env.pop("PYTHONHOME", None)
    return env


def _resolve(base: str, path: str) -> str:
    return os.path.abspath(path if os.path.isabs(path) else os.path.join(base, path))


def _run(command: list[str], cwd: str, what: str, env: Mapping[str, str] | None = None) -> None:
    try:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                   timeout=INSTALL_TIMEOUT_SECONDS, env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired as error:
        raise EnvironmentProblem(f"{what} in {cwd} did not finish within {INSTALL_TIMEOUT_SECONDS}s") from error
    if completed.returncode != 0:
        raise EnvironmentProblem(f"{what} in {cwd} failed (exit {completed.returncode}):\n{_failure_text(completed)}")


def _failure_text(completed: subprocess.CompletedProcess) -> str:
    """pip prints a warning per ignored index location before the error that matters; keep what explains the
    failure (the conflict, the missing version), and the raw tail when there is nothing else."""
    output = "\n".join(part for part in (completed.stdout, completed.stderr) if part)
    lines = [line for line in output.splitlines() if line.strip() and not line.lstrip().startswith(PIP_PROGRESS)]
    return ("\n".join(lines) if lines else output.strip())[-3000:]


def main(argv: list[str]) -> int:
    """`python -m modelfort.gate.environments pack DIR`: build (or confirm) a pack's environment up front, for CI."""
    if len(argv) != 2 or argv[0] != "pack":
        print("usage: python -m modelfort.gate.environments pack PACK_DIR", file=sys.stderr)
        return 2
    try:
        interpreter = pack_interpreter(os.path.abspath(argv[1]))
    except EnvironmentProblem as problem:
        print(f"modelfort gate: {problem}", file=sys.stderr)
        return 2
    print(interpreter.python)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
