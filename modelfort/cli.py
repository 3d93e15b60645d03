"""The `modelfort` command: wires subcommands to the modules that own them.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets `handler` to a function
`handler(args) -> int` (the exit code). Modules keep heavy imports (Pulumi, boto3, model-signing) inside their
handlers, so `modelfort --help` and every subcommand start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order in `modelfort --help`.
SUBCOMMAND_MODULES = (
    "modelfort.gate.cli",
    "modelfort.runtime.weights.cli",
    "modelfort.runtime.detectors.cli",
    "modelfort.runtime.guard.cli",
    "modelfort.controls.cli",
)

# Subcommands on a start path that cannot wait for every other subcommand's module to import: when one is the first
# argument, only its module registers (the pod's init container runs `modelfort verify-weights` on every start).
FAST_SUBCOMMANDS = {"verify-weights": "modelfort.runtime.weights.cli"}

EXIT_USAGE = 2


def build_parser(modules: Sequence[str] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelfort",
        description="Deploy AI models securely, and gate every change with the ModelFort policy pack.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    fast = FAST_SUBCOMMANDS.get(argv[0]) if argv else None
    parser = build_parser((fast,) if fast else SUBCOMMAND_MODULES)
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
