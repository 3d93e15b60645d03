"""Resource controls (RC-10 timeouts, RC-11 bounded concurrency and queue) and telemetry accounting.

No test asserts a duration: the upstream parks requests on an event, and the tests wait on events with generous
bounds."""

from __future__ import annotations

import threading

import httpx
import pytest
from guard_support import START_TIMEOUT_S, make_config, running_guard, sse_payloads

from modelfort.runtime.guard.telemetry_out import TelemetryWriter

CHAT = "/v1/chat/completions"


def chat(text: str, **extra):
    return {"messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.control("RC-10")
def test_upstream_timeout_is_504(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, limits={"upstreamTimeoutS": 0.3})
    with running_guard(config) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("#hang"), timeout=START_TIMEOUT_S)
    assert response.status_code == 504
    error = response.json()["error"]
    assert "RC-10" in error["message"] and error["code"] == "upstream_timeout"
    [event] = sink.events()
    assert event["x_outcome"] == "failed" and event["x_status"] == 504


@pytest.mark.control("RC-10")
def test_request_timeout_bounds_the_whole_request(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, limits={"upstreamTimeoutS": 0.2, "requestTimeoutS": 0.3})
    with running_guard(config) as (url, _guard, _sink):
        response = httpx.post(url + CHAT, json=chat("#hang", stream=True), timeout=START_TIMEOUT_S)
    assert response.status_code == 504 and "RC-10" in response.json()["error"]["message"]


@pytest.mark.control("RC-11")
def test_queue_full_is_429_and_capacity_returns(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, limits={"maxConcurrent": 1, "queueSize": 0,
                                                         "upstreamTimeoutS": 20.0, "requestTimeoutS": 25.0})
    results: dict[str, httpx.Response] = {}
    with running_guard(config) as (url, guard, sink):
        parked = threading.Thread(target=lambda: results.update(
            first=httpx.post(url + CHAT, json=chat("#hang"), timeout=START_TIMEOUT_S)))
        parked.start()
        assert upstream.entered.wait(START_TIMEOUT_S)
        rejected = httpx.post(url + CHAT, json=chat("second"))
        metrics = httpx.get(url + "/metrics").text
        upstream.release()
        parked.join(START_TIMEOUT_S)
        after = httpx.post(url + CHAT, json=chat("third"))
    assert rejected.status_code == 429 and rejected.headers["retry-after"] == "1"
    assert "RC-11" in rejected.json()["error"]["message"]
    assert "modelfort_guard_active_requests 1" in metrics and "modelfort_guard_queue_rejections_total 1" in metrics
    assert results["first"].status_code == 200 and after.status_code == 200
    assert sorted(e["x_status"] for e in sink.events()) == [200, 200, 429]
    assert guard.admission.active == 0 and guard.admission.waiting == 0


@pytest.mark.control("RC-11")
def test_waiting_requests_are_admitted_in_turn():
    import anyio

    from modelfort.runtime.guard.app import Admission
    from modelfort.runtime.guard.controls import Refusal

    async def scenario() -> list[str]:
        admission = Admission(max_concurrent=1, queue_size=1)
        order: list[str] = []
        await admission.acquire(5)
        async with anyio.create_task_group() as tg:
            async def queued() -> None:
                await admission.acquire(5)
                order.append("queued admitted")
                admission.release()
            tg.start_soon(queued)
            await anyio.wait_all_tasks_blocked()
            assert admission.waiting == 1
            try:
                await admission.acquire(5)
            except Refusal as refusal:
                order.append(f"third {refusal.status}")
            admission.release()
        return order

    assert anyio.run(scenario) == ["third 429", "queued admitted"]


def test_unreachable_upstream_for_a_stream_is_502(upstream, tmp_path):
    config = make_config("http://127.0.0.1:9", tmp_path)
    with running_guard(config) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("hi", stream=True))
    assert response.status_code == 502
    assert sink.events()[0]["x_outcome"] == "failed"


class BrokenStream:
    def write(self, text: str) -> int:
        raise OSError("disk full")

    def flush(self) -> None:
        return None


def test_failed_telemetry_writes_are_counted_and_exposed(upstream, tmp_path, capsys):
    config = make_config(upstream.url, tmp_path)
    writer = TelemetryWriter(BrokenStream())
    with running_guard(config, telemetry=writer) as (url, _guard, _sink):
        assert httpx.post(url + CHAT, json=chat("hi")).status_code == 200
        assert httpx.post(url + "/nope").status_code == 404
        metrics = httpx.get(url + "/metrics").text
    assert writer.failed == 2 and writer.written == 0
    assert "modelfort_guard_telemetry_write_failures_total 2" in metrics
    assert "telemetry_write_failures_total=2" in capsys.readouterr().err


def test_stream_telemetry_when_the_caller_disconnects(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, streaming={"windowChars": 16})
    with running_guard(config) as (url, guard, sink):
        with httpx.stream("POST", url + CHAT, json=chat("#long", stream=True)) as response:
            next(response.iter_bytes())  # then hang up mid-stream
        with httpx.stream("POST", url + CHAT, json=chat("#long", stream=True)) as response:
            payloads = sse_payloads(response.read().decode())
    assert payloads[-1] == "[DONE]"
    events = sink.events()  # read after the server's graceful shutdown: every stream has ended by then
    assert len(events) == 2 and len({e["request_id"] for e in events}) == 2
