"""The telemetry event parser: every field validated, errors name the field, and it agrees with the JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelfort.runtime import telemetry
from modelfort.runtime.telemetry import GuardrailAction, TelemetryError, parse_event, parse_event_json

SCHEMA = json.loads(
    (Path(telemetry.__file__).with_name("telemetry_event.schema.json")).read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

FULL = {
    "schema_version": 1,
    "request_id": "req-7f3a",
    "timestamp": "2025-06-02T09:00:00.123456789+02:00",
    "caller": "arn:aws:iam::111122223333:role/app",
    "model": "support-llm",
    "model_version": "2025.02.1",
    "root_digest": "AB" * 32,
    "input": {"text": "hello", "tokens": 2},
    "output": {"text": "hi", "tokens": 1},
    "latency_ms": 12,
    "guardrail": {"action": "INTERVENED", "categories": ["PROMPT_ATTACK"]},
    "tool_calls": [{"name": "search_kb", "argument_bytes": 120, "allowed": False}],
    "retrieved": [{"source_url": "https://docs.example.com/a", "text": "passage"}],
    "x_trace": {"anything": ["goes"]},
}


def error_field(data: object) -> str:
    with pytest.raises(TelemetryError) as caught:
        parse_event(data)
    return caught.value.field


@pytest.mark.control("OB-01")
@pytest.mark.control("OB-02")
@pytest.mark.control("OB-04")
@pytest.mark.control("DP-06")
def test_a_full_event_parses_into_typed_fields_and_round_trips() -> None:
    event = parse_event(FULL)
    assert event.timestamp.utcoffset().total_seconds() == 7200
    assert event.root_digest == "sha256:" + "ab" * 32  # normalised: prefix added, lower case
    assert event.guardrail.action is GuardrailAction.INTERVENED
    assert event.tool_calls[0].allowed is False
    assert event.retrieved[0].source_url == "https://docs.example.com/a"
    assert event.latency_ms == 12.0
    again = parse_event(event.to_dict())
    assert again == event


def test_optional_lists_default_to_empty() -> None:
    data = {k: v for k, v in FULL.items() if k not in ("tool_calls", "retrieved")}
    event = parse_event(data)
    assert event.tool_calls == () and event.retrieved == ()


@pytest.mark.parametrize("field", sorted(telemetry._REQUIRED))
def test_a_missing_required_field_is_named(field: str) -> None:
    data = copy.deepcopy(FULL)
    del data[field]
    assert error_field(data) == field


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("input", "tokens"), "12", "input.tokens"),
        (("input", "tokens"), True, "input.tokens"),  # a bool is not an integer, even in Python
        (("input", "tokens"), 1.5, "input.tokens"),
        (("input", "tokens"), -1, "input.tokens"),
        (("output", "text"), None, "output.text"),
        (("latency_ms",), float("nan"), "latency_ms"),
        (("latency_ms",), "fast", "latency_ms"),
        (("guardrail", "action"), "BLOCKED", "guardrail.action"),
        (("guardrail", "categories"), "PROMPT_ATTACK", "guardrail.categories"),
        (("guardrail", "categories"), [], "guardrail.categories"),  # INTERVENED needs a category
        (("tool_calls", 0, "allowed"), "no", "tool_calls[0].allowed"),
        (("tool_calls", 0, "name"), "rm -rf /", "tool_calls[0].name"),
        (("retrieved", 0, "source_url"), "not a url", "retrieved[0].source_url"),
        (("caller",), "alice\nFORGED LOG LINE", "caller"),
        (("caller",), "", "caller"),
        (("timestamp",), "2025-06-02 09:00:00", "timestamp"),
        (("timestamp",), "2025-06-02T09:00:00", "timestamp"),  # no time zone
        (("timestamp",), "2025-13-02T09:00:00Z", "timestamp"),
        (("root_digest",), "md5:abc", "root_digest"),
        (("schema_version",), 2, "schema_version"),
        (("request_id",), 42, "request_id"),
    ],
)
def test_a_wrong_value_is_rejected_naming_its_path(path: tuple, value: object, field: str) -> None:
    data = copy.deepcopy(FULL)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert error_field(data) == field


def test_an_integral_float_is_an_integer_as_in_json_schema() -> None:
    data = copy.deepcopy(FULL)
    data["input"]["tokens"] = 3.0
    assert parse_event(data).input.tokens == 3


def test_unknown_fields_are_rejected_but_extensions_pass() -> None:
    data = copy.deepcopy(FULL)
    data["tool_call"] = []  # a typo must not silently switch the tool detector off
    assert error_field(data) == "tool_call"
    data = copy.deepcopy(FULL)
    data["input"]["x_language"] = "en"
    assert parse_event(data).input.text == "hello"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["input"].update(text="x" * (telemetry.MAX_TEXT_CHARS + 1)), "input.text"),
        (lambda d: d.update(tool_calls=[FULL["tool_calls"][0]] * (telemetry.MAX_TOOL_CALLS + 1)), "tool_calls"),
        (lambda d: d.update(retrieved=[FULL["retrieved"][0]] * (telemetry.MAX_PASSAGES + 1)), "retrieved"),
        (lambda d: d["retrieved"][0].update(text="y" * (telemetry.MAX_PASSAGE_CHARS + 1)), "retrieved[0].text"),
    ],
)
def test_oversized_payloads_are_rejected_before_anything_reads_them(mutate, field: str) -> None:
    data = copy.deepcopy(FULL)
    mutate(data)
    with pytest.raises(TelemetryError) as caught:
        parse_event(data)
    assert caught.value.field == field
    assert len(str(caught.value)) < 200  # the error never echoes the payload


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2]", b"\xff\xfe", b"null", b"[" * 100_000])
def test_a_line_that_is_not_an_event_object_is_an_error_on_the_root(line: bytes) -> None:
    with pytest.raises(TelemetryError) as caught:
        parse_event_json(line)
    assert caught.value.field == "<root>"


def test_the_schema_accepts_the_full_example_and_rejects_what_the_parser_rejects() -> None:
    VALIDATOR.validate(FULL)
    bad = copy.deepcopy(FULL)
    bad["tool_call"] = []
    assert not VALIDATOR.is_valid(bad)


def test_every_corpus_event_is_valid_for_both_parser_and_schema(corpus) -> None:
    for name, events in corpus.items():
        for event in events:
            VALIDATOR.validate(event)
            parse_event(event)


# Mutations that keep the JSON shape plausible: the parser and the schema must agree on each.
_FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=2**33), st.floats(allow_nan=False),
    st.text(max_size=12), st.lists(st.integers(), max_size=2), st.just("sha256:" + "0" * 64),
    st.just("2025-01-01T00:00:00Z"), st.just("NONE"), st.just("INTERVENED"),
)
_PATHS = [("schema_version",), ("request_id",), ("timestamp",), ("caller",), ("model",), ("root_digest",),
          ("input", "tokens"), ("input", "text"), ("output", "tokens"), ("latency_ms",), ("guardrail", "action"),
          ("guardrail", "categories"), ("tool_calls", 0, "argument_bytes"), ("tool_calls", 0, "allowed"),
          ("tool_calls", 0, "name"), ("retrieved", 0, "source_url")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_PATHS), value=_FIELD_VALUES)
def test_parser_and_json_schema_agree_on_mutated_events(path: tuple, value: object) -> None:
    if isinstance(value, str) and value.endswith("\n"):
        value = value + "x"  # JSON Schema's "$" also matches before a final newline; the parser is stricter
    data = copy.deepcopy(FULL)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        parse_event(data)
        parsed = True
    except TelemetryError:
        parsed = False
    assert parsed == VALIDATOR.is_valid(data), (path, value)
