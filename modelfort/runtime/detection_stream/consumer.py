"""Stage two: the stateful detectors on one Kinesis shard's batch, with each caller's state in DynamoDB.

Invoked by a Lambda event source mapping (parallelization factor N, `ReportBatchItemFailures`, bisect on error,
an on-failure destination). A batch holds records of many callers; a caller's records are in order and never in
two concurrent batches (Kinesis routes a partition key to one shard, the mapping keeps a key on one of the N
slots). Per caller in the batch:

1. read its item (strongly consistent, 100 callers per BatchGetItem); a missing, expired or unreadable state
   starts fresh;
2. skip every record whose event id is among the ids processed already (a retry, or the fan-out's duplicate);
3. run `extraction` and `tool_use` on the rest, in order, against that state;
4. write the findings as evidence, one object per event id (a rewrite replaces itself), then alert;
5. commit the state, the bounded id list and `version + 1` with a condition on the version it read (the
   callers' commits run concurrently, `COMMIT_WORKERS` at a time: they are independent items).

If the commit's condition fails (another consumer committed in between: a resharding overlap or a retry racing a
slow invocation), the caller is reported as a batch item failure from its first record: Lambda retries from there,
and the retry sees the other writer's ids and state. Any other error does the same. Nothing is committed for a
caller before its findings are written, so a crash loses no finding; ids make the retry idempotent.

Memory per invocation is bounded by the batch: at most `BatchSize` callers' states (about 12 KB each at worst) and
nothing kept between invocations, so a consumer holds no more than one batch of callers whatever the traffic.

Item layout (table key `caller`, string): `state` (binary, `state_codec`), `version` (number), `ids` (list of the
last `PROCESSED_IDS` event ids, oldest first), `expires_at` (number, epoch seconds; the table's TTL attribute: the
caller's idle expiry, so DynamoDB deletes forgotten callers), `updated_at`.

Environment: STATE_TABLE, EVIDENCE_BUCKET, EVIDENCE_PREFIX, ALERT_TOPIC_ARN, ALERT_MIN_SEVERITY, ZONE,
DETECTOR_CONFIG (JSON, optional).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from modelfort.runtime.detection_stream import PROCESSED_IDS
from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.context import CallerState
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.findings import Finding
from modelfort.runtime.detectors.state_codec import StateCodecError, decode, encode
from modelfort.runtime.telemetry import TelemetryError, TelemetryEvent, parse_event_json
from modelfort.runtime.telemetry_watch.handler import Settings, alert_message

STATEFUL_DETECTORS = frozenset({"extraction", "tool_use"})
EVIDENCE_STAGE = "stream"
BATCH_GET_KEYS = 100  # DynamoDB BatchGetItem limit
BATCH_GET_ATTEMPTS = 5
COMMIT_WORKERS = 16
"""Conditional writes in flight at once: each caller's commit is independent, and a batch holds up to BatchSize
callers, so committing them one after another would make a batch cost BatchSize round trips."""


class StateConflict(Exception):
    """The caller's item changed since it was read: another writer committed first."""


class StateUnavailable(Exception):
    """The state table did not answer for every caller of the batch: the whole batch is retried."""


@dataclass
class CallerBatch:
    caller: str
    records: list[tuple[str, TelemetryEvent]] = field(default_factory=list)
    """(Kinesis sequence number, event), in shard order."""


@dataclass
class ConsumerReport:
    records: int = 0
    malformed: int = 0
    duplicates: int = 0
    processed: int = 0
    findings: list[Finding] = field(default_factory=list)
    conflicts: int = 0
    state_resets: int = 0
    failures: list[str] = field(default_factory=list)
    """Sequence numbers to report as batch item failures (the first record of each failed caller)."""


def stateful_detector(config: DetectorConfig) -> Detector:
    return Detector(dataclasses.replace(config, enabled=config.enabled & STATEFUL_DETECTORS))


def group_by_caller(records: list[Mapping[str, Any]], report: ConsumerReport) -> list[CallerBatch]:
    """Decode the Kinesis records; malformed ones are counted and skipped (the fan-out validated them already)."""
    groups: OrderedDict[str, CallerBatch] = OrderedDict()
    for record in records:
        report.records += 1
        kinesis = record.get("kinesis", {}) if isinstance(record, Mapping) else {}
        sequence = str(kinesis.get("sequenceNumber", ""))
        try:
            event = parse_event_json(base64.b64decode(kinesis.get("data", ""), validate=True))
        except (TelemetryError, ValueError):
            report.malformed += 1
            continue
        groups.setdefault(event.caller, CallerBatch(event.caller)).records.append((sequence, event))
    return list(groups.values())


class StateTable:
    """The DynamoDB table of per-caller state (see the module docstring for the item layout)."""

    def __init__(self, client: Any, table: str, config: DetectorConfig, clock: Callable[[], float] = time.time):
        self.client = client
        self.table = table
        self.config = config
        self.clock = clock

    def load(self, caller: str) -> tuple[CallerState, int, list[str], bool]:
        """(state, version read, processed ids, whether a stored state had to be discarded)."""
        item = self.client.get_item(TableName=self.table, Key={"caller": {"S": caller}}, ConsistentRead=True).get("Item")
        return self.parse(item)

    def load_many(self, callers: list[str]) -> dict[str, tuple[CallerState, int, list[str], bool]]:
        """`load` for many callers in BatchGetItem calls of 100 keys (one round trip per 100 callers, not one each).
        Keys DynamoDB leaves unprocessed (throttling) are asked again, `BATCH_GET_ATTEMPTS` times at most."""
        items: dict[str, dict | None] = {caller: None for caller in callers}
        for start in range(0, len(callers), BATCH_GET_KEYS):
            keys = [{"caller": {"S": c}} for c in callers[start:start + BATCH_GET_KEYS]]
            for attempt in range(BATCH_GET_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems={
                    self.table: {"Keys": keys, "ConsistentRead": True}})
                for item in response.get("Responses", {}).get(self.table, []):
                    items[item["caller"]["S"]] = item
                keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not keys:
                    break
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            else:
                raise StateUnavailable(f"{len(keys)} caller state(s) still unprocessed after {BATCH_GET_ATTEMPTS} reads")
        return {caller: self.parse(item) for caller, item in items.items()}

    def parse(self, item: Mapping[str, Any] | None) -> tuple[CallerState, int, list[str], bool]:
        if item is None:
            return CallerState(), 0, [], False
        version = int(item["version"]["N"])
        ids = [value["S"] for value in item.get("ids", {}).get("L", [])]
        if float(item.get("expires_at", {}).get("N", "inf")) < self.clock():
            return CallerState(), version, [], False  # expired, not yet deleted by TTL: as good as gone
        try:
            return decode(item["state"]["B"], self.config), version, ids, False
        except (StateCodecError, KeyError):
            # Keep the ids (exactly-once still holds); the state starts over, like a new caller.
            return CallerState(), version, ids, True

    def commit(self, caller: str, state: CallerState, version: int, ids: list[str], last_event: float) -> None:
        now = self.clock()
        expires = int(max(now, last_event) + self.config.state.idle_ttl_s)
        item = {
            "caller": {"S": caller},
            "state": {"B": encode(state, self.config)},
            "version": {"N": str(version + 1)},
            "ids": {"L": [{"S": value} for value in ids[-PROCESSED_IDS:]]},
            "expires_at": {"N": str(expires)},
            "updated_at": {"N": str(int(now))},
        }
        try:
            self.client.put_item(
                TableName=self.table, Item=item,
                ConditionExpression="attribute_not_exists(caller) OR version = :v",
                ExpressionAttributeValues={":v": {"N": str(version)}})
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise StateConflict(caller) from error


def evidence_key(prefix: str, finding_event: TelemetryEvent) -> str:
    """One object per event id: a retry that finds the same event again writes the same key."""
    caller = hashlib.sha256(finding_event.caller.encode()).hexdigest()[:16]  # caller ids may hold any characters
    request = "".join(c if c.isalnum() or c in "-_." else "_" for c in finding_event.request_id)[:200]
    return f"{prefix.strip('/')}/{EVIDENCE_STAGE}/{finding_event.timestamp:%Y/%m/%d}/{caller}/{request}.jsonl"


def process_caller(batch: CallerBatch, loaded: tuple[CallerState, int, list[str], bool], detector: Detector,
                   settings: Settings, s3: Any, sns: Any, report: ConsumerReport) -> Callable[[StateTable], None] | None:
    """Judge the caller's new events and write their findings; returns the commit to run (None: nothing new)."""
    state, version, ids, reset = loaded
    report.state_resets += int(reset)
    seen = set(ids)
    urgent: list[Finding] = []
    evidence: list[str] = []
    last_event = 0.0
    for _, event in batch.records:
        if event.request_id in seen:
            report.duplicates += 1
            continue
        findings = detector.process_with_state(event, state)
        seen.add(event.request_id)
        ids.append(event.request_id)
        last_event = max(last_event, event.epoch)
        report.processed += 1
        if findings:
            key = evidence_key(settings.evidence_prefix, event)
            body = "".join(json.dumps({"record": "finding", "zone": settings.zone, **f.to_dict()}, ensure_ascii=True)
                           + "\n" for f in findings)
            s3.put_object(Bucket=settings.evidence_bucket, Key=key, Body=body.encode(),
                          ContentType="application/x-ndjson")
            evidence.append(f"s3://{settings.evidence_bucket}/{key}")
            report.findings.extend(findings)
            urgent.extend(f for f in findings if f.severity.rank >= settings.alert_min_severity.rank)
    if urgent:
        sns.publish(TopicArn=settings.alert_topic_arn,
                    **alert_message(urgent, settings.zone, evidence[0] if len(evidence) == 1 else None))
    if not last_event:
        return None  # only duplicates: nothing changed, nothing to commit
    return lambda table: table.commit(batch.caller, state, version, ids, last_event)


def handle(event: Mapping[str, Any], detector: Detector, table: StateTable, settings: Settings, s3: Any, sns: Any,
           emit: Callable[[str], None] = print) -> ConsumerReport:
    report = ConsumerReport()
    batches = group_by_caller(list(event.get("Records", [])), report)

    def failed(batch: CallerBatch, error: BaseException) -> None:
        # This caller is retried from its first record; the other callers' work stands.
        report.failures.append(batch.records[0][0])
        if isinstance(error, StateConflict):
            report.conflicts += 1
        else:
            emit(json.dumps({"level": "ERROR", "message": "caller batch failed", "error": type(error).__name__,
                             "records": len(batch.records)}))

    try:
        loaded = table.load_many([batch.caller for batch in batches]) if batches else {}
    except Exception as error:  # noqa: BLE001 - no state read, nothing judged: the whole batch is retried
        for batch in batches:
            failed(batch, error)
        loaded = {}
    commits: list[tuple[CallerBatch, Callable[[StateTable], None]]] = []
    for batch in batches:
        if batch.caller not in loaded:
            continue
        try:
            commit = process_caller(batch, loaded[batch.caller], detector, settings, s3, sns, report)
        except Exception as error:  # noqa: BLE001 - see `failed`
            failed(batch, error)
            continue
        if commit is not None:
            commits.append((batch, commit))
    if commits:
        with ThreadPoolExecutor(max_workers=min(COMMIT_WORKERS, len(commits))) as pool:
            outcomes = list(pool.map(lambda pair: _attempt(pair[1], table), commits))
        for (batch, _), error in zip(commits, outcomes):
            if error is not None:
                failed(batch, error)
    emit(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": "ModelFort/Telemetry", "Dimensions": [["Zone"]], "Metrics": [
            {"Name": n, "Unit": "Count"} for n in ("StreamEventsProcessed", "StreamDuplicates", "StreamConflicts",
                                                   "StreamStateResets", "StreamFindings")]}]},
        "Zone": settings.zone, "StreamEventsProcessed": report.processed, "StreamDuplicates": report.duplicates,
        "StreamConflicts": report.conflicts, "StreamStateResets": report.state_resets,
        "StreamFindings": len(report.findings)}, separators=(",", ":")))
    return report


def _attempt(commit: Callable[[StateTable], None], table: StateTable) -> BaseException | None:
    try:
        commit(table)
    except Exception as error:  # noqa: BLE001 - reported per caller by the caller of `_attempt`
        return error
    return None


def batch_response(report: ConsumerReport) -> dict[str, Any]:
    """The partial-batch response: Lambda retries from the lowest failed sequence number."""
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in report.failures]}


_DETECTOR: Detector | None = None


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    global _DETECTOR
    raw = os.environ.get("DETECTOR_CONFIG")
    config = DetectorConfig.from_mapping(json.loads(raw)) if raw else DetectorConfig()
    if _DETECTOR is None:
        _DETECTOR = stateful_detector(config)
    table_name = os.environ.get("STATE_TABLE")
    if not table_name:
        raise ValueError("environment variable STATE_TABLE must be set")
    retries = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    table = StateTable(boto3.client("dynamodb", config=retries), table_name, _DETECTOR.config)
    report = handle(event, _DETECTOR, table, Settings.from_environment(os.environ),
                    boto3.client("s3", config=retries), boto3.client("sns", config=retries))
    return batch_response(report)
