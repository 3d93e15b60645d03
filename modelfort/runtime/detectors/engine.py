"""The detector engine: one object, fed events one at a time, returning findings.

Designed for a Lambda handler or stream consumer that calls it per batch:

    detector = Detector(load_config("detectors.toml"))   # once per container: state survives between batches
    result = detector.process_batch(records)               # records: decoded JSON objects
    for finding in result.findings: emit(finding.to_json())
    for index, error in result.errors: count_malformed(index, error.field)

The engine holds the per-caller state (`state.py`), so one instance must see all events of a caller to judge rates
and baselines; a fleet of consumers should shard events by caller. Timestamps come from the serving layer: a
producer with a badly wrong clock (far in the future) would age out other callers' state, so such clocks are worth
alarming on where events are produced.

A bug in one detector must not silence the others or drop the rest of a batch: unless `strict`, an exception in a
detector becomes an `engine.detector_error` finding (type and detector only) and is counted in `stats`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.context import CallerState, EventContext
from modelfort.runtime.detectors.extraction import ExtractionDetector
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.jailbreak import JailbreakDetector
from modelfort.runtime.detectors.rag import RagPoisoningDetector
from modelfort.runtime.detectors.state import CallerStore
from modelfort.runtime.detectors.tool_use import ToolUseDetector
from modelfort.runtime.telemetry import TelemetryError, TelemetryEvent, parse_event, parse_event_json


class _Inspector(Protocol):
    name: str

    def inspect(self, ctx: EventContext) -> list[Finding]: ...


@dataclass
class Stats:
    """Counters an operator wants on a dashboard: volume, malformed input, findings, state pressure."""

    events: int = 0
    malformed: int = 0
    detector_errors: int = 0
    findings: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "malformed": self.malformed, "detector_errors": self.detector_errors,
                "findings": dict(sorted(self.findings.items()))}


@dataclass(frozen=True)
class BatchResult:
    findings: list[Finding]
    errors: list[tuple[int, TelemetryError]]
    """(index in the batch, error) for each record that was not a valid event."""


class Detector:
    """Runs the enabled detectors over events and keeps the per-caller state they need."""

    def __init__(self, config: DetectorConfig | None = None, *, strict: bool = False, stateless: bool = False,
                 reference: bool = False) -> None:
        self.config = config or DetectorConfig()
        self.strict = strict
        self.stateless = stateless
        """Every event gets a fresh caller state and nothing is remembered (for a fan-out stage that runs at any
        concurrency): per-event verdicts only, e.g. no escalation of a caller's fifth jailbreak attempt."""
        self.reference = reference
        """Run the original, unoptimised scan path (same findings, slower): equivalence tests and benchmarks."""
        self.stats = Stats()
        self._callers: CallerStore[CallerState] = CallerStore(
            CallerState, self.config.state.max_callers, self.config.state.idle_ttl_s)
        every: tuple[_Inspector, ...] = (ExtractionDetector(), JailbreakDetector(), ToolUseDetector(),
                                         RagPoisoningDetector())
        self._inspectors = tuple(d for d in every if d.name in self.config.enabled)

    def process(self, event: TelemetryEvent) -> list[Finding]:
        """Findings for one event (possibly none), in detector order."""
        caller = CallerState() if self.stateless else self._callers.get(event.caller, event.epoch)
        return self.process_with_state(event, caller)

    def process_with_state(self, event: TelemetryEvent, caller: CallerState) -> list[Finding]:
        """Findings for one event judged against `caller`, a state kept elsewhere (a durable store), updated in place."""
        self.stats.events += 1
        ctx = EventContext(event, self.config, caller, reference=self.reference)
        findings: list[Finding] = []
        for inspector in self._inspectors:
            try:
                findings.extend(inspector.inspect(ctx))
            except Exception as error:  # noqa: BLE001 - see the module docstring
                if self.strict:
                    raise
                self.stats.detector_errors += 1
                findings.append(ctx.finding(
                    "engine", "engine.detector_error", (), Severity.LOW,
                    f"detector {inspector.name} failed on this event ({type(error).__name__}); other detectors ran",
                    ""))
        for finding in findings:
            self.stats.findings[finding.detector] += 1
        return findings

    def process_record(self, record: Mapping[str, Any]) -> list[Finding]:
        """Parse a decoded JSON object and process it; raises `TelemetryError` (counted) if it is not an event."""
        try:
            event = parse_event(record)
        except TelemetryError:
            self.stats.malformed += 1
            raise
        return self.process(event)

    def process_line(self, line: str | bytes) -> list[Finding]:
        """Parse one JSON line and process it; raises `TelemetryError` (counted) if it is not an event."""
        try:
            event = parse_event_json(line)
        except TelemetryError:
            self.stats.malformed += 1
            raise
        return self.process(event)

    def process_batch(self, records: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Process every record; a malformed one is reported with its index and never stops the batch."""
        findings: list[Finding] = []
        errors: list[tuple[int, TelemetryError]] = []
        for index, record in enumerate(records):
            try:
                findings.extend(self.process_record(record))
            except TelemetryError as error:
                errors.append((index, error))
        return BatchResult(findings, errors)

    @property
    def callers_tracked(self) -> int:
        return len(self._callers)

    @property
    def callers_evicted(self) -> int:
        return self._callers.evicted

    def caller_states(self) -> list[CallerState]:
        """The live per-caller states (for memory accounting in benchmarks and tests)."""
        return self._callers.values()
