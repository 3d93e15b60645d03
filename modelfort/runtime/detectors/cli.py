"""`modelfort detect EVENTS.jsonl`: run the detectors over a file of telemetry events, print findings as JSON lines.

stdout carries findings only (one JSON object per line), so it can be piped into `jq` or an evidence store;
everything for humans (malformed lines with their line numbers, the summary) goes to stderr.

A malformed line is counted and reported, never fatal: a detector that stops at the first bad line would let one
crafted log line hide everything after it. Lines are read with a size cap (`--max-line-bytes`), so a runaway line
costs bounded memory.

Exit codes: 0 when the run completed (findings or not); 1 with `--fail-on SEVERITY` when a finding reached that
severity, or when any line was malformed (a gate that could not read its input must not pass); 2 on usage errors
(unreadable input, invalid config).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_ERRORS_SHOWN = 50
_CHUNK = 1 << 16


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="run the telemetry detectors over a JSON-lines file of inference events",
        description="Run the extraction, jailbreak, tool-use and RAG-poisoning detectors over inference telemetry "
                    "events (one JSON object per line) and print one finding per line as JSON.",
    )
    parser.add_argument("events", metavar="EVENTS.jsonl", help="events file, one JSON object per line; - for stdin")
    parser.add_argument("--config", metavar="FILE", help="detector configuration (.toml or .json)")
    parser.add_argument("--fail-on", metavar="SEVERITY", type=str.upper, choices=SEVERITIES,
                        help="exit 1 if a finding is at least this severity (LOW, MEDIUM, HIGH, CRITICAL) "
                             "or if any line is malformed")
    parser.add_argument("--max-line-bytes", metavar="N", type=_positive_int, default=DEFAULT_MAX_LINE_BYTES,
                        help=f"longest accepted line in bytes (default {DEFAULT_MAX_LINE_BYTES})")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Entry point for `modelfort detect`; streams are parameters of `run` so tests can drive it."""
    try:
        return run(args, stdin=sys.stdin.buffer, stdout=sys.stdout, stderr=sys.stderr)
    except BrokenPipeError:
        # The reader (head, grep -m) has what it wanted. Point stdout at devnull so the interpreter's final flush
        # does not raise again (the recipe from the Python signal documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def run(args: argparse.Namespace, *, stdin: IO[bytes], stdout: IO[str], stderr: IO[str]) -> int:
    from modelfort.runtime.detectors.config import ConfigError, DetectorConfig, load_config
    from modelfort.runtime.detectors.engine import Detector
    from modelfort.runtime.detectors.findings import Severity
    from modelfort.runtime.telemetry import TelemetryError

    try:
        config = load_config(args.config) if args.config else DetectorConfig()
    except ConfigError as error:
        print(f"modelfort detect: invalid config: {error}", file=stderr)
        return EXIT_USAGE
    try:
        source = stdin if args.events == "-" else open(args.events, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        print(f"modelfort detect: cannot read {args.events}: {error.strerror}", file=stderr)
        return EXIT_USAGE

    detector = Detector(config)
    fail_rank = Severity(args.fail_on).rank if args.fail_on else None
    worst = -1
    try:
        for number, line, too_long in _lines(source, args.max_line_bytes):
            if too_long:
                detector.stats.malformed += 1
                _report(stderr, detector.stats.malformed, number, f"line is longer than {args.max_line_bytes} bytes")
                continue
            if not line.strip():
                continue
            try:
                findings = detector.process_line(line)
            except TelemetryError as error:  # counted by the engine
                _report(stderr, detector.stats.malformed, number, str(error))
                continue
            for finding in findings:
                stdout.write(finding.to_json() + "\n")
                worst = max(worst, finding.severity.rank)
        stdout.flush()
    finally:
        if source is not stdin:
            source.close()

    _summary(stderr, detector)
    if fail_rank is not None and (worst >= fail_rank or detector.stats.malformed):
        return EXIT_FINDINGS
    return EXIT_OK


def _lines(source: IO[bytes], limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line number, line, too_long); an over-long line is skipped in chunks, never held whole."""
    number = 0
    while True:
        line = source.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):  # drain the rest of the over-long line
                rest = source.readline(_CHUNK)
            yield number, b"", True
        else:
            yield number, line, False


def _report(stderr: IO[str], malformed_so_far: int, number: int, message: str) -> None:
    """Print a malformed line's error, up to MAX_ERRORS_SHOWN of them (the summary has the full count)."""
    if malformed_so_far <= MAX_ERRORS_SHOWN:
        print(f"modelfort detect: line {number}: {message}", file=stderr)
    elif malformed_so_far == MAX_ERRORS_SHOWN + 1:
        print(f"modelfort detect: more malformed lines; only the first {MAX_ERRORS_SHOWN} are shown", file=stderr)


def _summary(stderr: IO[str], detector: Any) -> None:
    stats = detector.stats
    by_detector = ", ".join(f"{name} {count}" for name, count in sorted(stats.findings.items()))
    total = sum(stats.findings.values())
    print(f"modelfort detect: {stats.events} events, {stats.malformed} malformed lines, {total} findings"
          + (f" ({by_detector})" if by_detector else "")
          + (f", {stats.detector_errors} detector errors" if stats.detector_errors else ""), file=stderr)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value
