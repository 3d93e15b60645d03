"""Benchmark `modelfort guard`: overhead against calling the model server directly, throughput, and a long load run.

Prints, never asserts (correctness under load is asserted by tests/runtime/guard/test_guard_load.py). Run:

    python benchmarks/bench_guard.py                    # full run: latency, throughput, 20,000-request load
    python benchmarks/bench_guard.py --load 2000        # quick run

Everything runs in this process on 127.0.0.1: the stub OpenAI-compatible model server and the guard each under
uvicorn in their own thread, the client in the main thread, the guardrail an in-process stub (so the figures are
the guard's own cost, without a guardrail service's round trip). Client, guard and stub share the interpreter's
lock, so absolute figures are pessimistic; compare the direct and guarded columns of one run.

Sections:
1. Latency, one request at a time: p50/p99 direct and through the guard, non-streaming and streaming, and the
   overhead (guarded minus direct at each percentile).
2. Throughput at --concurrency: requests/s direct and through the guard.
3. Load: --load requests (half streaming) at --concurrency through the guard, counting telemetry lines and lost
   ones, with the process's resident memory before and after (current RSS from /proc, peak from getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "runtime" / "guard"))

import httpx  # noqa: E402
from guard_support import ServerThread, StubGuardrail, Upstream, make_config  # noqa: E402

from modelfort.runtime.guard.app import build_app  # noqa: E402
from modelfort.runtime.guard.telemetry_out import TelemetryWriter  # noqa: E402

CHAT = "/v1/chat/completions"


class CountingSink:
    """Counts telemetry lines and remembers request ids (not the lines: a long run must not hold them all)."""

    def __init__(self) -> None:
        self.lines = 0
        self.ids: set[str] = set()
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *done, self._buffer = self._buffer.split("\n")
        for line in done:
            self.lines += 1
            self.ids.add(json.loads(line)["request_id"])
        return len(text)

    def flush(self) -> None:
        return None


def rss_mib() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def body(i: int, stream: bool) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i} #long"}], "stream": stream}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(url: str, n: int, stream: bool) -> list[float]:
    out = []
    # TCP_NODELAY: without it the sync client's header and body writes meet delayed ACKs (~40 ms per request).
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(base_url=url, timeout=60, transport=transport) as client:
        for i in range(n):
            start = time.perf_counter()
            if stream:
                with client.stream("POST", CHAT, json=body(i, True)) as response:
                    response.read()
            else:
                client.post(CHAT, json=body(i, False))
            out.append((time.perf_counter() - start) * 1000)
    return out


async def drive(url: str, total: int, concurrency: int, streaming_share: float) -> tuple[float, int, set[str]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    errors = 0
    ids: set[str] = set()
    next_index = iter(range(total))
    every = int(1 / streaming_share) if streaming_share else 0

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def worker() -> None:
            nonlocal errors
            for i in next_index:
                stream = bool(every) and i % every == 1
                try:
                    if stream:
                        async with client.stream("POST", CHAT, json=body(i, True)) as response:
                            raw = await response.aread()
                        ok = response.status_code == 200 and b"[DONE]" in raw and b'"error"' not in raw
                    else:
                        response = await client.post(CHAT, json=body(i, False))
                        ok = response.status_code == 200
                    if "x-request-id" in response.headers:
                        ids.add(response.headers["x-request-id"])
                    errors += not ok
                except httpx.HTTPError:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, errors, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=400, help="sequential requests per latency series")
    parser.add_argument("--throughput", type=int, default=2000, help="requests per throughput series")
    parser.add_argument("--load", type=int, default=20000, help="requests in the load run (half streaming)")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    upstream = Upstream()
    with tempfile.TemporaryDirectory() as tmp, ServerThread(upstream.app) as up:
        config = make_config(up.url, Path(tmp), limits={"maxConcurrent": 64, "queueSize": 256},
                             streaming={"windowChars": 256})
        sink = CountingSink()
        writer = TelemetryWriter(sink)
        app = build_app(config, guardrail=StubGuardrail(), telemetry=writer,
                        authenticator=__import__("guard_support").AllowAll())
        with ServerThread(app) as guard:
            print(f"# modelfort guard benchmark (window {config.stream_window_chars} chars, stub guardrail)")
            print("\n## 1. latency, sequential (ms)")
            print(f"{'series':<22}{'p50':>9}{'p99':>9}")
            for stream in (False, True):
                direct = latency(up.url, args.latency, stream)
                guarded = latency(guard.url, args.latency, stream)
                label = "streaming" if stream else "non-streaming"
                print(f"{'direct ' + label:<22}{pct(direct, .5):9.2f}{pct(direct, .99):9.2f}")
                print(f"{'guard ' + label:<22}{pct(guarded, .5):9.2f}{pct(guarded, .99):9.2f}")
                print(f"{'overhead ' + label:<22}{pct(guarded, .5) - pct(direct, .5):9.2f}"
                      f"{pct(guarded, .99) - pct(direct, .99):9.2f}")

            print(f"\n## 2. throughput at concurrency {args.concurrency} ({args.throughput} requests, half streaming)")
            for name, url in (("direct", up.url), ("guard", guard.url)):
                seconds, errors, _ids = asyncio.run(drive(url, args.throughput, args.concurrency, 0.5))
                print(f"{name:<8}{args.throughput / seconds:9.1f} req/s   errors {errors}")

            print(f"\n## 3. load: {args.load} requests through the guard, half streaming, "
                  f"concurrency {args.concurrency}")
            upstream.received.clear()
            upstream.keep_bodies = False
            ids: set[str] = set()
            errors = 0
            seconds = 0.0
            rss_before = rss_mib()
            print(f"RSS before {rss_before:.1f} MiB")
            quarter = max(1, args.load // 4)
            for part in range(4):
                took, part_errors, part_ids = asyncio.run(drive(guard.url, quarter, args.concurrency, 0.5))
                seconds, errors, ids = seconds + took, errors + part_errors, ids | part_ids
                print(f"  after {(part + 1) * quarter:>6} requests: RSS {rss_mib():.1f} MiB")
            # A stream's line is written just after its last byte is sent: let the last ones land (bounded).
            settle = time.monotonic() + 10
            while ids - sink.ids and time.monotonic() < settle:
                time.sleep(0.05)
            rss_after = rss_mib()
            total = quarter * 4
            print(f"duration {seconds:.1f} s   {total / seconds:.1f} req/s   errors {errors}")
            print(f"telemetry lines for these requests {len(ids & sink.ids)} of {total}   "
                  f"lost {len(ids - sink.ids)}   write failures {writer.failed}   all lines {sink.lines}")
            print(f"RSS before {rss_before:.1f} MiB   after {rss_after:.1f} MiB   "
                  f"growth {rss_after - rss_before:.1f} MiB   peak {peak_rss_mib():.1f} MiB")
            print(f"(the benchmark's own set of {len(ids)} request ids is part of the growth)")


if __name__ == "__main__":
    main()
