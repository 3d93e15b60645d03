"""The per-caller state codec: a round trip judges the next event exactly as the in-memory state would, and
anything that is not the detectors' own state classes is refused (the table is not trusted like the process)."""

from __future__ import annotations

import json
import zlib

import pytest

from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.context import CallerState
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.state_codec import MAX_ENCODED_BYTES, StateCodecError, decode, encode, fingerprint
from modelfort.runtime.telemetry import parse_event


def _events(make_event):
    out = [make_event(at=i * 3, text=f"Summarise ticket number {7000 + i} for me",
                      tool_calls=[{"name": "search_kb", "argument_bytes": 50 + i, "allowed": True}])
           for i in range(24)]
    out.append(make_event(at=80, text="Summarise ticket number 7024 for me",
                          tool_calls=[{"name": "calendar_create", "argument_bytes": 40, "allowed": True}]))
    return [parse_event(e) for e in out]


def test_a_round_tripped_state_gives_the_same_findings_as_the_live_one(make_event) -> None:
    config = DetectorConfig()
    events = _events(make_event)
    live, restored_engine = Detector(config), Detector(config)
    live_state, stored = CallerState(), CallerState()
    expected, got = [], []
    for event in events:
        expected.append([f.rule for f in live.process_with_state(event, live_state)])
        state = decode(encode(stored, config), config)  # a restart before every single event
        got.append([f.rule for f in restored_engine.process_with_state(event, state)])
        stored = state
    assert got == expected
    assert ["tool_use.new_tool"] in got and ["tool_use.enumeration"] in got


def _document(state: dict, config: DetectorConfig) -> bytes:
    return zlib.compress(json.dumps({"v": 1, "fp": fingerprint(config), "s": state}).encode())


@pytest.mark.parametrize("state, message", [
    ({"t": "Popen", "f": {}}, "not a detector state class"),
    ({"t": "CallerState", "f": {"extraction": None}}, "fields"),
    ({"t": "CallerState", "f": {"extraction": {"a": "b", "b": ""}, "jailbreak": None, "tool_use": None,
                                "enumeration": None}}, "array type"),
    ({"t": "FixedWindow", "f": {"start": 0, "count": 1, "reported": False}}, "not a CallerState"),
])
def test_foreign_classes_wrong_fields_and_odd_arrays_are_refused(state, message) -> None:
    config = DetectorConfig()
    with pytest.raises(StateCodecError, match=message):
        decode(_document(state, config), config)


def test_state_from_other_ring_sizes_or_oversized_blobs_is_refused() -> None:
    small, large = DetectorConfig(), DetectorConfig.from_mapping({"tool_use": {"max_calls_per_window": 90}})
    with pytest.raises(StateCodecError, match="config changed"):
        decode(encode(CallerState(), small), large)
    with pytest.raises(StateCodecError, match="more than"):
        decode(b"\0" * (MAX_ENCODED_BYTES + 1), small)
    bomb = zlib.compress(b" " * (MAX_ENCODED_BYTES * 32))
    with pytest.raises(StateCodecError, match="expands"):
        decode(bomb, small)
