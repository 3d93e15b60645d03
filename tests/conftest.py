"""Shared fixtures: a running ModelFort policy pack per stack config, and the offline gate on test programs."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import os

# gRPC's fork handlers run in a child forked with a preexec_fn (the fake-gcs-server fixture) and, with the session's
# pack channels open, can kill it before exec ("epoll_wait error: Bad file descriptor"). Read when grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run, so CI repeats exactly what was verified and no run's duration
# hangs on a random seed (one unlucky `from_regex` draw once took minutes). `print_blob` says how to replay a failure.
settings.register_profile("modelfort", derandomize=True, database=None, print_blob=True)
settings.load_profile("modelfort")

from modelfort.gate.analyzer import PackProcess  # noqa: E402
from modelfort.gate.environments import pack_interpreter

REPO = Path(__file__).resolve().parents[1]
PACK_DIR = REPO / "policy_packs" / "modelfort"
PROGRAMS = Path(__file__).resolve().parent / "programs"


@functools.lru_cache(maxsize=1)
def pack_python() -> str:
    """The pack's own environment (built from its requirements.txt, cached by their hash), as the gate runs it.
    scripts/test builds it up front; building it here is the fallback for a bare `pytest`."""
    return pack_interpreter(str(PACK_DIR)).python


class PackPool:
    """One pack process per distinct stack config, reused across tests (starting one costs about a second)."""

    def __init__(self) -> None:
        self._packs: dict[str, PackProcess] = {}

    def get(self, config: dict[str, str] | None = None) -> PackProcess:
        config = config if config is not None else {"modelfort:zone": "production"}
        key = json.dumps(config, sort_keys=True)
        if key not in self._packs:
            pack = PackProcess(pack_dir=str(PACK_DIR), project="fixture", stack="test", config=config, python=pack_python())
            pack.start()
            pack.connect()
            pack.configure(pack.analyzer_info())
            pack.configure_stack()
            self._packs[key] = pack
        return self._packs[key]

    def close(self) -> None:
        for pack in self._packs.values():
            pack.close()


@pytest.fixture(scope="session")
def packs() -> Iterator[PackPool]:
    pool = PackPool()
    yield pool
    pool.close()


@pytest.fixture
def program(tmp_path: Path):
    """Copy a test program to a scratch directory and give it a stack file: returns the program directory."""

    def make(name: str, stack: str = "test", config: dict | None = None) -> Path:
        target = tmp_path / name
        shutil.copytree(PROGRAMS / name, target, dirs_exist_ok=True)
        if config is not None:
            import yaml

            (target / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        return target

    return make
