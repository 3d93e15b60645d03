"""Fixtures for the detector tests: an event factory, the corpus and its config, and a strict engine."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from modelfort.runtime.detectors.config import DetectorConfig, load_config
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.findings import Finding

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
START = datetime(2025, 6, 2, 9, 0, tzinfo=timezone.utc)

BASE_EVENT: dict[str, Any] = {
    "schema_version": 1,
    "request_id": "req-0001",
    "timestamp": "2025-06-02T09:00:00Z",
    "caller": "arn:aws:iam::111122223333:role/app",
    "model": "support-llm",
    "model_version": "2025.02.1",
    "root_digest": "sha256:" + "ab" * 32,
    "input": {"text": "Hello, can you help me plan a trip?", "tokens": 9},
    "output": {"text": "Of course. Where would you like to go?", "tokens": 10},
    "latency_ms": 321.5,
    "guardrail": {"action": "NONE", "categories": []},
    "tool_calls": [],
    "retrieved": [],
}


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """Build a valid event dict. Keyword args override fields; `at` is seconds after a fixed start time;
    `text`/`output`/`out_tokens` set the input text, output text and output token count."""
    counter = {"n": 0}

    def build(*, at: float = 0.0, text: str | None = None, output: str | None = None, out_tokens: int | None = None,
              **fields: Any) -> dict[str, Any]:
        counter["n"] += 1
        event = copy.deepcopy(BASE_EVENT)
        event["request_id"] = f"req-{counter['n']:05d}"
        event["timestamp"] = (START + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
        if text is not None:
            event["input"] = {"text": text, "tokens": max(1, len(text) // 4)}
        if output is not None:
            event["output"] = {"text": output, "tokens": max(1, len(output) // 4)}
        if out_tokens is not None:
            event["output"]["tokens"] = out_tokens
        event.update(fields)
        return event

    return build


@pytest.fixture
def engine() -> Callable[..., Detector]:
    """A strict engine (a detector bug raises instead of becoming a finding), optionally with a config."""

    def build(config: DetectorConfig | None = None) -> Detector:
        return Detector(config or DetectorConfig(), strict=True)

    return build


@pytest.fixture
def run() -> Callable[..., list[Finding]]:
    """Feed event dicts to an engine in order and return all findings."""

    def feed(detector: Detector, *events: dict[str, Any]) -> list[Finding]:
        findings: list[Finding] = []
        for event in events:
            findings.extend(detector.process_record(event))
        return findings

    return feed


@pytest.fixture(scope="session")
def corpus_config() -> DetectorConfig:
    return load_config(CORPUS / "detectors.toml")


@pytest.fixture(scope="session")
def corpus() -> dict[str, list[dict[str, Any]]]:
    return {
        name: [json.loads(line) for line in (CORPUS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        for name in ("benign", "malicious")
    }

