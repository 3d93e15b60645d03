"""Run one adversarial corpus case as its own tiny Pulumi program, through the real paths, and read the verdict.

A corpus case is a small insecure program written the way a platform engineer would write it (plain pulumi_aws,
pulumi_gcp or pulumi_kubernetes code), plus the name of the resource the gate must block. Each case has a secure
twin that must pass, so a rule that blocks everything cannot make the corpus green.

The path a case takes is the gate's own: the program is written to a scratch project, run by the gate's program
runner under mocks in a child process (`modelfort.gate.engine.run_program_under_mocks`), and every registration it
makes is judged by a running ModelFort pack over the analyzer protocol; the verdict is the gate's `judge` plus its own
findings (`gate_findings`). Only the pack process is shared: one per zone, from the session's `PackPool`
(tests/conftest.py), because starting a pack costs about a second and the pack keeps no state between resources.

API (kept stable; tests/adversarial/k8s/ and tests/adversarial/cloud/ import it):

    case_source(program)                  -> str               the program text a case runs
    run_case(pool, program, zone=...)     -> CaseResult        run it, judge it
    assert_blocked(result, resource, policy=None)              a mandatory violation on that resource
    assert_passes(result)                                      no blocking violation at all

`program` is either the program's source text, or a function whose body is the program: the function is written out
with `inspect.getsource` and called at the end, so it must import what it uses inside its body (it runs in a fresh
interpreter, not in the test process).
"""

from __future__ import annotations

import inspect
import json
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelfort.gate.engine import judged_component_types, run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack
from modelfort.gate.verdict import Verdict, Violation, gate_findings, judge

# The project and stack the scratch programs and the shared packs both use, so URNs agree with the pack's view.
PROJECT = "fixture"
STACK = "test"
AWS_REGION = "us-east-1"
GCP_CONFIG = {"gcp:project": "modelfort-corpus", "gcp:region": "us-central1"}

Program = str | Callable[[], None]


@dataclass
class CaseResult:
    """What the gate said about one case: the registrations the program made and the verdict on them."""

    source: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    error: dict[str, Any] | None = None
    """The program's own failure (exception type, message, traceback), if it did not run to the end."""

    @property
    def blocking(self) -> list[Violation]:
        return self.verdict.blocking

    def describe(self) -> str:
        """Every violation, one a line, for assertion messages."""
        lines = [f"{'BLOCK' if v.blocking else 'advice'} {v.policy} on {v.resource_name or v.urn}: {v.message}"
                 for v in self.verdict.violations]
        return "\n".join(lines) if lines else "(no violations)"


def case_source(program: Program) -> str:
    """The program text a case runs: source as given, or a function's definition followed by a call to it."""
    if isinstance(program, str):
        return textwrap.dedent(program)
    if not callable(program):
        raise TypeError(f"a corpus case is a program source string or a function, not {type(program).__name__}")
    definition = textwrap.dedent(inspect.getsource(program))
    return f"{definition}\n\n{program.__name__}()\n"


def zone_config(zone: str, cloud: str = "aws", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stack config a case runs with: the zone, the cloud's region settings, and anything the case adds."""
    base = {"aws:region": AWS_REGION} if cloud == "aws" else dict(GCP_CONFIG)
    return {**base, "modelfort:zone": zone, "modelfort:cloud": cloud, **dict(extra or {})}


def run_case(pool: Any, program: Program, zone: str = "production", cloud: str = "aws",
             config: Mapping[str, str] | None = None) -> CaseResult:
    """Run one case as its own program under the gate's mocks and judge it with the zone's shared pack.

    `pool` is the `packs` fixture (a PackPool). The pack is keyed by the same config the program runs with."""
    stack_config = zone_config(zone, cloud, config)
    source = case_source(program)
    with tempfile.TemporaryDirectory(prefix="modelfort-corpus-") as scratch:
        directory = Path(scratch)
        (directory / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n", encoding="utf-8")
        (directory / f"Pulumi.{STACK}.yaml").write_text(json.dumps({"config": stack_config}), encoding="utf-8")
        (directory / "__main__.py").write_text(source, encoding="utf-8")
        project = read_project(str(directory))
        stack_file = read_stack(project, STACK)
        outcome = run_program_under_mocks(project, stack_file)
    result = CaseResult(source=source, resources=outcome["resources"], error=outcome["error"])
    if result.error is not None:
        return result
    pack = pool.get(stack_config)
    info = pack.analyzer_info()
    diagnostics = []
    for resource in result.resources:
        diagnostics.extend(pack.analyze(resource))
    diagnostics.extend(pack.analyze_stack(result.resources))
    result.verdict = judge(diagnostics, info, {r["urn"]: r for r in result.resources})
    findings, waived, _used = gate_findings(result.resources, list(outcome.get("unexpandable") or []),
                                     judged_component_types(info), [])
    result.verdict.add(findings, waived)
    return result


def _program_ran(result: CaseResult) -> None:
    # A program that crashed proves nothing either way: a crash must never count as "blocked" or as "passes".
    if result.error is not None:
        raise AssertionError(
            f"the case program failed before it could be judged: {result.error['type']}: {result.error['message']}\n"
            f"{result.error.get('traceback', '')}\n--- program ---\n{result.source}"
        )


def blocked_on(result: CaseResult, resource: str, policy: str | None = None) -> list[Violation]:
    """The mandatory violations on the named resource (by resource name), optionally of one policy."""
    return [v for v in result.blocking
            if v.resource_name == resource and (policy is None or v.policy == policy)]


def assert_blocked(result: CaseResult, resource: str, policy: str | None = None) -> None:
    """The case is blocked with a mandatory violation on `resource` (of `policy`, when given)."""
    _program_ran(result)
    names = sorted({str(r.get("name")) for r in result.resources})
    if resource not in names:
        raise AssertionError(f"the case registered no resource named {resource!r}; it registered {names}")
    if not blocked_on(result, resource, policy):
        wanted = f"a mandatory {policy!r} violation" if policy else "a mandatory violation"
        raise AssertionError(f"expected {wanted} on {resource!r}; the gate said:\n{result.describe()}"
                             f"\n--- program ---\n{result.source}")


def assert_passes(result: CaseResult) -> None:
    """The case (a secure twin) runs and nothing blocks it."""
    _program_ran(result)
    if result.blocking:
        raise AssertionError(f"expected the secure twin to pass; the gate blocked it:\n{result.describe()}"
                             f"\n--- program ---\n{result.source}")
