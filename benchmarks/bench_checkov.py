"""What checkov's cloud checks cost inside the pack, side by side in one run. Prints, never asserts.

1. The offline gate on the production stack with the pack in its own environment (checkov installed and run).
2. The same gate with the same pack in an environment without checkov (the project's own interpreter): the checkov
   policies then run nothing, so the difference is what the checkov step costs the gate.
3. checkov's own CLI on the plan the pack converts from the same stack: with the curated checks only (the work the
   pack asks of checkov), and with every check checkov has. Both include checkov's import, as a CI job's would.

Goals (issue 14): the checkov step costs at most what checkov's CLI costs on the same plan, and the whole production
gate stays under 10 s on 2 cores.

Run: python benchmarks/bench_checkov.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "policy_packs" / "modelfort"
sys.path.insert(0, str(PACK))

from modelfort.gate.engine import GateOptions, run_gate, run_program_under_mocks  # noqa: E402
from modelfort.gate.environments import pack_interpreter  # noqa: E402
from modelfort.gate.stack_files import read_project, read_stack  # noqa: E402
from modelfort_policy.checkov.convert import StackInput, convert  # noqa: E402
from modelfort_policy.checkov.curated import load_table  # noqa: E402


def gate(pack_dir: Path, repeat: int) -> tuple[float, dict[str, float], int]:
    times, report = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        report = run_gate(GateOptions(program_dir=str(REPO), stack="production", policy_pack=str(pack_dir)))
        times.append(time.perf_counter() - started)
    checkov_findings = sum(1 for v in report.verdict.violations if v.policy.startswith("checkov:"))
    return statistics.median(times), report.timings, checkov_findings


def pack_without_checkov(scratch: Path) -> Path:
    """The same pack, told (as a user's PulumiPolicy.yaml can) to run in the project's interpreter, which lacks checkov."""
    copy = scratch / "pack-without-checkov"
    shutil.copytree(PACK, copy, ignore=shutil.ignore_patterns("__pycache__"))
    venv = Path(sys.prefix)
    text = (copy / "PulumiPolicy.yaml").read_text().replace("runtime: python", f"runtime:\n  name: python\n  options:\n    virtualenv: {venv}")
    (copy / "PulumiPolicy.yaml").write_text(text)
    return copy


def converted_plan(scratch: Path) -> tuple[Path, int]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "production"))
    inputs = [StackInput(resource_type=r["type"], name=r["name"], urn=r["urn"], props=r["properties"],
                         property_dependencies=r.get("propertyDependencies") or {})
              for r in result["resources"] if r.get("custom", True)]
    conversion = convert(inputs)
    path = scratch / "plan.json"
    path.write_text(json.dumps(conversion.plan))
    return path, len(conversion.plan["planned_values"]["root_module"]["resources"])


def checkov_cli(checkov: Path, plan: Path, checks: list[str] | None, repeat: int) -> float:
    command = [str(checkov), "-f", str(plan), "--framework", "terraform_plan", "--compact", "--quiet", "-o", "json"]
    if checks:
        command += ["--check", ",".join(checks)]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, timeout=600)  # exit 1 when checks fail: expected
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkov = Path(pack_interpreter(str(PACK)).python).parent / "checkov"
    with tempfile.TemporaryDirectory(prefix="bench-checkov-") as tmp:
        scratch = Path(tmp)
        with_total, with_timings, findings = gate(PACK, args.repeat)
        without_total, without_timings, _ = gate(pack_without_checkov(scratch), args.repeat)
        plan, planned = converted_plan(scratch)
        curated = [check.check_id for check in load_table().checks]
        cli_curated = checkov_cli(checkov, plan, curated, args.repeat)
        cli_all = checkov_cli(checkov, plan, None, args.repeat)
    step = with_total - without_total
    print(f"production stack: {planned} resources in the converted plan, {len(curated)} curated checks "
          f"(median of {args.repeat})")
    print(f"  gate, pack with checkov     {with_total:6.2f} s  (program {with_timings.get('program', 0):.2f} s, "
          f"policies {with_timings.get('policies', 0):.2f} s; {findings} checkov finding(s))")
    print(f"  gate, pack without checkov  {without_total:6.2f} s  (program {without_timings.get('program', 0):.2f} s, "
          f"policies {without_timings.get('policies', 0):.2f} s)")
    print(f"  the checkov step in the gate {step:6.2f} s")
    print(f"  checkov CLI, curated checks {cli_curated:6.2f} s   -> the gate's step costs {step / cli_curated:.2f}x of it "
          f"(goal <= 1.00x)")
    print(f"  checkov CLI, every check    {cli_all:6.2f} s   -> the whole gate costs {with_total / cli_all:.2f}x of it "
          f"(longer-term goal <= 1.00x)")
    print(f"  whole production gate {with_total:.2f} s (goal < 10 s on 2 cores)")


if __name__ == "__main__":
    main()
