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

from modelfort.gate.analyzer import PackError, PackInfo, PackProcess, PolicyInfo
from modelfort.gate.environments import Interpreter, activated_env, pack_interpreter, parse_runtime, program_interpreter
from modelfort.gate.stack_files import Project, StackFile, UsageError, read_project, read_stack
from modelfort.gate.verdict import (
    EXIT_FAILURE,
    EXIT_USAGE,
    GATE_POLICIES,
    MODELFORT_PACK_NAME,
    Verdict,
    gate_findings,
    judge,
    without_unused_claims,
)

DEFAULT_PACK = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "policy_packs", "modelfort")
PROGRAM_TIMEOUT_SECONDS = 600
CHILD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child")
CHILD_PACKAGE = "_modelfort_gate_child"
# Errors of the program that are the stack's config, not the program or the gate: exit 2, like a usage error.
CONFIG_ERROR_TYPES = frozenset({"ConfigMissingError", "ConfigTypeError"})
ZONE_KEY = "modelfort:zone"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
STACK_TYPE = "pulumi:pulumi:Stack"
WAIVERS_KEY = "modelfort:waivers"


@dataclass(frozen=True)
class GateOptions:
    program_dir: str
    stack: str
    policy_pack: str = DEFAULT_PACK
    today: dt.date | None = None
    """The date waivers are judged against; defaults to today's UTC date."""
    install: bool = True
    """Create a missing program or pack environment (as `pulumi install` does); False: a missing one is exit 2."""


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
    mock_gaps: list[dict[str, str]] = field(default_factory=list)
    """What the gate's mocks could not answer ({kind: invoke|output, token, detail}): gaps of the gate, not the program."""
    unexpandable: list[dict[str, str]] = field(default_factory=list)
    program_python: Interpreter | None = None
    pack_python: Interpreter | None = None
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
    def policies(self) -> dict[str, PolicyInfo]:
        """The pack's policies and the gate's own checks, for reports that list every rule."""
        if self.pack is None:
            return {}
        return {**self.pack.policies, **GATE_POLICIES}

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
    waivers, waiver_problems = _waivers(report, stack_file, today)

    clock = time.perf_counter()
    pack_dir = os.path.abspath(options.policy_pack)
    report.pack_python = pack_interpreter(pack_dir, install=options.install)
    report.program_python = program_interpreter(
        project.directory, parse_runtime(project.runtime, os.path.join(project.directory, "Pulumi.yaml")), install=options.install
    )
    report.timings["environments"] = time.perf_counter() - clock
    progress(f"program runs in {report.program_python.python} ({report.program_python.source})")
    progress(f"policy pack runs in {report.pack_python.python} ({report.pack_python.source})")

    progress("starting the policy pack and running the program under mocks")
    clock = time.perf_counter()
    with PackProcess(
        pack_dir=pack_dir,
        project=project.name,
        stack=options.stack,
        config=stack_file.config,
        secret_keys=stack_file.secret_keys,
        python=report.pack_python.python,
    ) as pack:
        # The pack starts while the program runs: they are independent, and two cores halve the wait.
        result = run_program_under_mocks(project, stack_file, report.program_python)
        report.timings["program"] = time.perf_counter() - clock
        report.resources = result["resources"]
        report.unanswered_invokes = result.get("unanswered_invokes", [])
        report.mock_gaps = list(result.get("mock_gaps") or [])
        report.unexpandable = list(result.get("unexpandable") or [])
        if result["error"] is not None:
            report.error, report.error_exit_code = program_failure(result["error"], report.mock_gaps)
            return
        progress(f"program made {describe_registrations(report.resources)}; judging them with the policy pack")
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
    report.unexpandable += provider_rendered_releases(report.resources, info)
    findings, waived, used = gate_findings(report.resources, report.unexpandable, judged_component_types(info), waivers)
    report.verdict.waiver_records = without_unused_claims(report.verdict.waiver_records, used)
    report.verdict.add(findings, waived)


def registration_counts(resources: list[dict[str, Any]]) -> dict[str, int]:
    """Registrations by kind. The plan counts custom resources only; the stack, components and providers are
    registered too, so 'registered' is larger than 'Plan' by exactly those."""
    counts = {"resources": 0, "components": 0, "providers": 0, "stack": 0}
    for r in resources:
        if r["type"] == STACK_TYPE:
            counts["stack"] += 1
        elif r["type"].startswith("pulumi:providers:"):
            counts["providers"] += 1
        elif r["custom"]:
            counts["resources"] += 1
        else:
            counts["components"] += 1
    return counts


def describe_registrations(resources: list[dict[str, Any]]) -> str:
    c = registration_counts(resources)
    return (f"{len(resources)} registrations: {c['resources']} resources planned, {c['components']} components, "
            f"{c['providers']} providers, {c['stack']} stack")


def program_failure(error: dict[str, Any], mock_gaps: list[dict[str, str]]) -> tuple[str, int]:
    """The message and exit code for a program that failed under the mocks. A missing required config value is the
    stack's config problem (exit 2); after a mock had no answer the failure is most likely the gate's (exit 3)."""
    text = f"the program failed: {error['type']}: {error['message']}\n{error.get('traceback', '')}"
    if error["type"] in CONFIG_ERROR_TYPES:
        return f"the stack's config is incomplete: {error['message']}\n{error.get('traceback', '')}", EXIT_USAGE
    if mock_gaps:
        gaps = "; ".join(describe_gap(g) for g in mock_gaps)
        text = (
            f"the program failed after the gate's mocks had no answer for: {gaps}. This is a gap in the offline gate's "
            "mocks, not necessarily a fault of the program; judge this stack with `pulumi preview --policy-pack` or "
            f"report the missing mock.\n{text}"
        )
    return text, error.get("exit_code") or EXIT_FAILURE


def describe_gap(gap: dict[str, str]) -> str:
    detail = f" ({gap['detail']})" if gap.get("detail") else ""
    return f"{gap.get('kind', 'invoke')} {gap.get('token', '?')}{detail}"


def judged_component_types(info: PackInfo) -> frozenset[str]:
    """The remote component types ModelFort's pack judges on their inputs. Honoured only for ModelFort's pack: a
    third-party pack's silence about a component says nothing. Missing module: none are judged (fail closed)."""
    if info.name != MODELFORT_PACK_NAME:
        return frozenset()
    try:
        from modelfort_policy.rules.remote_components import JUDGED_COMPONENT_TYPES
    except ImportError:
        return frozenset()
    return frozenset(JUDGED_COMPONENT_TYPES)


def provider_rendered_releases(resources: list[dict[str, Any]], info: PackInfo) -> list[dict[str, str]]:
    """Helm Releases whose objects the provider renders at deploy time, out of the offline gate's sight. Only
    ModelFort's pack vouches for the charts whose values it judges; under any other pack every Release is unseen."""
    from modelfort_policy.rules.kubernetes import chart_name
    from modelfort_policy.rules.remote_components import JUDGED_HELM_CHARTS

    judged = JUDGED_HELM_CHARTS if info.name == MODELFORT_PACK_NAME else frozenset()
    entries = []
    for resource in resources:
        if resource.get("type") != HELM_RELEASE:
            continue
        chart = (resource.get("properties") or {}).get("chart")
        if chart_name(chart) in judged:
            continue
        entries.append({"urn": resource["urn"], "kind": "helm-release",
                        "detail": f"chart {chart!r} is rendered by the Kubernetes provider at deploy time, so the objects "
                        "it creates were never seen; judge it with `pulumi preview --policy-pack`, render it with "
                        "helm.v4.Chart from a vendored chart, or waive it"})
    return entries


def _waivers(report: GateReport, stack_file: StackFile, today: dt.date) -> tuple[list[Any], list[str]]:
    # The waiver format is the ModelFort pack's; the gate reads it with the pack's own parser so both agree.
    from modelfort_policy.waivers import parse_waivers

    waivers, problems = parse_waivers(stack_file.raw.get(WAIVERS_KEY), today)
    report.waivers = [w.to_dict() for w in waivers]
    return waivers, [str(p) for p in problems]


def run_program_under_mocks(project: Project, stack_file: StackFile, interpreter: Interpreter | None = None) -> dict[str, Any]:
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
    python = interpreter.python if interpreter is not None else sys.executable
    with tempfile.TemporaryDirectory(prefix="modelfort-gate-") as scratch:
        job_path, result_path = os.path.join(scratch, "job.json"), os.path.join(scratch, "result.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump(job, handle)
        module, pythonpath = _child_launch(scratch)
        env = {**os.environ, "PYTHONPATH": pythonpath}
        if interpreter is not None:
            env = activated_env(interpreter, env)
        try:
            completed = subprocess.run(
                [python, "-m", module, job_path, result_path],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=PROGRAM_TIMEOUT_SECONDS,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return _failed("Timeout", f"the program did not finish within {PROGRAM_TIMEOUT_SECONDS}s")
        if not os.path.isfile(result_path):
            hint = ""
            if "ModuleNotFoundError" in completed.stderr:
                hint = (f" The program's interpreter {python} cannot import what the gate's runner needs there "
                        "(pulumi, grpcio, protobuf, pyyaml: the program's own Pulumi SDK): install the program's "
                        "dependencies into it.")
            return _failed("Crash", f"the program runner exited with {completed.returncode}.{hint}\n{completed.stderr[-4000:]}")
        with open(result_path, encoding="utf-8") as handle:
            return json.load(handle)


def _child_launch(scratch: str) -> tuple[str, str]:
    """The runner module and PYTHONPATH for the child. The child code is self-contained (stdlib, pulumi, grpc,
    protobuf, yaml) and reached through a symlink under a private name, so nothing of ModelFort (not our
    `components` package) shadows the program's own modules in the program's interpreter."""
    os.symlink(CHILD_DIR, os.path.join(scratch, CHILD_PACKAGE))
    existing = os.environ.get("PYTHONPATH")
    return f"{CHILD_PACKAGE}.program_runner", scratch if not existing else f"{scratch}{os.pathsep}{existing}"


def _failed(kind: str, message: str) -> dict[str, Any]:
    return {"resources": [], "error": {"type": kind, "message": message, "traceback": "", "exit_code": None}}
