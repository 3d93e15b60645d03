"""The inference telemetry event: one JSON object per inference, parsed into typed, validated dataclasses.

Why a strict parser. The detectors (OB-05..OB-08, WP-04, WP-07) and the evidence store (OB-01..OB-04) judge what
this event says. A field that is silently missing or misspelt (`tool_call` for `tool_calls`) would not raise an alarm:
it would switch a detector off. So every field is checked, unknown fields are rejected (private extensions must
start with `x_`), and every error names the offending field by its path (`tool_calls[2].argument_bytes`).

Why bounded. Events arrive from a service that relays caller-controlled text. Every string and list has a maximum
size, so one hostile event cannot make a consumer allocate without limit; identifiers refuse control characters,
so a caller name cannot forge a log line or carry terminal escapes into an analyst's console.

The same contract is published as JSON Schema (`telemetry_event.schema.json`, beside this file) and explained in
`docs/telemetry-schema.md`; a test checks that parser and schema agree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1

# Limits. Generous for real traffic (a 1 MiB prompt is far beyond any model's context window), small enough that
# a consumer can hold a batch of events in memory.
MAX_TEXT_CHARS = 1_048_576
MAX_PASSAGE_CHARS = 262_144
MAX_TOKENS = 10_000_000
MAX_LATENCY_MS = 3_600_000
MAX_TOOL_CALLS = 256
MAX_ARGUMENT_BYTES = 2**31 - 1
MAX_PASSAGES = 64
MAX_CATEGORIES = 32
MAX_URL_CHARS = 2048

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
_CALLER = re.compile(r"[\x21-\x7e]{1,256}")
_DIGEST = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})")
_CATEGORY = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_TOOL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")
_EXTENSION_PREFIX = "x_"


class TelemetryError(ValueError):
    """An event that does not follow the schema. `field` is the path of the offending field (`<root>` for the event)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GuardrailAction(str, Enum):
    """What the guardrail did. `NONE` with categories means it detected but did not block (detect-only mode)."""

    NONE = "NONE"
    INTERVENED = "INTERVENED"


@dataclass(frozen=True, slots=True)
class TextPart:
    """The prompt or the completion: its text and its token count as the model server counted it."""

    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class GuardrailVerdict:
    """The guardrail's verdict for this inference, with the categories it matched (e.g. `PROMPT_ATTACK`)."""

    action: GuardrailAction
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool (function) call the model asked for: its name, its argument size in bytes, and whether policy allowed it.

    The arguments themselves are not logged: they may carry user data, and their size is what the detectors need."""

    name: str
    argument_bytes: int
    allowed: bool


@dataclass(frozen=True, slots=True)
class RetrievedPassage:
    """A passage the retriever put into the prompt (RAG): where it came from and its text."""

    source_url: str
    text: str


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One inference, as logged by the serving layer (OB-01, OB-02) with the model's identity and digest (OB-04)."""

    schema_version: int
    request_id: str
    timestamp: datetime
    caller: str
    model: str
    model_version: str
    root_digest: str
    input: TextPart
    output: TextPart
    latency_ms: float
    guardrail: GuardrailVerdict
    tool_calls: tuple[ToolCall, ...] = ()
    retrieved: tuple[RetrievedPassage, ...] = ()

    @property
    def epoch(self) -> float:
        """Event time in seconds since the Unix epoch: the clock every detector window runs on."""
        return self.timestamp.timestamp()

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict that `parse_event` accepts (round trip)."""
        return {
            "schema_version": self.schema_version,
            "request_id": self.request_id,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "caller": self.caller,
            "model": self.model,
            "model_version": self.model_version,
            "root_digest": self.root_digest,
            "input": {"text": self.input.text, "tokens": self.input.tokens},
            "output": {"text": self.output.text, "tokens": self.output.tokens},
            "latency_ms": self.latency_ms,
            "guardrail": {"action": self.guardrail.action.value, "categories": list(self.guardrail.categories)},
            "tool_calls": [
                {"name": c.name, "argument_bytes": c.argument_bytes, "allowed": c.allowed} for c in self.tool_calls
            ],
            "retrieved": [{"source_url": p.source_url, "text": p.text} for p in self.retrieved],
        }


# --- field readers -------------------------------------------------------------------------------------------------
# Each reader takes the path of the value it reads, so an error names exactly the field at fault.


def _object(value: object, path: str, required: frozenset[str], optional: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TelemetryError(path, f"expected an object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise TelemetryError(path, f"object keys must be strings, got {_kind(key)}")
        if key not in required and key not in optional and not key.startswith(_EXTENSION_PREFIX):
            raise TelemetryError(_join(path, key),
                                 f"unknown field (private extensions must start with '{_EXTENSION_PREFIX}')")
    for key in sorted(required):
        if key not in value:
            raise TelemetryError(_join(path, key), "required field is missing")
    return value


def _string(value: object, path: str, pattern: re.Pattern[str] | None = None, max_chars: int | None = None,
            what: str = "") -> str:
    if not isinstance(value, str):
        raise TelemetryError(path, f"expected a string, got {_kind(value)}")
    if max_chars is not None and len(value) > max_chars:
        raise TelemetryError(path, f"is {len(value)} characters long, the maximum is {max_chars}")
    if pattern is not None and pattern.fullmatch(value) is None:
        raise TelemetryError(path, f"{_preview(value)} is not {what or 'in the expected format'}")
    return value


def _integer(value: object, path: str, maximum: int) -> int:
    # JSON has one number type: 3.0 is an integer to JSON Schema, so it is one here too. A bool is not.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TelemetryError(path, f"expected an integer, got {_kind(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise TelemetryError(path, f"expected an integer, got {value!r}")
        value = int(value)
    if not 0 <= value <= maximum:
        raise TelemetryError(path, f"{value} is outside 0..{maximum}")
    return value


def _number(value: object, path: str, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TelemetryError(path, f"expected a number, got {_kind(value)}")
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise TelemetryError(path, f"{value!r} is outside 0..{maximum}")
    return float(value)


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise TelemetryError(path, f"expected true or false, got {_kind(value)}")
    return value


def _array(value: object, path: str, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        raise TelemetryError(path, f"expected an array, got {_kind(value)}")
    if len(value) > max_items:
        raise TelemetryError(path, f"has {len(value)} items, the maximum is {max_items}")
    return value


def _timestamp(value: object, path: str) -> datetime:
    text = _string(value, path, _TIMESTAMP, max_chars=40, what="an RFC 3339 timestamp with a time zone")
    # Python keeps microseconds: drop digits beyond six rather than reject nanosecond clocks.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise TelemetryError(path, f"{_preview(text)} is not a valid date and time ({error})") from None


def _digest(value: object, path: str) -> str:
    text = _string(value, path, max_chars=71)
    match = _DIGEST.fullmatch(text)
    if match is None:
        raise TelemetryError(path, f"{_preview(text)} is not a SHA-256 digest (64 hex characters, optional 'sha256:')")
    return f"sha256:{match.group(1).lower()}"


def _text_part(value: object, path: str) -> TextPart:
    data = _object(value, path, frozenset({"text", "tokens"}), frozenset())
    return TextPart(
        text=_string(data["text"], f"{path}.text", max_chars=MAX_TEXT_CHARS),
        tokens=_integer(data["tokens"], f"{path}.tokens", MAX_TOKENS),
    )


def _guardrail(value: object, path: str) -> GuardrailVerdict:
    data = _object(value, path, frozenset({"action", "categories"}), frozenset())
    action_text = _string(data["action"], f"{path}.action")
    try:
        action = GuardrailAction(action_text)
    except ValueError:
        allowed = " or ".join(a.value for a in GuardrailAction)
        raise TelemetryError(f"{path}.action", f"{_preview(action_text)} is not {allowed}") from None
    items = _array(data["categories"], f"{path}.categories", MAX_CATEGORIES)
    categories = tuple(
        _string(item, f"{path}.categories[{i}]", _CATEGORY, what="an upper-case category name")
        for i, item in enumerate(items)
    )
    if len(set(categories)) != len(categories):
        raise TelemetryError(f"{path}.categories", "categories must be unique")
    if action is GuardrailAction.INTERVENED and not categories:
        raise TelemetryError(f"{path}.categories", "an INTERVENED verdict must name at least one category")
    return GuardrailVerdict(action=action, categories=categories)


def _tool_call(value: object, path: str) -> ToolCall:
    data = _object(value, path, frozenset({"name", "argument_bytes", "allowed"}), frozenset())
    return ToolCall(
        name=_string(data["name"], f"{path}.name", _TOOL_NAME, what="a tool name"),
        argument_bytes=_integer(data["argument_bytes"], f"{path}.argument_bytes", MAX_ARGUMENT_BYTES),
        allowed=_boolean(data["allowed"], f"{path}.allowed"),
    )


def _passage(value: object, path: str) -> RetrievedPassage:
    data = _object(value, path, frozenset({"source_url", "text"}), frozenset())
    return RetrievedPassage(
        source_url=_string(data["source_url"], f"{path}.source_url", _URI, MAX_URL_CHARS, what="an absolute URI"),
        text=_string(data["text"], f"{path}.text", max_chars=MAX_PASSAGE_CHARS),
    )


_REQUIRED = frozenset({
    "schema_version", "request_id", "timestamp", "caller", "model", "model_version", "root_digest",
    "input", "output", "latency_ms", "guardrail",
})
_OPTIONAL = frozenset({"tool_calls", "retrieved"})


def parse_event(data: object) -> TelemetryEvent:
    """Turn a decoded JSON object into a `TelemetryEvent`, or raise `TelemetryError` naming the first bad field."""
    root = "<root>"
    record = _object(data, root, _REQUIRED, _OPTIONAL)
    version = record["schema_version"]
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise TelemetryError("schema_version", f"{_preview(version)} is not a supported version ({SCHEMA_VERSION})")
    tool_items = _array(record.get("tool_calls", []), "tool_calls", MAX_TOOL_CALLS)
    passage_items = _array(record.get("retrieved", []), "retrieved", MAX_PASSAGES)
    return TelemetryEvent(
        schema_version=SCHEMA_VERSION,
        request_id=_string(record["request_id"], "request_id", _IDENTIFIER, what="a request id"),
        timestamp=_timestamp(record["timestamp"], "timestamp"),
        caller=_string(record["caller"], "caller", _CALLER,
                       what="a caller identity (1-256 printable ASCII characters, no spaces)"),
        model=_string(record["model"], "model", _IDENTIFIER, what="a model name"),
        model_version=_string(record["model_version"], "model_version", _IDENTIFIER, what="a model version"),
        root_digest=_digest(record["root_digest"], "root_digest"),
        input=_text_part(record["input"], "input"),
        output=_text_part(record["output"], "output"),
        latency_ms=_number(record["latency_ms"], "latency_ms", MAX_LATENCY_MS),
        guardrail=_guardrail(record["guardrail"], "guardrail"),
        tool_calls=tuple(_tool_call(item, f"tool_calls[{i}]") for i, item in enumerate(tool_items)),
        retrieved=tuple(_passage(item, f"retrieved[{i}]") for i, item in enumerate(passage_items)),
    )


_NOT_DECODED = object()
_SCAN_ONCE = json.decoder.JSONDecoder().scan_once  # what `json.loads` runs for a str with default arguments


def parse_event_json(line: str | bytes, *, reference: bool = False) -> TelemetryEvent:
    """Parse one JSON text (a log line) into an event. Invalid JSON is a `TelemetryError` on `<root>`.

    Valid events take `_parse_valid` (the same checks without building field paths); anything it does not accept
    goes through `parse_event`, which accepts or names the first bad field exactly as it always did. `reference`
    skips the fast path (equivalence tests and benchmarks compare both)."""
    data = _NOT_DECODED
    if not reference and type(line) is str and line[:1] == "{" and line[-1:] == "}":
        # `json.loads` on such a line skips no whitespace and runs the C scanner from 0: call it directly, and
        # accept its result only when it consumed the whole line (what `loads` then checks). Anything else, an
        # error included, goes to `json.loads`, which decides (and words any error) as it always did.
        try:
            data, end = _SCAN_ONCE(line, 0)
            if end != len(line):
                data = _NOT_DECODED
        except (StopIteration, ValueError, RecursionError):
            data = _NOT_DECODED
    try:
        if data is _NOT_DECODED:
            data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TelemetryError("<root>", f"not valid JSON ({error})") from None
    except RecursionError:
        raise TelemetryError("<root>", "JSON nesting is too deep") from None
    if not reference:
        event = _parse_valid(data)
        if event is not None:
            return event
    return parse_event(data)


# --- fast path for valid events --------------------------------------------------------------------------------
# Only for what `json.loads` returns (dict, list, str, int, float, bool, None; string keys), so exact type tests
# are the isinstance tests of the readers above. Returns None on anything unusual (an error, an x_ extension inside
# a nested object, a float token count...), and the caller then runs `parse_event` for the verdict: so this path
# can only ever be stricter than `parse_event`, never more lenient, and builds the same event.

_ALLOWED = _REQUIRED | _OPTIONAL
_TEXT_KEYS = frozenset({"text", "tokens"})
_GUARDRAIL_KEYS = frozenset({"action", "categories"})
_TOOL_KEYS = frozenset({"name", "argument_bytes", "allowed"})
_PASSAGE_KEYS = frozenset({"source_url", "text"})
_ACTIONS = {action.value: action for action in GuardrailAction}
_SUBSECOND_DIGITS = re.compile(r"(\.[0-9]{6})[0-9]+")
_IDENTIFIER_MATCH = _IDENTIFIER.fullmatch
_NO_ITEMS: list[Any] = []


def _constructor(cls: type) -> Any:
    """A positional constructor for a frozen, slotted dataclass without defaults' logic or `__post_init__`: the
    instance the generated `__init__` builds (each field set through its slot, in order), for less per call."""
    names = [field.name for field in dataclasses.fields(cls)]
    if hasattr(cls, "__post_init__") or list(cls.__slots__) != names:
        raise TypeError(f"{cls.__name__}: not a plain slotted dataclass, build it with its own __init__")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set_{name}": getattr(cls, name).__set__ for name in names})
    body = "".join(f"    set_{name}(instance, {name})\n" for name in names)
    exec(f"def make({', '.join(names)}):\n    instance = new(cls)\n{body}    return instance\n", namespace)  # noqa: S102
    return namespace["make"]


_NEW_EVENT = _constructor(TelemetryEvent)
_NEW_TEXT_PART = _constructor(TextPart)
_NEW_VERDICT = _constructor(GuardrailVerdict)
_NEW_TOOL_CALL = _constructor(ToolCall)
_NEW_PASSAGE = _constructor(RetrievedPassage)


def _parse_valid(data: object) -> TelemetryEvent | None:  # noqa: C901 - one flat pass on purpose (speed)
    if type(data) is not dict or not _REQUIRED <= data.keys():
        return None
    if len(data) > len(_REQUIRED):
        for key in data.keys() - _ALLOWED:
            if not key.startswith(_EXTENSION_PREFIX):
                return None
    version = data["schema_version"]
    if (type(version) is not int and type(version) is not float) or version != SCHEMA_VERSION:
        return None
    tool_items = data.get("tool_calls", _NO_ITEMS)
    passage_items = data.get("retrieved", _NO_ITEMS)
    if (type(tool_items) is not list or len(tool_items) > MAX_TOOL_CALLS or type(passage_items) is not list
            or len(passage_items) > MAX_PASSAGES):
        return None
    request_id, timestamp, caller = data["request_id"], data["timestamp"], data["caller"]
    model, model_version, digest = data["model"], data["model_version"], data["root_digest"]
    if (type(request_id) is not str or _IDENTIFIER_MATCH(request_id) is None
            or type(caller) is not str or _CALLER.fullmatch(caller) is None
            or type(model) is not str or _IDENTIFIER_MATCH(model) is None
            or type(model_version) is not str or _IDENTIFIER_MATCH(model_version) is None
            or type(timestamp) is not str or len(timestamp) > 40 or _TIMESTAMP.fullmatch(timestamp) is None
            or type(digest) is not str or len(digest) > 71):
        return None
    digest_match = _DIGEST.fullmatch(digest)
    if digest_match is None:
        return None
    if "." in timestamp:
        timestamp = _SUBSECOND_DIGITS.sub(r"\1", timestamp)
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    parts = []
    for part in (data["input"], data["output"]):
        if type(part) is not dict or part.keys() != _TEXT_KEYS:
            return None
        text, tokens = part["text"], part["tokens"]
        if (type(text) is not str or len(text) > MAX_TEXT_CHARS or type(tokens) is not int
                or not 0 <= tokens <= MAX_TOKENS):
            return None
        parts.append(_NEW_TEXT_PART(text, tokens))
    latency = data["latency_ms"]
    if (type(latency) is not int and type(latency) is not float) or not 0 <= latency <= MAX_LATENCY_MS:
        return None  # NaN fails the comparison, infinity the bound: exactly `math.isfinite` and the range
    guardrail = data["guardrail"]
    if type(guardrail) is not dict or guardrail.keys() != _GUARDRAIL_KEYS:
        return None
    action, categories = _ACTIONS.get(guardrail["action"]) if type(guardrail["action"]) is str else None, \
        guardrail["categories"]
    if action is None or type(categories) is not list or len(categories) > MAX_CATEGORIES:
        return None
    for category in categories:
        if type(category) is not str or _CATEGORY.fullmatch(category) is None:
            return None
    if (categories and len(set(categories)) != len(categories)) or (action is GuardrailAction.INTERVENED
                                                                     and not categories):
        return None
    tool_calls = []
    for item in tool_items:
        if type(item) is not dict or item.keys() != _TOOL_KEYS:
            return None
        name, size, allowed = item["name"], item["argument_bytes"], item["allowed"]
        if (type(name) is not str or _TOOL_NAME.fullmatch(name) is None or type(size) is not int
                or not 0 <= size <= MAX_ARGUMENT_BYTES or type(allowed) is not bool):
            return None
        tool_calls.append(_NEW_TOOL_CALL(name, size, allowed))
    passages = []
    for item in passage_items:
        if type(item) is not dict or item.keys() != _PASSAGE_KEYS:
            return None
        url, text = item["source_url"], item["text"]
        if (type(url) is not str or len(url) > MAX_URL_CHARS or _URI.fullmatch(url) is None or type(text) is not str
                or len(text) > MAX_PASSAGE_CHARS):
            return None
        passages.append(_NEW_PASSAGE(url, text))
    return _NEW_EVENT(SCHEMA_VERSION, request_id, when, caller, model, model_version,
                      f"sha256:{digest_match.group(1).lower()}", parts[0], parts[1], float(latency),
                      _NEW_VERDICT(action, tuple(categories)), tuple(tool_calls), tuple(passages))


def _join(path: str, key: str) -> str:
    return key if path == "<root>" else f"{path}.{key}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _preview(value: object, limit: int = 40) -> str:
    """A short, escaped rendering of a bad value for an error message: never the whole (possibly huge) payload."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
