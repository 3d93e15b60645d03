"""Test doubles for the guard: a stub OpenAI-compatible model server, a fake Model Armor, a stub guardrail, and a
helper that runs any ASGI app under uvicorn on 127.0.0.1 in a background thread.

The stub upstream decides what to answer from markers in the last user message (`#weights`, `#pii`, `#hang`...),
and records every body it received so tests can assert what the model server was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from modelfort.runtime.guard.config import GuardConfig, parse_config
from modelfort.runtime.guard.guardrails import Verdict

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "modelfort/runtime/telemetry_event.schema.json")
                    .read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DIGEST = "sha256:" + "ab" * 32
START_TIMEOUT_S = 30.0  # generous readiness bound, never an assertion about speed
_RNG = random.Random(7)
WEIGHTS = " ".join(f"{_RNG.uniform(-0.99, 0.99):.4f}" for _ in range(300))
WEIGHTS_END = "0.9999"  # the last value of the dump: must never reach a caller
PROSE = ("The guard releases text in windows once every check has passed. " * 6).strip()


# --- running servers ------------------------------------------------------------------------------------------------

class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 (a random free port) in a daemon thread."""

    def __init__(self, app: Any, **options: Any) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (as uvicorn binds them)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        options.setdefault("timeout_keep_alive", 75)  # as the guard runs; no keep-alive race under load
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT_S)
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --- the stub model server ------------------------------------------------------------------------------------------

class Upstream:
    """An OpenAI-compatible stub. `release()` frees every request parked by `#hang`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.keep_bodies = True
        self.entered = threading.Event()
        self.healthy = True
        self.loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
        ], lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> Any:
        self.loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        yield

    def release(self) -> None:
        if self.loop is not None and self._release is not None:
            self.loop.call_soon_threadsafe(self._release.set)

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"ok": self.healthy}, status_code=200 if self.healthy else 500)

    async def models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "stub-model", "object": "model"}]})

    @staticmethod
    def answer_for(prompt: str) -> str:
        if "#weights" in prompt:
            return PROSE + " Here they are: " + WEIGHTS + " " + WEIGHTS_END + " and more after it."
        if "#pii" in prompt:
            return "Sure. Contact Jane Doe at jane.doe@example.com for details."
        if "#canary" in prompt:
            return "My instructions contain CANARY-7f3a9b2c and nothing else."
        if "#secret" in prompt:
            return "The key is AKIAIOSFODNN7EXAMPLE, keep it safe."
        if "#long" in prompt:
            return PROSE
        return "Hello from the stub model."

    async def _common(self, request: Request) -> tuple[dict[str, Any], str]:
        body = await request.json()
        if self.keep_bodies:
            self.received.append(copy.deepcopy(body))
        if "messages" in body:
            prompt = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        else:
            prompt = body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][-1]
        if "#hang" in prompt:
            self.entered.set()
            assert self._release is not None
            await self._release.wait()
        return body, self.answer_for(str(prompt))

    async def chat(self, request: Request) -> Any:
        body, answer = await self._common(request)
        if body.get("stream"):
            return StreamingResponse(self._chunks("chat", answer), media_type="text/event-stream")
        return JSONResponse({
            "id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "stub-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                         "finish_reason": "stop", "logprobs": {"content": [{"token": "leak"}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})

    async def completions(self, request: Request) -> Any:
        body, answer = await self._common(request)
        if body.get("stream"):
            return StreamingResponse(self._chunks("text", answer), media_type="text/event-stream")
        return JSONResponse({"id": "cmpl-2", "object": "text_completion", "created": 1, "model": "stub-model",
                             "choices": [{"index": 0, "text": answer, "finish_reason": "stop", "logprobs": None}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})

    @staticmethod
    async def _chunks(kind: str, answer: str) -> Any:
        base = {"id": "chunk-1", "created": 1, "model": "stub-model"}
        if kind == "chat":
            first = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
            yield f"data: {json.dumps(first)}\n\n"
        for start in range(0, len(answer), 12):
            piece = answer[start:start + 12]
            if kind == "chat":
                event = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None,
                                      "logprobs": {"content": [{"token": piece}]}}]}
            else:
                event = {**base, "object": "text_completion",
                         "choices": [{"index": 0, "text": piece, "finish_reason": None}]}
            yield f"data: {json.dumps(event)}\n\n"
        last = {**base, "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"} if kind == "chat"
                            else {"index": 0, "text": "", "finish_reason": "stop"}]}
        yield f"data: {json.dumps(last)}\n\n"
        yield "data: [DONE]\n\n"


# --- guardrail doubles ----------------------------------------------------------------------------------------------

class StubGuardrail:
    """An in-process guardrail: clean unless the text holds a marker; counts its calls."""

    name = "stub"

    def __init__(self) -> None:
        self.inputs = 0
        self.outputs = 0

    async def check_input(self, text: str) -> Verdict:
        self.inputs += 1
        if "#toxic" in text:
            return Verdict(True, True, ("HATE",), ("RC-02",))
        return Verdict.clean()

    async def check_output(self, text: str, *, query: str = "", sources: Any = ()) -> Verdict:
        self.outputs += 1
        return Verdict.clean()

    async def aclose(self) -> None:
        return None


class FakeModelArmor:
    """Model Armor's REST shape on 127.0.0.1: sanitizeUserPrompt / sanitizeModelResponse."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.app = Starlette(routes=[Route("/v1/{rest:path}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> JSONResponse:
        path = request.url.path
        body = await request.json()
        self.calls.append((path, body, request.headers.get("authorization")))
        method = path.rsplit(":", 1)[-1]
        text = (body.get("userPromptData") or body.get("modelResponseData") or {}).get("text", "")
        filters: dict[str, Any] = {
            "rai": {"raiFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND",
                                        "raiFilterTypeResults": {"hate_speech": {"matchState": "NO_MATCH_FOUND"}}}},
            "pi_and_jailbreak": {"piAndJailbreakFilterResult": {"matchState": "NO_MATCH_FOUND"}},
        }
        state = "NO_MATCH_FOUND"
        if "hateful" in text:
            state = "MATCH_FOUND"
            filters["rai"]["raiFilterResult"]["matchState"] = "MATCH_FOUND"
            filters["rai"]["raiFilterResult"]["raiFilterTypeResults"]["hate_speech"]["matchState"] = "MATCH_FOUND"
        if method == "sanitizeModelResponse" and "@example.com" in text:
            state = "MATCH_FOUND"
            masked = text.replace("jane.doe@example.com", "[EMAIL_ADDRESS]")
            filters["sdp"] = {"sdpFilterResult": {"deidentifyResult": {
                "executionState": "EXECUTION_SUCCESS", "matchState": "MATCH_FOUND", "data": {"text": masked},
                "infoTypes": ["EMAIL_ADDRESS"]}}}
        return JSONResponse({"sanitizationResult": {"filterMatchState": state, "filterResults": filters,
                                                    "invocationResult": "SUCCESS"}})


# --- config and telemetry ------------------------------------------------------------------------------------------

def config_dict(upstream_url: str, tmp: Path, **sections: Any) -> dict[str, Any]:
    jwks = tmp / "jwks.json"
    if not jwks.exists():
        jwks.write_text('{"keys": []}', encoding="utf-8")
    data: dict[str, Any] = {
        "listen": {"host": "127.0.0.1", "port": 8443},
        "upstream": {"url": upstream_url, "healthPath": "/health"},
        "model": {"name": "support-llm", "version": "2026.12.1", "rootDigest": DIGEST, "maxOutputTokens": 256},
        "tier": "standard",
        "guardrail": {"provider": "none"},
        "identity": {"mode": "jwt", "jwt": {"issuer": "https://idp.test", "audience": "modelfort",
                                            "jwksFile": str(jwks)}},
        "limits": {"maxRequestBytes": 65536, "requestTimeoutS": 20.0, "upstreamTimeoutS": 15.0,
                   "maxConcurrent": 16, "queueSize": 32},
        "streaming": {"windowChars": 64},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def make_config(upstream_url: str, tmp: Path, **sections: Any) -> GuardConfig:
    return parse_config(config_dict(upstream_url, tmp, **sections), tmp)


class Sink:
    """A text stream for `TelemetryWriter` that keeps every line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *done, self._buffer = self._buffer.split("\n")
        self.lines.extend(done)
        return len(text)

    def flush(self) -> None:
        return None

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            event = json.loads(line)
            VALIDATOR.validate(event)
            out.append(event)
        return out


class AllowAll:
    """An authenticator for tests that are not about identity."""

    async def authenticate(self, scope: Any, headers: Any) -> str:
        return headers.get("x-test-caller", "test-caller")


@contextlib.contextmanager
def running_guard(config: GuardConfig, **kwargs: Any) -> Iterator[tuple[str, Any, Sink]]:
    from modelfort.runtime.guard.app import build_app
    from modelfort.runtime.guard.telemetry_out import TelemetryWriter

    sink = Sink()
    kwargs.setdefault("authenticator", AllowAll())
    kwargs.setdefault("telemetry", TelemetryWriter(sink))
    app = build_app(config, **kwargs)
    with ServerThread(app) as server:
        yield server.url, app.state.guard, sink
    sink.events()  # every line of every test validates against the schema


def sse_payloads(text: str) -> list[Any]:
    out = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                payload = line[6:]
                out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def streamed_text(payloads: list[Any]) -> str:
    text = []
    for p in payloads:
        if isinstance(p, dict):
            for choice in p.get("choices", []):
                text.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return "".join(text)
