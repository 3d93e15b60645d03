"""Runs one Pulumi Python program under mocks and records every resource it registers.

It runs in a child process of the gate (`python -m modelfort.gate.program_runner JOB.json RESULT.json`): a program
may print, leak global state, or exit; none of that can reach the gate's own verdict. The result file holds each
resource as the engine would send it to a policy pack (engine property names, secrets and unknowns in their wire
encodings, resource references as ids), plus its parent, provider and dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import runpy
import sys
import threading
import traceback
from typing import Any

from google.protobuf import json_format

import pulumi
import pulumi.runtime
from pulumi.runtime.mocks import MockMonitor

from modelfort.gate.mocks import RealisticMocks

RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
STACK_TYPE = "pulumi:pulumi:Stack"


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps what the engine would know of each registration."""

    def __init__(self, mocks: RealisticMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method name)
        response = super().RegisterResource(request)
        record = {
            "urn": response.urn,
            "type": request.type,
            "name": request.name,
            "custom": bool(request.custom),
            "parent": request.parent,
            "provider": request.provider,
            "id": response.id,
            "properties": _engine_properties(json_format.MessageToDict(request.object)),
            "dependencies": list(request.dependencies),
            "propertyDependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
            "protect": bool(request.protect),
        }
        with self._lock:
            self.recorded.append(record)
        return response


def _engine_properties(value: Any) -> Any:
    """Resource references become the referenced resource's id (custom) or URN, as engines send them to analyzers;
    secrets, unknowns and assets keep their wire encodings, which the policy SDK decodes."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == RESOURCE_REF_SIG:
            return value.get("id") or value.get("urn")
        return {k: _engine_properties(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_properties(v) for v in value]
    return value


def run(job: dict[str, Any]) -> dict[str, Any]:
    program_dir = os.path.abspath(job["program_dir"])
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    pulumi.runtime.set_all_config(job["config"], job.get("secret_keys", []))
    mocks = RealisticMocks(region=job.get("region"))
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=job["project"], stack=job["stack"], preview=False, monitor=monitor)

    error: dict[str, Any] | None = None
    try:
        # A program's prints must not be mistaken for the gate's output.
        with contextlib.redirect_stdout(sys.stderr):
            runpy.run_path(os.path.join(program_dir, job.get("main", "__main__.py")), run_name="__main__")
            loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
    except BaseException as exc:  # noqa: BLE001 - every failure, SystemExit included, is reported, never swallowed
        error = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
            "exit_code": getattr(exc, "gate_exit_code", None),
        }
    return {
        "resources": monitor.recorded,
        "error": error,
        "unanswered_invokes": sorted(set(mocks.unanswered_invokes)),
    }


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    result = run(job)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
