"""`modelfort guard`: the inference reverse proxy that holds the serving pod's only exposed port.

Per request, in order: the path (only `/v1/chat/completions` and `/v1/completions` are inference paths; anything
else is 404 unless listed in `allowedExtraPaths`), the caller's identity (401), admission (RC-11: at most
`limits.maxConcurrent` requests in flight and `limits.queueSize` waiting; a full queue is 429 at once, a wait
that outlives the request timeout is 503), the body read with a byte cap (RC-05), then the input controls in
`config.CONTROL_TABLE` order, the model server, and the output controls (non-streaming: on the whole answer; streaming:
per window, see `streaming`). Every inference request ends with exactly one telemetry line (`telemetry_out`).

Timeouts (RC-10): `limits.requestTimeoutS` bounds the whole request, streaming included; `limits.upstreamTimeoutS`
bounds each wait on the model server (connect, each read), and its expiry is a 504. Memory (RC-11): request bodies
are capped while they are read, admission bounds how many are held, upstream answers are read only for admitted
requests, and streams hold at most a few windows of text.

Guard-owned endpoints, never proxied and producing no telemetry: `/healthz` (liveness), `/readyz` (probes the
model server's `upstream.healthPath`; 503 when it does not answer 2xx) and `/metrics` (Prometheus text: request
outcomes, admission state and `modelfort_guard_telemetry_write_failures_total`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from urllib.parse import quote
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from modelfort.runtime.guard import controls as c
from modelfort.runtime.guard.config import GuardConfig
from modelfort.runtime.guard.guardrails import Guardrail, Verdict, build_guardrail
from modelfort.runtime.guard.identity import Authenticator, Unauthenticated, build_authenticator
from modelfort.runtime.guard.streaming import StreamOutcome, guarded_stream, sse_events
from modelfort.runtime.guard.telemetry_out import TelemetryWriter, build_event
from modelfort.runtime.guard.upstream import (
    RequestDeadline,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
)

INFERENCE_PATHS = {"/v1/chat/completions": c.CHAT, "/v1/completions": c.COMPLETIONS}
GUARD_PATHS = ("/healthz", "/readyz", "/metrics")
_UNGUARDED_BODY_CAP = 64 * 1024 * 1024  # memory bound (RC-11) when the RC-05 size control is switched off
_EXTRACTION_TAIL = 256 * 1024  # streamed text the extraction detectors re-read per window
_EXTRA_RESPONSE_CAP = 8 * 1024 * 1024
_ANSWER_CAP = 64 * 1024 * 1024  # memory bound (RC-11) on one non-streaming answer of the model server
_UPSTREAM_PATHS = {c.CHAT: "/v1/chat/completions", c.COMPLETIONS: "/v1/completions"}


class Admission:
    """Bounded concurrency with a bounded queue (RC-11)."""

    def __init__(self, max_concurrent: int, queue_size: int) -> None:
        self.max_concurrent = max_concurrent
        self.queue_size = queue_size
        self.active = 0
        self.waiting = 0
        self.rejected = 0
        self._slots: asyncio.Semaphore | None = None

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        return self._slots

    async def acquire(self, timeout_s: float) -> None:
        if self.active < self.max_concurrent and not self.waiting and not self.slots.locked():
            await self.slots.acquire()  # a free slot: returns at once, no timer needed
            self.active += 1
            return
        if self.active >= self.max_concurrent or self.waiting:
            if self.waiting >= self.queue_size:
                self.rejected += 1
                raise c.Refusal(429, ("RC-11",), "the guard is at capacity and its queue is full; retry later",
                                code="rate_limit_exceeded", type_="rate_limit_error", intervened=False)
        self.waiting += 1
        try:
            with anyio.fail_after(max(timeout_s, 0.0)):
                await self.slots.acquire()
        except TimeoutError:
            raise c.Refusal(503, ("RC-10", "RC-11"), "no capacity became free within the request timeout",
                            code="capacity_timeout", type_="service_unavailable_error", intervened=False) from None
        finally:
            self.waiting -= 1
        self.active += 1

    def release(self) -> None:
        self.active -= 1
        self.slots.release()


@dataclass
class Record:
    """What the telemetry line of one request will say."""

    request_id: str
    path: str
    received: datetime
    started: float
    caller: str | None = None
    prompt: c.Prompt | None = None
    input_tokens: int = 0
    output_text: str = ""
    output_tokens: int | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    controls: set[str] = field(default_factory=set)
    categories: list[str] = field(default_factory=list)
    intervened: bool = False
    outcome: str = "accepted"
    status: int = 200
    stream: bool = False
    emitted: bool = False

    def refused(self, refusal: c.Refusal) -> None:
        self.outcome = "failed" if refusal.status in (500, 502, 503, 504) else "refused"
        self.status = refusal.status
        self.controls.update(refusal.controls)
        self.categories.extend(refusal.categories)
        self.intervened = self.intervened or refusal.intervened

    def verdict(self, verdict: Verdict) -> None:
        self.verdicts.append(verdict)
        if verdict.intervened:
            self.intervened = True
            self.controls.update(verdict.controls)
        self.categories.extend(verdict.categories)


class Guard:
    def __init__(self, config: GuardConfig, *, guardrail: Guardrail | None = None,
                 authenticator: Authenticator | None = None, telemetry: TelemetryWriter | None = None,
                 upstream_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.guardrail = guardrail if guardrail is not None else build_guardrail(config.guardrail)
        self.authenticator = authenticator if authenticator is not None else build_authenticator(config.identity)
        self.telemetry = telemetry if telemetry is not None else TelemetryWriter()
        self.admission = Admission(config.limits.max_concurrent, config.limits.queue_size)
        self.detectors = c.InlineDetectors(config)
        self.keywords = c.KeywordMatcher(config.controls["keywords"].options["disallowed"])
        self.tokens = c.TokenCounter(config.model.tokenizer)
        self.outcomes: Counter[str] = Counter()
        self._transport = upstream_transport
        self.http: httpx.AsyncClient | None = None
        """Unadmitted upstream calls (/readyz); admitted requests use `upstream`."""
        # Admitted requests: one kept-alive connection each, leased per request (admission bounds how many exist).
        self.upstream = UpstreamPool(config.upstream_url, config.limits.upstream_timeout_s)
        self._tls = ssl.create_default_context()

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def _client(self, connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.config.upstream_url, transport=self._transport, verify=self._tls,
            timeout=httpx.Timeout(self.config.limits.upstream_timeout_s),
            # Idle upstream connections are dropped before the model server's own keep-alive (5 s in uvicorn-based
            # servers) can close one under a request being sent on it.
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections,
                                keepalive_expiry=2.0),
            trust_env=False)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.http = self._client(2)
        try:
            yield
        finally:
            await self.http.aclose()
            await self.upstream.aclose()
            await self.guardrail.aclose()

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        return Starlette(routes=[
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/{path:path}", self.dispatch, methods=methods),
        ], lifespan=self.lifespan)

    # --- guard-owned endpoints ----------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.http is None:  # the main listener has not started yet
            return JSONResponse({"status": "not ready", "detail": "guard starting"}, status_code=503)
        try:
            response = await self.http.get(self.config.upstream_health_path,
                                           timeout=min(self.config.limits.upstream_timeout_s, 5.0))
            ready = 200 <= response.status_code < 300
            detail = f"upstream answered {response.status_code}"
        except httpx.HTTPError as exc:
            ready, detail = False, f"upstream unreachable ({type(exc).__name__})"
        return JSONResponse({"status": "ready" if ready else "not ready", "detail": detail},
                            status_code=200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        lines = [
            "# TYPE modelfort_guard_requests_total counter",
            *(f'modelfort_guard_requests_total{{outcome="{k}"}} {v}' for k, v in sorted(self.outcomes.items())),
            "# TYPE modelfort_guard_telemetry_written_total counter",
            f"modelfort_guard_telemetry_written_total {self.telemetry.written}",
            "# TYPE modelfort_guard_telemetry_write_failures_total counter",
            f"modelfort_guard_telemetry_write_failures_total {self.telemetry.failed}",
            "# TYPE modelfort_guard_active_requests gauge",
            f"modelfort_guard_active_requests {self.admission.active}",
            "# TYPE modelfort_guard_queued_requests gauge",
            f"modelfort_guard_queued_requests {self.admission.waiting}",
            "# TYPE modelfort_guard_queue_rejections_total counter",
            f"modelfort_guard_queue_rejections_total {self.admission.rejected}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n")

    # --- requests -----------------------------------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        record = Record(f"req-{uuid.uuid4().hex}", request.url.path, datetime.now(timezone.utc), time.perf_counter())
        deadline = record.started + self.config.limits.request_timeout_s
        admitted = False
        streaming: Response | None = None
        try:
            try:
                kind = INFERENCE_PATHS.get(request.url.path)
                if kind is None and request.url.path not in self.config.allowed_extra_paths:
                    raise c.Refusal(404, (), f"{request.url.path} is not served here", code="not_found",
                                    intervened=False)
                if kind is not None and request.method != "POST":
                    raise c.Refusal(405, (), "use POST", code="method_not_allowed", intervened=False)
                try:
                    record.caller = await self.authenticator.authenticate(request.scope, request.headers)
                except Unauthenticated as exc:
                    raise c.Refusal(401, (), f"unauthenticated: {exc.reason}", code="invalid_api_key",
                                    type_="authentication_error", intervened=False) from None
                await self.admission.acquire(deadline - time.perf_counter())
                admitted = True
                with anyio.fail_after(max(deadline - time.perf_counter(), 0.0)):
                    body = await self._read_body(request)
                    if kind is None:
                        response = await self._proxy_extra(request, body)
                    else:
                        response = await self._inference(kind, body, record, deadline)
            except TimeoutError:
                raise c.Refusal(504, ("RC-10",), "the request exceeded the guard's request timeout",
                                code="request_timeout", type_="timeout_error", intervened=False) from None
            if isinstance(response, StreamingResponse):
                streaming = response
            return response
        except c.Refusal as refusal:
            record.refused(refusal)
            headers = {"x-request-id": record.request_id}
            if refusal.controls:
                headers["x-modelfort-controls"] = ",".join(refusal.controls)
            if refusal.status == 429:
                headers["retry-after"] = "1"
            if refusal.status == 401:
                headers["www-authenticate"] = "Bearer" if self.config.identity.mode == "jwt" else "mTLS"
            return JSONResponse(refusal.body(), status_code=refusal.status, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a bug must still yield one telemetry line and an error body
            record.outcome, record.status = "failed", 500
            return JSONResponse(c.error_body(f"internal guard error ({type(exc).__name__})", type_="server_error",
                                             code="internal_error"), status_code=500,
                                headers={"x-request-id": record.request_id})
        finally:
            if streaming is None:
                if admitted:
                    self.admission.release()
                self._emit(record)

    async def _read_body(self, request: Request) -> bytes:
        enabled = self.config.enabled("requestSize")
        cap = self.config.limits.max_request_bytes if enabled else _UNGUARDED_BODY_CAP
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit():
            c.check_request_size(self.config, int(declared))
            if int(declared) > cap:
                raise c.Refusal(413, ("RC-11",), f"the request body exceeds {cap} bytes", code="request_too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            c.check_request_size(self.config, size)
            if size > cap:
                raise c.Refusal(413, ("RC-11",), f"the request body exceeds {cap} bytes", code="request_too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    def _emit(self, record: Record) -> None:
        if record.emitted:
            return
        record.emitted = True
        self.outcomes[record.outcome] += 1
        model = self.config.model
        prompt = record.prompt
        output_tokens = record.output_tokens if record.output_tokens is not None \
            else c.estimate_tokens(record.output_text)
        self.telemetry.emit(build_event(
            request_id=record.request_id, received=record.received, caller=record.caller, model=model.name,
            model_version=model.version, root_digest=model.root_digest,
            input_text=prompt.model_input() if prompt else "", input_tokens=record.input_tokens,
            output_text=record.output_text, output_tokens=output_tokens,
            latency_ms=(time.perf_counter() - record.started) * 1000, intervened=record.intervened,
            categories=record.categories, outcome=record.outcome, status=record.status, controls=record.controls,
            stream=record.stream, path=record.path, passages=prompt.passages if prompt else ()))

    # --- the inference path -------------------------------------------------------------------------------------

    async def _inference(self, kind: str, raw: bytes, record: Record, deadline: float) -> Response:
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise c.Refusal(400, (), "the request body is not valid JSON", code="invalid_json",
                            intervened=False) from None
        config = self.config
        prompt = c.parse_request(kind, body)
        record.prompt = prompt
        record.stream = prompt.stream
        # Input controls, in config.CONTROL_TABLE order (requestSize ran while the body was read).
        record.input_tokens = c.check_prompt_tokens(config, self.tokens, prompt)
        c.clamp_max_tokens(config, prompt)
        c.check_keywords(config, self.keywords, prompt)
        c.check_injection(config, self.detectors, prompt)
        c.check_rag(config, self.detectors, prompt)
        c.apply_system_prompt(config, prompt)
        record.verdict(await c.input_guardrail(config, self.guardrail, prompt))
        record.controls.update(prompt.changed)

        payload = json.dumps(prompt.body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            upstream = await self.upstream.request(
                "POST", _UPSTREAM_PATHS[kind], payload,
                (("content-type", "application/json"), ("x-request-id", record.request_id)))
        except UpstreamTimeout:
            raise _upstream_timeout() from None
        except UpstreamError as exc:
            raise c.Refusal(502, (), str(exc), code="bad_gateway", type_="upstream_error", intervened=False) from None
        try:
            if upstream.status_code != 200:
                raise await _upstream_error(upstream)
            if prompt.stream:
                return self._streaming_response(kind, upstream, prompt, record, deadline)
            try:
                data = json.loads(await upstream.read(_ANSWER_CAP))
            except UpstreamTimeout:
                raise _upstream_timeout() from None
            except (json.JSONDecodeError, UnicodeDecodeError, UpstreamError):
                raise c.Refusal(502, (), "the model server's answer could not be read", code="bad_upstream",
                                type_="upstream_error", intervened=False) from None
        except BaseException:
            await upstream.aclose()
            raise
        await upstream.aclose()
        data = await self._guard_completion(kind, data, prompt, record)
        return JSONResponse(data, headers={"x-request-id": record.request_id,
                                           **({"x-modelfort-controls": ",".join(sorted(record.controls))}
                                              if record.controls else {})})

    async def _check_text(self, text: str, prompt: c.Prompt, record: Record) -> str:
        text, verdict = await c.output_guardrail(self.config, self.guardrail, text, prompt)
        record.verdict(verdict)
        c.check_extraction(self.config, self.detectors, text)
        text, changed = c.redact_output(self.config, text, self.detectors.canaries)
        if changed:
            record.controls.update(("RC-01", "GR-09"))
        return text

    async def _guard_completion(self, kind: str, data: Any, prompt: c.Prompt, record: Record) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise c.Refusal(502, (), "the model server's answer has no choices", code="bad_upstream",
                            type_="upstream_error", intervened=False)
        outputs = []
        for choice in data["choices"]:
            if not isinstance(choice, dict):
                continue
            choice.pop("logprobs", None)  # token lists would repeat the output around the checks
            if kind == c.CHAT:
                message = choice.get("message") or {}
                text = message.get("content") if isinstance(message.get("content"), str) else ""
                if text:
                    message["content"] = await self._check_text(text, prompt, record)
                    outputs.append(message["content"])
                calls = message.get("tool_calls") or []
                arguments = "\n".join(str((call.get("function") or {}).get("arguments", ""))
                                      for call in calls if isinstance(call, dict))
                if arguments.strip():
                    # Tool arguments must stay valid JSON: anything but a clean verdict withholds the answer.
                    checked = await self._check_text(arguments, prompt, record)
                    if checked != arguments:
                        raise c.Refusal(403, ("RC-01",), "tool call arguments carried data the guard must not pass",
                                        code="output_blocked", type_="content_filter_error",
                                        categories=("TOOL_ARGUMENTS",))
                for key in ("reasoning_content", "reasoning"):
                    message.pop(key, None)
                choice["message"] = message
            else:
                text = choice.get("text") if isinstance(choice.get("text"), str) else ""
                if text:
                    choice["text"] = await self._check_text(text, prompt, record)
                    outputs.append(choice["text"])
        record.output_text = "\n".join(outputs)
        usage = data.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            record.output_tokens = usage["completion_tokens"]
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            record.input_tokens = usage["prompt_tokens"]  # the model server's count beats the estimate
        return data

    def _streaming_response(self, kind: str, upstream: UpstreamResponse, prompt: c.Prompt, record: Record,
                            deadline: float) -> Response:
        outcome = StreamOutcome()
        guard = self

        async def lines() -> AsyncIterator[str]:
            # The request deadline bounds each read together with the upstream timeout (one timer per read).
            upstream.deadline = asyncio.get_running_loop().time() + (deadline - time.perf_counter())
            iterator = upstream.lines().__aiter__()
            while True:
                try:
                    line = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                except RequestDeadline:
                    raise c.Refusal(504, ("RC-10",), "the request exceeded the guard's request timeout",
                                    code="request_timeout", type_="timeout_error", intervened=False) from None
                except UpstreamTimeout:
                    raise _upstream_timeout() from None
                except UpstreamError as exc:
                    raise c.Refusal(502, (), f"the model server stream broke: {exc}",
                                    code="bad_gateway", type_="upstream_error", intervened=False) from None
                yield line

        async def check(piece: str, final: bool) -> str:
            with anyio.fail_after(max(deadline - time.perf_counter(), 0.0)):
                if piece.strip():
                    piece, verdict = await c.output_guardrail(guard.config, guard.guardrail, piece, prompt)
                    record.verdict(verdict)
                if piece:
                    c.check_extraction(guard.config, guard.detectors, (outcome.text + piece)[-_EXTRACTION_TAIL:])
                piece, changed = c.redact_output(guard.config, piece, guard.detectors.canaries)
                if changed:
                    record.controls.update(("RC-01", "GR-09"))
                return piece

        async def checked_or_timeout(piece: str, final: bool) -> str:
            try:
                return await check(piece, final)
            except TimeoutError:
                raise c.Refusal(504, ("RC-10",), "the request exceeded the guard's request timeout",
                                code="request_timeout", type_="timeout_error", intervened=False) from None

        async def close() -> None:
            try:
                if outcome.completed:  # only the stream's terminator is left: read it to keep the connection
                    with anyio.move_on_after(0.1):
                        try:
                            await upstream.finish()
                        except UpstreamError:
                            pass
                await upstream.aclose()
            finally:
                record.output_text = outcome.text
                usage = outcome.usage or {}
                if isinstance(usage.get("completion_tokens"), int):
                    record.output_tokens = usage["completion_tokens"]
                if outcome.refusal is not None:
                    record.refused(outcome.refusal)
                elif not outcome.completed:
                    record.outcome, record.status = "failed", 499  # the caller went away mid-stream
                guard.admission.release()
                guard._emit(record)

        body = guarded_stream(kind, sse_events(lines()), self.config.stream_window_chars, checked_or_timeout,
                              outcome)
        headers = {"x-request-id": record.request_id, "cache-control": "no-store", "x-accel-buffering": "no"}
        return _ClosingStreamingResponse(body, close, media_type="text/event-stream", headers=headers)

    async def _proxy_extra(self, request: Request, body: bytes) -> Response:
        """An `allowedExtraPaths` entry, proxied as-is (authenticated and admitted, never an inference path)."""
        query = request.scope.get("query_string") or b""
        target = quote(request.url.path, safe="/:@!$&'()*+,;=-._~%") + (f"?{query.decode('latin-1')}" if query else "")
        try:
            response = await self.upstream.request(
                request.method, target, body,
                (("content-type", request.headers.get("content-type", "application/json")),))
            try:
                content = await response.read(_EXTRA_RESPONSE_CAP)
            finally:
                await response.aclose()
        except UpstreamTimeout:
            raise _upstream_timeout() from None
        except UpstreamError as exc:
            if "too large" in str(exc):
                raise c.Refusal(502, ("RC-11",), "the model server's answer is too large", code="bad_upstream",
                                type_="upstream_error", intervened=False) from None
            raise c.Refusal(502, (), str(exc), code="bad_gateway", type_="upstream_error", intervened=False) from None
        except ValueError:
            raise c.Refusal(400, (), "the request carries a header the guard cannot forward", code="invalid_header",
                            intervened=False) from None
        return Response(content, status_code=response.status_code, media_type=response.headers.get("content-type"))


class _ClosingStreamingResponse(StreamingResponse):
    """A streaming response that always runs `on_close` (telemetry, admission) however the stream ends."""

    def __init__(self, content: Any, on_close: Any, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._on_close()


def _upstream_timeout() -> c.Refusal:
    return c.Refusal(504, ("RC-10",), "the model server did not answer within the upstream timeout",
                     code="upstream_timeout", type_="timeout_error", intervened=False)


async def _upstream_error(upstream: UpstreamResponse) -> c.Refusal:
    try:
        raw = await upstream.read(_EXTRA_RESPONSE_CAP)
        detail = json.loads(raw).get("error", {}).get("message", "") if raw else ""
    except Exception:  # noqa: BLE001 - the detail is a courtesy; the status is what matters
        detail = ""
    if 400 <= upstream.status_code < 500 and upstream.status_code not in (401, 403, 407):
        return c.Refusal(upstream.status_code, (), f"the model server refused the request: {str(detail)[:300]}",
                         code="upstream_refused", intervened=False)
    return c.Refusal(502, (), f"the model server answered HTTP {upstream.status_code}", code="bad_gateway",
                     type_="upstream_error", intervened=False)


def build_health_app(app: Starlette) -> Starlette:
    """The health listener's app: the main app's /healthz and /readyz, and nothing else (no proxying, no telemetry)."""
    guard = app.state.guard
    return Starlette(routes=[Route("/healthz", guard.healthz, methods=["GET"]),
                             Route("/readyz", guard.readyz, methods=["GET"])])


def build_app(config: GuardConfig, **kwargs: Any) -> Starlette:
    """The ASGI app; keyword arguments (guardrail, authenticator, telemetry, upstream_transport) replace the
    defaults built from the config, so tests and benchmarks can swap clients."""
    guard = Guard(config, **kwargs)
    app = guard.app()
    app.state.guard = guard
    return app
