"""One gate evaluation: read the stack, run the program and the pack side by side, judge, and keep it all for the
report writers. Every report is written from the same `GateReport`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelfort.gate.analyzer import PackError, PackInfo, PackProcess
from modelfort.gate.stack_files import Project, StackFile, UsageError, read_project, read_stack
from modelfort.gate.verdict import EXIT_FAILURE, EXIT_USAGE, Verdict, judge

DEFAULT_PACK = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "policy_packs", "modelfort")
PROGRAM_TIMEOUT_SECONDS = 600
ZONE_KEY = "modelfort:zone"
WAIVERS_KEY = "modelfort:waivers"


@dataclass(frozen=True)
class GateOptions:
    program_dir: str
    stack: str
    policy_pack: str = DEFAULT_PACK
    today: dt.date | None = None
    """The date waivers are judged against; defaults to today's UTC date."""


@dataclass
class GateReport:
    options: GateOptions
    project: Project | None = None
    stack_file: StackFile | None = None
    pack: PackInfo | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    waivers: list[dict[str, str]] = field(default_factory=list)
    """The waivers the stack config declares (valid ones), for every report."""
    error: str | None = None
    """Why the gate could not judge (usage, program or pack failure)."""
    error_exit_code: int | None = None
    unanswered_invokes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if self.error_exit_code is not None:
            return self.error_exit_code
        return self.verdict.exit_code

    @property
    def verdict_name(self) -> str:
        return {0: "pass", 1: "blocked", 2: "error", 3: "error"}[self.exit_code]

    @property
    def zone(self) -> str | None:
        if self.stack_file is None:
            return None
        zone = self.stack_file.raw.get(ZONE_KEY)
        return zone if isinstance(zone, str) else None


Progress = Callable[[str], None]


def run_gate(options: GateOptions, progress: Progress = lambda _message: None) -> GateReport:
    report = GateReport(options)
    started = time.perf_counter()
    try:
        _evaluate(report, progress)
    except UsageError as error:
        report.error, report.error_exit_code = str(error), EXIT_USAGE
    except PackError as error:
        report.error, report.error_exit_code = str(error), EXIT_FAILURE
    report.timings["total"] = time.perf_counter() - started
    return report


def _evaluate(report: GateReport, progress: Progress) -> None:
    options = report.options
    if not os.path.isfile(os.path.join(options.policy_pack, "PulumiPolicy.yaml")):
        raise UsageError(f"{options.policy_pack}: not a policy pack (no PulumiPolicy.yaml)")
    project = report.project = read_project(options.program_dir)
    stack_file = report.stack_file = read_stack(project, options.stack)
    if stack_file.path is None:
        progress(f"no stack config for '{options.stack}' in {project.stack_config_dir}: judging at the strictest tier")
    today = options.today or dt.datetime.now(dt.timezone.utc).date()
    waiver_problems = _waivers(report, stack_file, today)

    progress("starting the policy pack and running the program under mocks")
    clock = time.perf_counter()
    with PackProcess(
        pack_dir=os.path.abspath(options.policy_pack),
        project=project.name,
        stack=options.stack,
        config=stack_file.config,
        secret_keys=stack_file.secret_keys,
    ) as pack:
        # The pack starts while the program runs: they are independent, and two cores halve the wait.
        result = run_program_under_mocks(project, stack_file)
        report.timings["program"] = time.perf_counter() - clock
        report.resources = result["resources"]
        report.unanswered_invokes = result.get("unanswered_invokes", [])
        if result["error"] is not None:
            error = result["error"]
            report.error = f"the program failed: {error['type']}: {error['message']}\n{error['traceback']}"
            report.error_exit_code = error.get("exit_code") or EXIT_FAILURE
            return
        progress(f"program registered {len(report.resources)} resources; judging them with the policy pack")
        clock = time.perf_counter()
        pack.connect()
        pack.handshake(project.directory)
        info = report.pack = pack.analyzer_info()
        pack.configure(info)
        pack.configure_stack()
        diagnostics = []
        for resource in report.resources:
            diagnostics.extend(pack.analyze(resource))
        diagnostics.extend(pack.analyze_stack(report.resources))
        report.timings["policies"] = time.perf_counter() - clock
    report.verdict = judge(diagnostics, info, {r["urn"]: r for r in report.resources}, waiver_problems)


def _waivers(report: GateReport, stack_file: StackFile, today: dt.date) -> list[str]:
    # The waiver format is the ModelFort pack's; the gate reads it with the pack's own parser so both agree.
    from modelfort_policy.waivers import parse_waivers

    waivers, problems = parse_waivers(stack_file.raw.get(WAIVERS_KEY), today)
    report.waivers = [w.to_dict() for w in waivers]
    return [str(p) for p in problems]


def run_program_under_mocks(project: Project, stack_file: StackFile) -> dict[str, Any]:
    region = stack_file.config.get("aws:region")
    job = {
        "program_dir": project.directory,
        "main": project.main,
        "project": project.name,
        "stack": stack_file.stack,
        "config": stack_file.config,
        "secret_keys": list(stack_file.secret_keys),
        "region": region,
    }
    with tempfile.TemporaryDirectory(prefix="modelfort-gate-") as scratch:
        job_path, result_path = os.path.join(scratch, "job.json"), os.path.join(scratch, "result.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump(job, handle)
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "modelfort.gate.program_runner", job_path, result_path],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=PROGRAM_TIMEOUT_SECONDS,
                env={**os.environ, "PYTHONPATH": _pythonpath()},
            )
        except subprocess.TimeoutExpired:
            return _failed("Timeout", f"the program did not finish within {PROGRAM_TIMEOUT_SECONDS}s")
        if not os.path.isfile(result_path):
            return _failed("Crash", f"the program runner exited with {completed.returncode}:\n{completed.stderr[-4000:]}")
        with open(result_path, encoding="utf-8") as handle:
            return json.load(handle)


def _pythonpath() -> str:
    # The runner must import this package even when the gate runs from a source checkout.
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    existing = os.environ.get("PYTHONPATH")
    return here if not existing else f"{here}{os.pathsep}{existing}"


def _failed(kind: str, message: str) -> dict[str, Any]:
    return {"resources": [], "error": {"type": kind, "message": message, "traceback": "", "exit_code": None}}
