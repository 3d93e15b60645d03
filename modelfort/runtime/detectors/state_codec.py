"""Per-caller state to bytes and back, so the stateful detectors can keep it outside the process (DynamoDB).

Why not pickle. The bytes live in a table other principals can write to; unpickling them would run whatever a
writer put there. This codec knows exactly the detector state classes below (by name), rebuilds only those, checks
that every slot is present and nothing else is, and accepts only the array type codes the detectors use. Anything
else raises `StateCodecError`, and the caller starts from a fresh state (losing a warm-up, never running input).
Slot values are not type-checked one by one: a well-formed state with a wrong value type makes a detector fail,
which the engine reports as `engine.detector_error` without stopping the other detectors.

Format: zlib-compressed JSON, `{"v": 1, "fp": <config fingerprint>, "s": <CallerState>}`. Objects are
`{"t": <class name>, "f": {slot: value}}`, arrays `{"a": <type code>, "b": <base64 of the machine values,
little-endian>}`, dicts of objects `{"d": {key: value}}`. The fingerprint covers the settings that size the state
(ring lengths, history): a state written under other sizes is not reused, because the detectors index into it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib
from array import array
from typing import Any

from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.context import CallerState
from modelfort.runtime.detectors.extraction import _ExtractionState
from modelfort.runtime.detectors.state import Ewma, FixedWindow, RecentTimes
from modelfort.runtime.detectors.tool_use import _EnumerationState, _ToolState

FORMAT_VERSION = 1
MAX_ENCODED_BYTES = 256 * 1024
"""Refuse to decode more than this (compressed): a DynamoDB item is at most 400 KB, and a caller's state is ~12 KB."""
_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    CallerState, _ExtractionState, _ToolState, _EnumerationState, Ewma, FixedWindow, RecentTimes)}
_TYPECODES = frozenset({"I", "d"})
_MAX_DEPTH = 6


class StateCodecError(ValueError):
    """Stored state that this version cannot or will not rebuild."""


def fingerprint(config: DetectorConfig) -> str:
    """What must match for a stored state to fit the detectors: the sizes of its rings and histories."""
    sizes = (config.extraction.probe_history, config.extraction.probe_threshold, config.tool_use.max_calls_per_window,
             config.tool_use.max_tools_per_caller)
    return hashlib.sha256(repr((FORMAT_VERSION, sizes)).encode()).hexdigest()[:16]


def encode(state: CallerState, config: DetectorConfig) -> bytes:
    document = {"v": FORMAT_VERSION, "fp": fingerprint(config), "s": _to_json(state)}
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def decode(blob: bytes, config: DetectorConfig) -> CallerState:
    if len(blob) > MAX_ENCODED_BYTES:
        raise StateCodecError(f"stored state is {len(blob)} bytes, more than {MAX_ENCODED_BYTES}")
    decompressor = zlib.decompressobj()
    try:
        raw = decompressor.decompress(blob, MAX_ENCODED_BYTES * 16)
    except zlib.error as error:
        raise StateCodecError(f"stored state is not readable ({type(error).__name__})") from error
    if decompressor.unconsumed_tail:
        raise StateCodecError("stored state expands beyond the size limit")
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise StateCodecError(f"stored state is not readable ({type(error).__name__})") from error
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise StateCodecError(f"stored state format {document.get('v') if isinstance(document, dict) else '?'!r} "
                              f"is not {FORMAT_VERSION}")
    if document.get("fp") != fingerprint(config):
        raise StateCodecError("stored state was written under other detector sizes (config changed)")
    try:
        state = _from_json(document.get("s"), 0)
    except StateCodecError:
        raise
    except (ValueError, TypeError) as error:  # bad base64, a ragged array: corrupt, not ours
        raise StateCodecError(f"stored state is corrupt ({type(error).__name__})") from error
    if not isinstance(state, CallerState):
        raise StateCodecError("stored state is not a CallerState")
    return state


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, array):
        data = value if sys.byteorder == "little" else array(value.typecode, value)
        if sys.byteorder != "little":
            data.byteswap()
        return {"a": value.typecode, "b": base64.b64encode(data.tobytes()).decode()}
    if isinstance(value, dict):
        return {"d": {str(key): _to_json(item) for key, item in value.items()}}
    name = type(value).__name__
    if _CLASSES.get(name) is not type(value):
        raise StateCodecError(f"cannot store a {name}")
    return {"t": name, "f": {slot: _to_json(getattr(value, slot)) for slot in type(value).__slots__}}


def _from_json(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise StateCodecError("stored state is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if not isinstance(value, dict):
        raise StateCodecError(f"unexpected {type(value).__name__} in stored state")
    if set(value) == {"a", "b"}:
        if value["a"] not in _TYPECODES or not isinstance(value["b"], str):
            raise StateCodecError(f"array type {value['a']!r} is not one of {sorted(_TYPECODES)}")
        data = array(value["a"])
        data.frombytes(base64.b64decode(value["b"], validate=True))
        if sys.byteorder != "little":
            data.byteswap()
        return data
    if set(value) == {"d"} and isinstance(value["d"], dict):
        return {key: _from_json(item, depth + 1) for key, item in value["d"].items()}
    if set(value) == {"t", "f"} and isinstance(value["f"], dict):
        cls = _CLASSES.get(value["t"])
        if cls is None:
            raise StateCodecError(f"class {value['t']!r} is not a detector state class")
        if set(value["f"]) != set(cls.__slots__):
            raise StateCodecError(f"{value['t']} fields {sorted(value['f'])} are not {sorted(cls.__slots__)}")
        instance = cls.__new__(cls)
        for slot, item in value["f"].items():
            setattr(instance, slot, _from_json(item, depth + 1))
        return instance
    raise StateCodecError("unrecognised object in stored state")
