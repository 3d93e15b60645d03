"""A bounded load run: 2,000 requests (half streaming) at 64 concurrent through the real guard, asserting exactly
one valid telemetry line per request and none lost. Bounded in count; the bound on time is only a safety net
(`LOAD_TIMEOUT_S`), never an assertion about speed. The 20,000-request run is `benchmarks/bench_guard.py`."""

from __future__ import annotations

import asyncio

import httpx
from guard_support import StubGuardrail, make_config, running_guard, sse_payloads

REQUESTS = 2000
CONCURRENCY = 64
LOAD_TIMEOUT_S = 240.0


async def _drive(url: str) -> list[tuple[int, str, bool]]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    results: list[tuple[int, str, bool]] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                stream = i % 2 == 1
                body = {"messages": [{"role": "user", "content": f"question {i} #long"}], "stream": stream}
                if stream:
                    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                        raw = (await response.aread()).decode()
                    complete = sse_payloads(raw)[-1] == "[DONE]" and '"error"' not in raw
                else:
                    response = await client.post("/v1/chat/completions", json=body)
                    complete = response.status_code == 200
                results.append((response.status_code, response.headers["x-request-id"], complete))

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), LOAD_TIMEOUT_S)
    return results


def test_load_one_telemetry_line_per_request(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, limits={"maxConcurrent": 64, "queueSize": 128},
                         streaming={"windowChars": 128})
    guardrail = StubGuardrail()
    with running_guard(config, guardrail=guardrail) as (url, guard, sink):
        results = asyncio.run(_drive(url))
    assert len(results) == REQUESTS
    assert all(status == 200 and complete for status, _rid, complete in results)
    events = sink.events()  # each validated against the schema
    assert len(events) == REQUESTS and guard.telemetry.failed == 0
    assert sorted(e["request_id"] for e in events) == sorted(rid for _s, rid, _c in results)
    assert sum(e["x_stream"] for e in events) == REQUESTS // 2
    assert guardrail.inputs == REQUESTS
    assert guard.admission.active == 0 and guard.admission.waiting == 0
