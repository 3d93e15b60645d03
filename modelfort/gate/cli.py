"""`modelfort gate`: the offline policy gate's command line. Wiring only; the work is in engine.py."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="judge a Pulumi Python program's stack with a policy pack, offline",
        description="Run a Pulumi Python program under mocks with a stack's config, judge every resource with a "
        "CrossGuard policy pack over the analyzer protocol, and report. Exit 0 pass, 1 mandatory violation, "
        "2 usage or config error, 3 program or pack failure.",
    )
    parser.add_argument("program_dir", nargs="?", default=".", help="the Pulumi program directory (default: .)")
    parser.add_argument("--stack", "-s", default=os.environ.get("PULUMI_STACK", "production"),
                        help="stack name; its config is <stackConfigDir>/Pulumi.<stack>.yaml (default: $PULUMI_STACK or production)")
    parser.add_argument("--policy-pack", default=None, help="a Python policy pack directory (default: ModelFort's own)")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code scanning")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    parser.add_argument("--markdown", metavar="FILE", help="write Markdown for a pull-request comment")
    parser.add_argument("--html", metavar="FILE", help="write the self-contained HTML evidence report (with the control matrix)")
    parser.add_argument("--manifests", metavar="DIR",
                        help="write the Kubernetes objects the stack plans as YAML, one file per object (Helm releases "
                        "are rendered at deploy time: listed, not written)")
    parser.add_argument("--no-install", action="store_true",
                        help="never create the program's or the pack's virtualenv: a missing one is an error (exit 2) "
                        "saying how to create it (default: create it from requirements, as `pulumi install` does)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelfort.gate.engine import DEFAULT_PACK, GateOptions, run_gate
    from modelfort.gate.reports import render_summary, write_json, write_junit, write_markdown, write_sarif
    from modelfort.gate.reports.html import write_html

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"modelfort gate: {message}", file=sys.stderr, flush=True)

    options = GateOptions(program_dir=args.program_dir, stack=args.stack, policy_pack=args.policy_pack or DEFAULT_PACK,
                          install=not args.no_install)
    report = run_gate(options, progress)
    sys.stdout.write(render_summary(report))
    for path, writer in ((args.json, write_json), (args.sarif, write_sarif), (args.junit, write_junit), (args.markdown, write_markdown), (args.html, write_html)):
        if path:
            writer(report, path)
            progress(f"wrote {path}")
    if args.manifests and report.error is None:
        from modelfort.gate.manifests import write_manifests

        written = write_manifests(report.resources, args.manifests)
        progress(f"wrote {len(written.written)} Kubernetes manifests to {args.manifests}")
        for line in written.not_written:
            # Said even with --quiet: whoever reads the manifests must know what they do not show.
            print(f"modelfort gate: not in the manifests: {line}", file=sys.stderr, flush=True)
    return report.exit_code
