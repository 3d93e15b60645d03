"""`modelfort controls`: the coverage matrix, for the suite or for one stack."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "controls",
        help="show which code implements, enforces and proves each control",
        description="Compute the control matrix from the code: implementing components and runtime modules, "
        "enforcing policies, proving tests. With --stack, also each control's status in that stack.",
    )
    parser.add_argument("--stack", help="also judge this stack (runs the offline gate)")
    parser.add_argument("--program", default=".", help="the program directory for --stack (default: .)")
    parser.add_argument("--json", metavar="FILE", help="write the matrix as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="write the matrix as Markdown")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelfort.controls.matrix import compute
    from modelfort.controls.render import matrix_dict, matrix_markdown, summary_lines

    coverage = compute()
    statuses = None
    if args.stack:
        from modelfort.controls.stack_view import stack_statuses
        from modelfort.gate.engine import GateOptions, run_gate

        report = run_gate(GateOptions(program_dir=args.program, stack=args.stack))
        if report.error:
            print(f"modelfort controls: the gate could not judge stack {args.stack}: {report.error}", file=sys.stderr)
            return report.exit_code
        statuses = stack_statuses(coverage, report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(matrix_dict(coverage, statuses, args.stack), handle, indent=2)
            handle.write("\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(matrix_markdown(coverage, statuses, args.stack))
    print("\n".join(summary_lines(coverage, statuses)))
    return 0
