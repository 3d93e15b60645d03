"""Guarded streaming: no output token reaches the caller before the output controls have seen it.

The upstream's server-sent events are parsed and their text deltas buffered. Text is released in windows of about
`streaming.windowChars` characters, cut after whitespace where possible (so a word, an e-mail address or a key is
rarely split between two windows; a run with no whitespace is cut hard at four windows). Each window goes through
the output guardrail (which may anonymise it), the extraction detectors (run on everything released so far plus the
window, so a weight dump spread over many windows is still recognised) and the redaction, and only then is sent to
the caller as one chunk shaped like the upstream's own chunks. What is left when the upstream ends is the final
window, checked the same way. A blocked window stops the stream: the caller gets an SSE error event
(`data: {"error": {...}}`) and `data: [DONE]`, and the blocked window never leaves the guard.

Latency trade-off. The caller sees the first text only after a whole window has been generated and checked: time to
first token grows by roughly windowChars / (generation speed in characters per second) plus one guardrail round
trip, and every window costs a guardrail call. Larger windows mean fewer calls and better context for the checks
(a guardrail judges a sentence better than a word) but a slower first token; smaller windows the reverse. The
default of 256 characters is about 60 tokens: a fraction of a second at typical generation speeds.

Fields that would carry output tokens around the checks are dropped from every chunk (`logprobs`, and any delta
field other than `role` and `content`); streaming with tools is refused at the request (see `controls`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from modelfort.runtime.guard.controls import CHAT, Refusal

DONE = "[DONE]"
_HARD_CUT_WINDOWS = 4


def sse(data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[Any]:
    """Decoded `data:` payloads of an SSE stream (JSON objects, or the string `[DONE]`)."""
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                yield _decode("\n".join(data))
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield _decode("\n".join(data))


def _decode(payload: str) -> Any:
    if payload.strip() == DONE:
        return DONE
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        raise Refusal(502, (), "the model server sent an event that is not JSON", code="bad_upstream",
                      type_="upstream_error", intervened=False) from None


def delta_text(kind: str, event: Any) -> str:
    if not isinstance(event, dict):
        return ""
    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    choice = choices[0]
    if kind == CHAT:
        value = (choice.get("delta") or {}).get("content")
    else:
        value = choice.get("text")
    return value if isinstance(value, str) else ""


def scrubbed(kind: str, event: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    """The event with only guarded text in it: `text` replaces the delta content when given."""
    out = {k: v for k, v in event.items() if k != "choices"}
    choices = []
    for choice in event.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        clean = {k: v for k, v in choice.items() if k in ("index", "finish_reason")}
        if kind == CHAT:
            delta = choice.get("delta") or {}
            new_delta = {k: v for k, v in delta.items() if k == "role"}
            if text is not None:
                new_delta["content"] = text
            clean["delta"] = new_delta
        else:
            clean["text"] = text if text is not None else ""
        choices.append(clean)
    out["choices"] = choices
    return out


def cut_point(pending: str, window: int) -> int | None:
    """Where to end the next window, or None to wait for more text."""
    if len(pending) < window:
        return None
    limit = min(len(pending), 2 * window)
    for index in range(limit - 1, window // 2 - 1, -1):
        if pending[index].isspace():
            return index + 1
    if len(pending) >= _HARD_CUT_WINDOWS * window:
        return window
    return None


CheckWindow = Callable[[str, bool], Awaitable[str]]
"""(window text, is_final) -> text to release; raises `Refusal` to stop the stream."""


class StreamOutcome:
    def __init__(self) -> None:
        self.released: list[str] = []
        self.refusal: Refusal | None = None
        self.usage: dict[str, Any] | None = None
        self.completed = False

    @property
    def text(self) -> str:
        return "".join(self.released)


async def guarded_stream(kind: str, events: AsyncIterator[Any], window: int, check: CheckWindow,
                         outcome: StreamOutcome) -> AsyncIterator[bytes]:
    """The caller's SSE byte stream; see the module docstring."""
    pending = ""
    template: dict[str, Any] | None = None
    deferred: list[dict[str, Any]] = []

    async def release(piece: str, final: bool) -> bytes | None:
        out = await check(piece, final)
        if not out:
            return None
        outcome.released.append(out)
        return sse(scrubbed(kind, template or {"choices": [{"index": 0}]}, out))

    try:
        async for event in events:
            if event == DONE:
                break
            if not isinstance(event, dict):
                continue
            if isinstance(event.get("usage"), dict):
                outcome.usage = event["usage"]
            if "error" in event and not event.get("choices"):
                raise Refusal(502, (), "the model server reported an error mid-stream", code="upstream_error",
                              type_="upstream_error", intervened=False)
            text = delta_text(kind, event)
            if not text:
                if pending:
                    deferred.append(scrubbed(kind, event))
                else:
                    yield sse(scrubbed(kind, event))
                continue
            template = {**event, "choices": [{"index": (event.get("choices") or [{}])[0].get("index", 0),
                                              "finish_reason": None}]}
            pending += text
            while (cut := cut_point(pending, window)) is not None:
                piece, pending = pending[:cut], pending[cut:]
                chunk = await release(piece, False)
                if chunk:
                    yield chunk
                for held in deferred:
                    yield sse(held)
                deferred.clear()
        chunk = await release(pending, True)
        pending = ""
        if chunk:
            yield chunk
        for held in deferred:
            yield sse(held)
        outcome.completed = True
    except Refusal as refusal:
        outcome.refusal = refusal
        yield sse(refusal.body())
    yield sse(DONE)
