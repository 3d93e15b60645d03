"""Gate wall time: the production stack against a synthetic program with ten times its resources, side by side.

The synthetic program builds ten copies of the production zone (each with its own CIDR) from the production stack's
own config, so it has ten times the resources of the same kinds. Prints, never asserts. Target: production gated in
under 5 s on 2 cores; 10x the resources costs at most 12x the time.

Run: python benchmarks/bench_gate.py [--repeat N] [--copies N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from modelfort.gate.engine import GateOptions, run_gate

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_MAIN = '''
import dataclasses

from components.aws.zone import AwsZone
from components.config import load_stack_config

config = load_stack_config()
for index in range({copies}):
    network = dataclasses.replace(config.network, cidr=f"10.{{100 + index}}.0.0/16")
    AwsZone(dataclasses.replace(config, network=network), name=f"{{config.zone}}{{index}}")
'''


def synthetic_program(directory: Path, copies: int) -> Path:
    program = directory / "ten-zones"
    (program / "stacks").mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: modelfort\nruntime: python\nstackConfigDir: stacks\n")
    (program / "__main__.py").write_text(SYNTHETIC_MAIN.format(copies=copies))
    stack = (REPO / "stacks" / "Pulumi.production.yaml").read_text()
    # The copies' Deployments are named production0-..., production1-...: widen the AppArmor waiver to match them.
    stack = stack.replace("Deployment::production-llama-guard*", "Deployment::production?-llama-guard*")
    (program / "stacks" / "Pulumi.production.yaml").write_text(stack)
    shutil.copytree(REPO / "components", program / "components")
    return program


def measure(options: GateOptions, repeat: int) -> tuple[float, int, dict[str, float]]:
    times, report = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        report = run_gate(options)
        times.append(time.perf_counter() - started)
        if report.exit_code != 0:
            raise SystemExit(f"{options.program_dir} did not pass the gate: {report.error or report.verdict.blocking}")
    custom = sum(1 for r in report.resources if r["custom"])
    return statistics.median(times), custom, report.timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelfort-bench-") as scratch:
        production = GateOptions(program_dir=str(REPO), stack="production")
        synthetic = GateOptions(program_dir=str(synthetic_program(Path(scratch), args.copies)), stack="production")
        run_gate(production)  # warm the file cache so the first measured run is not penalised
        base_time, base_count, base_timings = measure(production, args.repeat)
        big_time, big_count, big_timings = measure(synthetic, args.repeat)
    print(f"{'program':<28}{'resources':>10}{'median s':>10}{'program s':>11}{'policies s':>12}")
    print(f"{'production stack':<28}{base_count:>10}{base_time:>10.2f}{base_timings['program']:>11.2f}{base_timings['policies']:>12.2f}")
    print(f"{f'{args.copies} production zones':<28}{big_count:>10}{big_time:>10.2f}{big_timings['program']:>11.2f}{big_timings['policies']:>12.2f}")
    print(f"resources ratio {big_count / base_count:.1f}x, time ratio {big_time / base_time:.1f}x "
          f"(target: production < 5 s, time ratio <= 1.2 x resources ratio)")


if __name__ == "__main__":
    main()
