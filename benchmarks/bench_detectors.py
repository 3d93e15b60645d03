"""Benchmark the telemetry detectors: quality on the labelled corpus, throughput, and memory under a long stream.

Prints, never asserts (the targets are asserted by tests/detectors/test_detector_corpus.py). Run:

    python benchmarks/bench_detectors.py                       # full run: 1,000,000 events from 10,000 callers
    python benchmarks/bench_detectors.py --events 100000       # quick run
    python benchmarks/bench_detectors.py --tracemalloc         # also trace Python allocations (about 3x slower)

Sections:
1. Quality: precision and recall per detector on tests/detectors/corpus, false-positive rate on the benign set.
2. Throughput on one core (this process, one thread): each detector alone, the pattern detectors together, the
   whole engine, and end to end from JSON lines (parse + validate + detect). Events are the corpus events, cycled.
3. Memory: a stream of --events events from --callers callers (corpus events with rewritten callers and
   timestamps), with peak RSS, the size of all per-caller state at checkpoints (it must stop growing once every
   caller has been seen), and optionally the tracemalloc peak.

Targets: recall >= 0.9, benign false positives <= 2%, >= 20,000 events/s per core, bounded memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import sys
import time
import tracemalloc
from array import array
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "detectors"))

from detector_corpus_eval import corpus_config, load, score  # noqa: E402

from modelfort.runtime.detectors.config import DETECTOR_NAMES, DetectorConfig  # noqa: E402
from modelfort.runtime.detectors.engine import Detector  # noqa: E402
from modelfort.runtime.telemetry import TelemetryEvent, ToolCall, parse_event  # noqa: E402

PATTERN_DETECTORS = frozenset({"jailbreak", "rag_poisoning"})


def quality() -> None:
    print("== Quality on the labelled corpus ==")
    result = score()
    print(f"corpus: {result.benign_events} benign events, {result.malicious_events} malicious-file events")
    print(f"{'detector':<15}{'precision':>10}{'recall':>9}{'units':>7}{'findings':>10}{'benign FP':>11}")
    for name, scored in result.detectors.items():
        findings = scored.true_findings + scored.false_findings
        print(f"{name:<15}{scored.precision:>10.3f}{scored.recall:>9.3f}{scored.units:>7}{findings:>10}"
              f"{scored.benign_events_flagged / result.benign_events:>10.1%}")
        for case in scored.missed[:5]:
            print(f"    missed: {case}")
        for case in scored.false_cases[:5]:
            print(f"    false positive: {case}")
    print(f"benign events with any finding: {result.benign_flagged}/{result.benign_events} "
          f"= {result.benign_fp_rate:.2%} (target <= 2%)")
    print()


def _events() -> tuple[list[TelemetryEvent], list[str]]:
    records = load("benign") + load("malicious")
    return [parse_event(r) for r in records], [json.dumps(r, ensure_ascii=False) for r in records]


def _rate(action, batches: list[list], seconds: float) -> float:
    """Events per second of `action`, cycling through `batches` for at least `seconds` (after a warm-up batch)."""
    for item in batches[0]:
        action(item)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for batch in batches[1:]:
            for item in batch:
                action(item)
            done += len(batch)
            if time.perf_counter() - started >= seconds:
                break
    return done / (time.perf_counter() - started)


def _cycles(events: list[TelemetryEvent], count: int) -> list[list[TelemetryEvent]]:
    """`count` copies of the events with distinct callers and later timestamps per copy, so cycling the corpus
    does not manufacture near-duplicate "probing" from one caller repeating itself."""
    span = (events[-1].timestamp - events[0].timestamp) + timedelta(hours=1)
    return [[dataclasses.replace(e, caller=f"{e.caller}#{n}", timestamp=e.timestamp + n * span) for e in events]
            for n in range(count)]


def throughput(seconds: float) -> None:
    print("== Throughput, one core ==")
    base = corpus_config()
    events, lines = _events()
    mixed_cycles = _cycles(events, 40)
    benign_cycles = _cycles(events[: len(load("benign"))], 100)
    setups = [(f"{name} alone", frozenset({name})) for name in DETECTOR_NAMES]
    setups += [("pattern detectors (jailbreak + rag_poisoning)", PATTERN_DETECTORS),
               ("all four detectors", frozenset(DETECTOR_NAMES))]
    print(f"{'setup':<48}{'corpus ev/s':>13}{'benign ev/s':>13}")
    for label, enabled in setups:
        config = dataclasses.replace(base, enabled=enabled)
        mixed = _rate(Detector(config).process, mixed_cycles, seconds)
        benign = _rate(Detector(config).process, benign_cycles, seconds)
        print(f"{label:<48}{mixed:>13,.0f}{benign:>13,.0f}")
    line_cycles = [[json.dumps(e.to_dict(), ensure_ascii=False) for e in batch] for batch in mixed_cycles[:8]]
    end_to_end = _rate(Detector(base).process_line, line_cycles, seconds)
    print(f"{'end to end: JSON line -> parse -> all four':<48}{end_to_end:>13,.0f}")
    parse_only = _rate(lambda line: parse_event(json.loads(line)), [lines, lines], seconds)
    print(f"{'parse and validate only':<48}{parse_only:>13,.0f}")
    print("target: >= 20,000 events/s per core for the pattern detectors")
    print()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def deep_size(obj: object, seen: set[int] | None = None) -> int:
    """Bytes held by `obj` and everything it references (slots objects, containers, arrays), counted once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(deep_size(item, seen) for item in obj)
    elif isinstance(obj, (str, bytes, int, float, array)) or obj is None:
        pass
    else:
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                size += deep_size(getattr(obj, slot), seen)
        if hasattr(obj, "__dict__"):
            size += deep_size(vars(obj), seen)
    return size


def memory(total: int, callers: int, trace: bool) -> None:
    print(f"== Memory: {total:,} events from {callers:,} callers ==")
    events, _ = _events()
    rng = random.Random(1)
    names = [f"cognito:eu-west-1:caller-{index:05d}" for index in range(callers)]
    detector = Detector(corpus_config())
    start = events[0].timestamp
    checkpoints = {total // 10, total // 2, total}
    if trace:
        tracemalloc.start()
    rss_before = _rss_mib()
    started = time.perf_counter()
    findings = 0
    for index in range(1, total + 1):
        template = events[rng.randrange(len(events))]
        event = dataclasses.replace(template, caller=names[rng.randrange(callers)],
                                    timestamp=start + timedelta(seconds=index * 0.05))
        findings += len(detector.process(event))
        if index in checkpoints:
            states = detector.caller_states()
            state_bytes = sum(deep_size(state) for state in states)
            elapsed = time.perf_counter() - started
            print(f"after {index:>9,} events: {detector.callers_tracked:>6,} callers tracked, per-caller state "
                  f"{state_bytes / 2**20:7.1f} MiB ({state_bytes / max(len(states), 1):,.0f} B/caller), "
                  f"peak RSS {_rss_mib():7.1f} MiB, {index / elapsed:,.0f} events/s")
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak: {peak / 2**20:.1f} MiB")
    print(f"peak RSS grew {(_rss_mib() - rss_before):.1f} MiB during the stream (started at {rss_before:.1f} MiB); "
          f"{findings:,} findings; {detector.callers_evicted:,} callers evicted")
    print(f"worst case per caller (every per-caller structure full): {_worst_case_caller_bytes():,} B; "
          f"x max_callers {DetectorConfig().state.max_callers:,} (default) = "
          f"{_worst_case_caller_bytes() * DetectorConfig().state.max_callers / 2**20:,.0f} MiB bound")
    capped = Detector(dataclasses.replace(corpus_config(), state=dataclasses.replace(
        DetectorConfig().state, max_callers=callers // 10)))
    for index in range(1, min(total, 200_000) + 1):
        template = events[rng.randrange(len(events))]
        capped.process(dataclasses.replace(template, caller=names[rng.randrange(callers)],
                                           timestamp=start + timedelta(seconds=index * 0.05)))
    print(f"with max_callers={callers // 10:,}: {capped.callers_tracked:,} callers tracked after "
          f"{min(total, 200_000):,} events, {capped.callers_evicted:,} evicted (the cap holds)")
    print()


def _worst_case_caller_bytes() -> int:
    """Fill one caller's every structure (tool profiles to the cap with the longest names, sketch ring, windows)."""
    detector = Detector(DetectorConfig())
    template = _events()[0][0]
    caller = "x" * 256  # the longest caller id the schema allows
    for index in range(200):
        call = ToolCall(name=f"{'t' * 124}{index % 40:04d}", argument_bytes=100 + index, allowed=index % 3 != 0)
        text = f"probe number {index} of a long template prompt with several words in it to sketch"
        detector.process(dataclasses.replace(
            template, caller=caller, tool_calls=(call,), input=dataclasses.replace(template.input, text=text),
            timestamp=template.timestamp + timedelta(seconds=index)))
    return sum(deep_size(state) for state in detector.caller_states()) + sys.getsizeof(caller)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the memory stream")
    parser.add_argument("--callers", type=int, default=10_000, help="distinct callers in the memory stream")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per throughput setup")
    parser.add_argument("--tracemalloc", action="store_true", help="also report the tracemalloc peak")
    parser.add_argument("--skip", choices=["quality", "throughput", "memory"], action="append", default=[])
    args = parser.parse_args(argv)
    if "quality" not in args.skip:
        quality()
    if "throughput" not in args.skip:
        throughput(args.seconds)
    if "memory" not in args.skip:
        memory(args.events, args.callers, args.tracemalloc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
