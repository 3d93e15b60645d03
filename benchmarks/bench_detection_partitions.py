"""Simulate the partitioned detection stage (issue 17) on this machine. Prints, never asserts.

    python benchmarks/bench_detection_partitions.py              # about a minute
    python benchmarks/bench_detection_partitions.py --quick      # about 20 s

What is real and what is modelled:
- Stage one (fan-out) is measured for real on one core, end to end: the CloudWatch Logs payload decoded (base64,
  gzip, JSON), every event parsed and validated, the stateless detectors run, Kinesis records built.
- Stage two runs the real consumer (`consumer.handle`: grouping, dedup by event id, the stateful detectors, the
  state codec, conditional commits) against an in-memory table with DynamoDB's conditional-write semantics and a
  modelled round trip (`--latency-ms`, default 4 ms per call, a typical in-region DynamoDB latency). Partitions
  are threads standing in for the Lambda instances an event source mapping runs, one per shard slot; each owns the
  callers Kinesis would route to it (hash of the partition key), batches of `--batch` records.
- Restart: the stream is cut in two; every consumer is discarded after the first half and new ones (new detectors,
  nothing in memory) process the rest. Findings and stored state must equal one uninterrupted in-memory run.
- The burst: the old design's capacity is the whole engine's measured rate on one core (reserved concurrency 1)
  with no Lambda overhead; CloudWatch Logs retries an invocation for at most 6 hours and then drops it. A burst at
  a given rate and length is dropped in part whenever its backlog would wait longer than that; the same burst is
  then run through the partitioned consumers, which must process every event.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import json
import resource
import sys
import threading
import time
import zlib
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "detectors"))

from detector_corpus_eval import load  # noqa: E402

from components.aws.telemetry_watch import TelemetryWatchArgs  # noqa: E402
from modelfort.runtime.detection_stream import consumer, fanout  # noqa: E402
from modelfort.runtime.detectors.config import DetectorConfig  # noqa: E402
from modelfort.runtime.detectors.context import CallerState  # noqa: E402
from modelfort.runtime.detectors.engine import Detector  # noqa: E402
from modelfort.runtime.detectors.state_codec import encode  # noqa: E402
from modelfort.runtime.telemetry import parse_event  # noqa: E402
from modelfort.runtime.telemetry_watch.handler import Settings, decode_subscription  # noqa: E402

OLD_MAX_EVENT_AGE_S = 6 * 3600
RETENTION_HOURS = {f.name: f.default for f in dataclasses.fields(TelemetryWatchArgs)}["stream_retention_hours"]


class _ConditionalCheckFailed(Exception):
    pass


class SimulatedTable:
    """get_item / put_item with DynamoDB's semantics for what the consumer uses, plus a modelled round trip."""

    class exceptions:  # noqa: N801 - mirrors boto3's client.exceptions
        ConditionalCheckFailedException = _ConditionalCheckFailed

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.items: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.calls = 0

    def get_item(self, TableName, Key, ConsistentRead):  # noqa: N803
        time.sleep(self.latency_s)
        with self.lock:
            self.calls += 1
            found = self.items.get(Key["caller"]["S"])
            return {"Item": dict(found)} if found else {}

    def batch_get_item(self, RequestItems):  # noqa: N803 - one round trip for up to 100 keys, as DynamoDB
        time.sleep(self.latency_s)
        (table, request), = RequestItems.items()
        with self.lock:
            self.calls += 1
            found = [dict(self.items[k["caller"]["S"]]) for k in request["Keys"] if k["caller"]["S"] in self.items]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}

    def put_item(self, TableName, Item, ConditionExpression, ExpressionAttributeValues):  # noqa: N803
        time.sleep(self.latency_s)
        with self.lock:
            self.calls += 1
            current = self.items.get(Item["caller"]["S"])
            if current is not None and current["version"] != ExpressionAttributeValues[":v"]:
                raise _ConditionalCheckFailed()
            self.items[Item["caller"]["S"]] = Item
        return {}


class NullSink:
    """S3 and SNS stand-ins: evidence and alerts are counted, not sent (their cost is the same in both designs)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803
        with self.lock:
            self.objects[Key] = Body

    def publish(self, **kwargs):
        return {}


def stream_events(total: int, callers: int) -> list[dict]:
    """Corpus events with rewritten callers, ids and timestamps, in time order (a caller's events stay ordered)."""
    base = [{k: v for k, v in r.items() if k != "x_label"} for r in load("benign") + load("malicious")]
    out = []
    for n in range(total):
        event = dict(base[n % len(base)])
        event["caller"] = f"caller-{(n * 7919) % callers:05d}"
        event["request_id"] = f"sim-{n:08d}"
        seconds = n // 50
        event["timestamp"] = f"2026-11-26T{9 + seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
        out.append(event)
    return out


def kinesis_records(events: list[dict]) -> list[dict]:
    return [{"kinesis": {"data": base64.b64encode(json.dumps(e).encode()).decode(), "sequenceNumber": f"{i:020d}",
                         "partitionKey": e["caller"]}} for i, e in enumerate(events)]


def partitions_of(records: list[dict], count: int) -> list[list[dict]]:
    parts: list[list[dict]] = [[] for _ in range(count)]
    for record in records:
        parts[zlib.crc32(record["kinesis"]["partitionKey"].encode()) % count].append(record)
    return parts


# ------------------------------------------------------------------------------------------------ stage one
def stage_one(seconds: float, rounds: int = 3) -> None:
    """Optimised path and the original (reference) path side by side, interleaved, best of `rounds` each."""
    print("== Stage one (fan-out, stateless): one core, end to end from the subscription payload ==")
    print(f"  {'':<40} {'optimised':>11} {'reference':>11}  ratio   (events/s per core, target 20,000; "
          f"best of {rounds} x {seconds / 2:.1f} s each)")
    for name, records in (("corpus mix (37% benign, 63% attacks)", load("benign") + load("malicious")),
                          ("benign traffic only", load("benign"))):
        lines = [json.dumps({k: v for k, v in r.items() if k != "x_label"}) for r in records]
        payload = {"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s",
                   "logEvents": [{"id": str(i), "timestamp": i, "message": m} for i, m in enumerate(lines)]}
        event = {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}
        detectors = {"optimised": fanout.stateless_detector(DetectorConfig()),
                     "reference": fanout.stateless_detector(DetectorConfig(), reference=True)}
        outputs = {}
        for label, detector in detectors.items():
            report, out = fanout.judge(decode_subscription(event), detector)  # warm-up: compile patterns, caches
            outputs[label] = ([f.to_dict() for f in report.findings], report.malformed, out)
        rates: dict[str, float] = {label: 0.0 for label in detectors}
        for _ in range(rounds):
            for label, detector in detectors.items():
                done, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds / 2:
                    report, out = fanout.judge(decode_subscription(event), detector)
                    [{"Data": r.data, "PartitionKey": r.caller} for r in out]
                    done += report.events
                rates[label] = max(rates[label], done / (time.perf_counter() - started))
        same = outputs["optimised"] == outputs["reference"]
        print(f"  {name:<40} {rates['optimised']:>11,.0f} {rates['reference']:>11,.0f}  "
              f"{rates['optimised'] / rates['reference']:.2f}x  findings and records identical: {same}")
    print(f"  peak RSS after stage one: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print()


# ------------------------------------------------------------------------------------------------ stage two
def run_partitions(parts: list[list[dict]], table: SimulatedTable, batch: int, config: DetectorConfig,
                   sink: NullSink, peaks: list[int] | None = None) -> tuple[float, list, int]:
    settings = Settings("evidence", "arn:aws:sns:us-east-1:111122223333:on-call", "sim")
    findings: list = []
    processed = [0]
    lock = threading.Lock()

    def shard_slot(records: list[dict]) -> None:
        detector = consumer.stateful_detector(config)  # one Lambda instance's detector
        state_table = consumer.StateTable(table, "state", detector.config)
        for start in range(0, len(records), batch):
            pending = records[start:start + batch]
            for _attempt in range(5):  # Lambda retries from the first failed record
                report = consumer.handle({"Records": pending}, detector, state_table, settings, sink, sink,
                                         emit=lambda line: None)
                with lock:
                    findings.extend((f.request_id, f.rule) for f in report.findings)
                    processed[0] += report.processed
                    if peaks is not None:
                        peaks.append(len({json.loads(base64.b64decode(r["kinesis"]["data"]))["caller"]
                                          for r in pending}))
                if not report.failures:
                    break
                first = min(report.failures)
                pending = [r for r in pending if r["kinesis"]["sequenceNumber"] >= first]
            else:
                raise RuntimeError("a batch kept failing")

    threads = [threading.Thread(target=shard_slot, args=(p,)) for p in parts]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
        if thread.is_alive():
            raise RuntimeError("a partition did not finish within 600 s: the machine is overloaded")
    return time.perf_counter() - started, findings, processed[0]


def reference(events: list[dict], config: DetectorConfig) -> tuple[set, dict[str, CallerState]]:
    """One uninterrupted in-memory run: what every partitioned run must reproduce exactly."""
    detector = consumer.stateful_detector(config)
    states: dict[str, CallerState] = defaultdict(CallerState)
    found = set()
    for event in events:
        parsed = parse_event(event)
        for finding in detector.process_with_state(parsed, states[parsed.caller]):
            found.add((finding.request_id, finding.rule))
    return found, states


def stage_two(total: int, callers: int, batch: int, latency_s: float, counts: list[int]) -> None:
    print(f"== Stage two (per-caller consumers): {total:,} events, {callers:,} callers, batches of {batch}, "
          f"modelled DynamoDB round trip {latency_s * 1000:.0f} ms ==")
    config = DetectorConfig()
    events = stream_events(total, callers)
    records = kinesis_records(events)
    expected, states = reference(events, config)
    for count in counts:
        table, sink = SimulatedTable(latency_s), NullSink()
        peaks: list[int] = []
        elapsed, found, processed = run_partitions(partitions_of(records, count), table, batch, config, sink, peaks)
        same = set(found) == expected and len(found) == len(expected)
        print(f"  {count:>2} partition(s): {processed / elapsed:>8,.0f} events/s  ({elapsed:5.1f} s, "
              f"{table.calls:,} table calls, findings identical to one in-memory run: {same}, "
              f"callers per batch held in memory: at most {max(peaks)})")
    print()

    print("== Restart mid-stream: every consumer discarded after half of the stream ==")
    table, sink = SimulatedTable(latency_s), NullSink()
    half = len(records) // 2
    _, first, _ = run_partitions(partitions_of(records[:half], 4), table, batch, config, sink)
    _, second, _ = run_partitions(partitions_of(records[half:], 4), table, batch, config, sink)  # new detectors
    found = first + second
    state_equal = all(encode(states[c], config) == bytes(table.items[c]["state"]["B"]) for c in states)
    print(f"  findings: {len(found)} with restart, {len(expected)} uninterrupted, identical: {set(found) == expected}")
    print(f"  per-caller state after the restart equals the uninterrupted run's for all {len(states)} callers: "
          f"{state_equal}")
    replay_elapsed, replayed, replay_processed = run_partitions(partitions_of(records[:half], 4), table, batch,
                                                                config, sink)
    print(f"  replaying the first half (a retry storm): {replay_processed} events re-judged, {len(replayed)} "
          f"findings (exactly once: both must be 0)")
    print()


def burst(total: int, callers: int, batch: int, latency_s: float, partitions: int, seconds: float) -> None:
    print("== A burst the old design drops ==")
    config = DetectorConfig()
    events = [parse_event(e) for e in stream_events(4000, callers)]
    engine = Detector(config)
    started, done = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        for event in events:
            engine.process(event)
        done += len(events)
    old_rate = done / (time.perf_counter() - started)
    burst_rate, burst_hours = 2.5 * old_rate, 8.0
    arrived = burst_rate * burst_hours * 3600
    # Sequential service at old_rate: event i waits i/old_rate - i/burst_rate; dropped once that exceeds the age.
    waiting_ok = OLD_MAX_EVENT_AGE_S / (1 / old_rate - 1 / burst_rate)
    dropped = max(0.0, arrived - waiting_ok)
    print(f"  old design: one engine at {old_rate:,.0f} events/s (measured, no Lambda overhead); a burst of "
          f"{burst_rate:,.0f} events/s for {burst_hours:.0f} h waits past the {OLD_MAX_EVENT_AGE_S // 3600} h retry "
          f"limit after {waiting_ok:,.0f} events: {dropped:,.0f} of {arrived:,.0f} dropped ({dropped / arrived:.0%})")
    sample = stream_events(total, callers)
    table, sink = SimulatedTable(latency_s), NullSink()
    elapsed, _, processed = run_partitions(partitions_of(kinesis_records(sample), partitions), table, batch, config,
                                           sink)
    print(f"  partitioned: the burst's events sit in Kinesis ({RETENTION_HOURS} h retention) and are consumed by "
          f"{partitions} partitions: {processed:,} of {len(sample):,} sample events processed "
          f"({processed / elapsed:,.0f} events/s here); none dropped")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--stage-one", action="store_true", help="only the stage-one throughput comparison")
    args = parser.parse_args()
    if args.stage_one:
        stage_one(2.0 if args.quick else 4.0)
        return
    total, callers, seconds = (4000, 400, 2.0) if args.quick else (12000, 1200, 4.0)
    stage_one(seconds)
    stage_two(total, callers, args.batch, args.latency_ms / 1000, [1, 2, 4, 8])
    burst(total, callers, args.batch, args.latency_ms / 1000, 8, seconds)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
