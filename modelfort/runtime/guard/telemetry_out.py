"""One telemetry line per inference request, on stdout, valid against `telemetry_event.schema.json`.

Every request that reaches an inference path (accepted, refused by a control, or failed upstream) produces exactly
one event; `/healthz`, `/readyz` and `/metrics` are not inference requests and produce none. The event is built
here so that it is valid by construction: every text is cut to the schema's limits, identifiers that the schema
would refuse are escaped, and categories are reduced to the schema's upper-case alphabet.

Private extensions (allowed by the schema under `x_`) carry what the guard decided: `x_outcome`
(`accepted` | `refused` | `failed`), `x_status` (the HTTP status the caller saw; for a stream stopped part-way,
the status carried by its final error event, and 499 when the caller went away), `x_controls` (control IDs that
refused or changed the request or response), `x_stream`, `x_path`. `guardrail.action` is INTERVENED when the
guardrail service or one of the guard's own controls refused or changed content; a fail-open pass is recorded as
action NONE with the category `GUARDRAIL_FAIL_OPEN`.

Writing never drops silently. A failed write (closed pipe, full disk, encoding error) is counted in
`TelemetryWriter.failed`, reported on stderr with the running total, and exposed as
`modelfort_guard_telemetry_write_failures_total` on `/metrics`; `written` counts successful lines. The shipping
agent's own alarm on a non-zero failure counter is what tells an operator that evidence is missing.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO
from urllib.parse import quote

from modelfort.runtime.telemetry import (
    MAX_CATEGORIES,
    MAX_LATENCY_MS,
    MAX_PASSAGE_CHARS,
    MAX_PASSAGES,
    MAX_TEXT_CHARS,
    MAX_TOKENS,
    MAX_URL_CHARS,
    SCHEMA_VERSION,
)

_CALLER_OK = re.compile(r"[\x21-\x7e]{1,256}")
_CATEGORY_OK = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_URI_OK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")
UNAUTHENTICATED = "unauthenticated"


def safe_caller(principal: str | None) -> str:
    """The principal as the schema accepts it: printable ASCII without spaces, at most 256 characters.

    Anything else is percent-encoded rather than dropped, so two distinct principals never collapse into one."""
    if not principal:
        return UNAUTHENTICATED
    if _CALLER_OK.fullmatch(principal):
        return principal
    encoded = quote(principal, safe="!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
    return encoded[:256] or UNAUTHENTICATED


def safe_categories(categories: Iterable[str]) -> list[str]:
    out: list[str] = []
    for category in categories:
        name = re.sub(r"[^A-Z0-9_]", "_", category.upper())[:64]
        if name and not name[0].isalpha():
            name = f"C_{name}"[:64]
        if name and _CATEGORY_OK.fullmatch(name) and name not in out:
            out.append(name)
    return out[:MAX_CATEGORIES]


def _passages(passages: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for source_url, text in passages[:MAX_PASSAGES]:
        url = source_url if _URI_OK.fullmatch(source_url or "") and len(source_url) <= MAX_URL_CHARS \
            else "urn:modelfort:unparseable-source"
        out.append({"source_url": url, "text": text[:MAX_PASSAGE_CHARS]})
    return out


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_event(*, request_id: str, received: datetime, caller: str | None, model: str, model_version: str,
                root_digest: str, input_text: str, input_tokens: int, output_text: str, output_tokens: int,
                latency_ms: float, intervened: bool, categories: Iterable[str], outcome: str, status: int,
                controls: Iterable[str], stream: bool, path: str,
                passages: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """A schema-valid event dict (see the module docstring for the `x_` fields)."""
    cats = safe_categories(categories)
    if intervened and not cats:
        cats = ["GUARD"]
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "request_id": request_id,
        "timestamp": timestamp(received),
        "caller": safe_caller(caller),
        "model": model,
        "model_version": model_version,
        "root_digest": root_digest,
        "input": {"text": input_text[:MAX_TEXT_CHARS], "tokens": max(0, min(int(input_tokens), MAX_TOKENS))},
        "output": {"text": output_text[:MAX_TEXT_CHARS], "tokens": max(0, min(int(output_tokens), MAX_TOKENS))},
        "latency_ms": round(max(0.0, min(float(latency_ms), float(MAX_LATENCY_MS))), 3),
        "guardrail": {"action": "INTERVENED" if intervened else "NONE", "categories": cats},
        "x_outcome": outcome,
        "x_status": status,
        "x_controls": sorted(set(controls)),
        "x_stream": stream,
        "x_path": path[:256],
    }
    if passages:
        event["retrieved"] = _passages(passages)
    return event


class TelemetryWriter:
    """Writes one JSON line per event to a text stream (stdout by default), counting every outcome."""

    def __init__(self, stream: TextIO | None = None, errors: TextIO | None = None) -> None:
        self._stream = stream
        self._errors = errors
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def emit(self, event: dict[str, Any]) -> bool:
        try:
            # ensure_ascii: a caller's text can never break the one-line framing or carry terminal escapes.
            line = json.dumps(event, ensure_ascii=True, separators=(",", ":")) + "\n"
        except (TypeError, ValueError) as exc:
            return self._failed(exc)
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except Exception as exc:  # noqa: BLE001 - any failure is counted, none may pass silently
                return self._failed(exc)
            self.written += 1
        return True

    def _failed(self, exc: BaseException) -> bool:
        self.failed += 1
        errors = self._errors if self._errors is not None else sys.stderr
        try:
            print(f"modelfort-guard: telemetry write failed ({type(exc).__name__}); "
                  f"telemetry_write_failures_total={self.failed}", file=errors, flush=True)
        except Exception:  # noqa: BLE001 - stderr gone too: the counter on /metrics is what is left
            pass
        return False
