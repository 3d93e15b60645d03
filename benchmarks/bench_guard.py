"""Benchmark `modelfort guard`: overhead against calling the model server directly, throughput, and a long load run.

Prints, never asserts (correctness under load is asserted by tests/runtime/guard/test_guard_load.py). Run:

    python benchmarks/bench_guard.py                    # full run: latency, throughput, 20,000-request load
    python benchmarks/bench_guard.py --load 2000        # quick run

Three kinds of process, all on 127.0.0.1 with ephemeral ports, so none shares an interpreter lock with another:
- the stub model server: a raw asyncio HTTP/1.1 server answering canned OpenAI-shaped bodies (JSON, or SSE in
  chunked encoding), cheap enough that it is never what is measured;
- the guard: this file re-run with `--serve-guard`, which builds the real app (`build_app`) with an in-process stub
  guardrail (clean verdicts, no network round trip: the figures are the guard's own cost beyond the guardrail call)
  and an allow-all authenticator, and serves it with the guard's own uvicorn settings (`cli.build_server`);
  telemetry lines go to a file, as stdout would go to a log shipper;
- the load generator: `--clients` processes, each driving raw keep-alive HTTP/1.1 connections from asyncio (no
  HTTP library), so the client is not the bottleneck. Direct and guarded series use the same client.

The guard's CPU seconds per request come from /proc/<pid>/stat (utime + stime) around each series: on a machine
whose cores are shared by client, stub and guard, that figure (not the req/s) says what one guard core can do.

Sections:
1. Latency, one request at a time on one connection: p50/p99 direct and through the guard, non-streaming and
   streaming, and the overhead (guarded minus direct at each percentile).
2. Throughput at --concurrency: requests/s direct and through the guard (non-streaming, then half streaming), with
   each server process's CPU per request.
3. Load: --load requests (half streaming) at --concurrency through the guard, counting telemetry lines and lost
   ones, with the guard process's resident memory after each quarter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "runtime" / "guard"))

CHAT = "/v1/chat/completions"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
START_TIMEOUT_S = 30.0


def _loop_policy() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


# --- the stub model server ------------------------------------------------------------------------------------------

PROSE = ("The guard releases text in windows once every check has passed. " * 6).strip()


def _stub_answers() -> tuple[bytes, bytes]:
    completion = json.dumps({
        "id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "stub-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": PROSE}, "finish_reason": "stop",
                     "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}).encode()
    plain = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(completion)
             + completion)
    base = {"id": "chunk-1", "object": "chat.completion.chunk", "created": 1, "model": "stub-model"}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": PROSE[i:i + 12]}, "finish_reason": None}]}
               for i in range(0, len(PROSE), 12)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
    stream = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    stream += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return plain, stream


class StubProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length request bodies, one canned answer per request."""

    plain, stream = _stub_answers()
    health = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            if head.startswith(b"get"):
                self.transport.write(self.health)
            else:
                streamed = b'"stream": true' in body or b'"stream":true' in body
                self.transport.write(self.stream if streamed else self.plain)


def serve_stub(port_file: str) -> None:
    _loop_policy()

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(StubProtocol, HOST, 0, backlog=1024)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the guard, with the stub guardrail -----------------------------------------------------------------------------

def serve_guard(config_file: str, port_file: str, telemetry_file: str) -> None:
    from guard_support import AllowAll, StubGuardrail

    from modelfort.runtime.guard.app import build_app
    from modelfort.runtime.guard.cli import build_server
    from modelfort.runtime.guard.config import parse_config
    from modelfort.runtime.guard.telemetry_out import TelemetryWriter

    config = parse_config(json.loads(Path(config_file).read_text()), Path(config_file).parent)
    telemetry = open(telemetry_file, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    app = build_app(config, guardrail=StubGuardrail(), authenticator=AllowAll(), telemetry=TelemetryWriter(telemetry))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    build_server(config, app, host=HOST, port=0).run(sockets=[sock])


class Child:
    """A server process this benchmark started, its port, and its CPU and memory from /proc."""

    guard_port = 0
    guard_requests = 0  # sent to the guard so far: the telemetry lines it owes

    def __init__(self, name: str, args: list[str], tmp: Path) -> None:
        port_file = tmp / f"{name}.port"
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, *args], cwd=REPO)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            text = port_file.read_text() if port_file.exists() else ""
            if text.strip():
                self.port = int(text)
                if self._answers():
                    return
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                return conn.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mib(self) -> float:
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE / 2**20

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the load generator ---------------------------------------------------------------------------------------------

def request_bytes(i: int, stream: bool) -> bytes:
    body = json.dumps({"messages": [{"role": "user", "content": f"question {i} #long"}], "stream": stream}).encode()
    return (b"POST " + CHAT.encode() + b" HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, headers, await reader.readexactly(int(headers[b"content-length"]))
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, headers, b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])


def drive(port: int, indices: list[int], connections: int, every: int, want_ids: bool) -> dict[str, Any]:
    """One client process: `connections` keep-alive connections sharing `indices`; every `every`-th streams."""
    _loop_policy()
    latencies: list[float] = []
    ids: list[str] = []
    errors = 0
    work = iter(indices)

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in work:
            stream = bool(every) and i % every == 1
            start = time.perf_counter()
            writer.write(request_bytes(i, stream))
            try:
                status, headers, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            ok = status == 200 and (not stream or (b"[DONE]" in body and b'"error"' not in body))
            errors += not ok
            if want_ids and b"x-request-id" in headers:
                ids.append(headers[b"x-request-id"].decode())
            if headers.get(b"connection") == b"close":
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
        writer.close()

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        return time.perf_counter() - start

    cpu = time.process_time()
    seconds = asyncio.run(run())
    return {"seconds": seconds, "latencies": latencies, "ids": ids, "errors": errors,
            "cpu": time.process_time() - cpu}


def load(pool: ProcessPoolExecutor, port: int, total: int, concurrency: int, clients: int, every: int,
         want_ids: bool = False, offset: int = 0) -> dict[str, Any]:
    clients = max(1, min(clients, concurrency))
    shares = [list(range(offset + k, offset + total, clients)) for k in range(clients)]
    per = [concurrency // clients + (k < concurrency % clients) for k in range(clients)]
    start = time.perf_counter()
    results = list(pool.map(drive, [port] * clients, shares, per, [every] * clients, [want_ids] * clients))
    wall = time.perf_counter() - start
    Child.guard_requests += total if port == Child.guard_port else 0
    return {"wall": wall, "rate": total / wall, "errors": sum(r["errors"] for r in results),
            "client_cpu": sum(r["cpu"] for r in results),
            "latencies": [x for r in results for x in r["latencies"]], "ids": [x for r in results for x in r["ids"]]}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the run --------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=1000, help="sequential requests per latency series")
    parser.add_argument("--throughput", type=int, default=10000, help="requests per throughput series")
    parser.add_argument("--load", type=int, default=20000, help="requests in the load run (half streaming)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    args = parser.parse_args()

    from guard_support import config_dict

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        stub = Child("stub", ["--serve-stub", str(tmp / "stub.port")], tmp)
        config_file = tmp / "guard.json"
        config_file.write_text(json.dumps(config_dict(
            f"http://{HOST}:{stub.port}", tmp, limits={"maxConcurrent": 64, "queueSize": 256},
            streaming={"windowChars": 256})))
        telemetry = tmp / "telemetry.jsonl"
        guard = Child("guard", ["--serve-guard", str(config_file), str(tmp / "guard.port"), str(telemetry)], tmp)
        Child.guard_port = guard.port
        pool = ProcessPoolExecutor(max_workers=max(args.clients, 1), mp_context=get_context("fork"))
        try:
            run(args, pool, stub, guard, telemetry)
        finally:
            pool.shutdown()
            guard.stop()
            stub.stop()


def run(args: argparse.Namespace, pool: ProcessPoolExecutor, stub: Child, guard: Child, telemetry: Path) -> None:
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    from modelfort.runtime.guard.cli import uvicorn_config
    from modelfort.runtime.guard.config import parse_config
    http = uvicorn_config(parse_config(json.loads((telemetry.parent / "guard.json").read_text()), telemetry.parent),
                          app=object()).http
    print(f"# modelfort guard benchmark: {os.cpu_count()} cores, guard uvicorn http={getattr(http, '__name__', http)}, "
          f"client loop {loop}, {args.clients} client processes, stub guardrail, window 256 chars")
    load(pool, stub.port, 200, 8, args.clients, 2)  # warm-up: connections, imports, caches
    load(pool, guard.port, 200, 8, args.clients, 2)

    print("\n## 1. latency, sequential on one connection (ms)")
    print(f"{'series':<24}{'p50':>9}{'p99':>9}")
    for every, label in ((0, "non-streaming"), (1, "streaming")):
        direct = load(pool, stub.port, args.latency, 1, 1, every)["latencies"]
        guarded = load(pool, guard.port, args.latency, 1, 1, every)["latencies"]
        print(f"{'direct ' + label:<24}{pct(direct, .5):9.3f}{pct(direct, .99):9.3f}")
        print(f"{'guard ' + label:<24}{pct(guarded, .5):9.3f}{pct(guarded, .99):9.3f}")
        print(f"{'overhead ' + label:<24}{pct(guarded, .5) - pct(direct, .5):9.3f}"
              f"{pct(guarded, .99) - pct(direct, .99):9.3f}")

    print(f"\n## 2. throughput at concurrency {args.concurrency} ({args.throughput} requests per series)")
    print(f"{'series':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'guard CPU ms/req':>18}{'stub CPU ms/req':>17}{'client CPU ms/req':>19}")
    for every, label in ((0, "non-streaming"), (2, "half streaming")):
        for name, port in (("direct", stub.port), ("guard", guard.port)):
            cpu_guard, cpu_stub = guard.cpu_s(), stub.cpu_s()
            result = load(pool, port, args.throughput, args.concurrency, args.clients, every)
            g = (guard.cpu_s() - cpu_guard) * 1000 / args.throughput
            s = (stub.cpu_s() - cpu_stub) * 1000 / args.throughput
            k = result["client_cpu"] * 1000 / args.throughput
            print(f"{name + ' ' + label:<28}{result['rate']:9.1f}{pct(result['latencies'], .5):9.2f}"
                  f"{pct(result['latencies'], .99):9.2f}{result['errors']:8d}{g:18.3f}{s:17.3f}{k:19.3f}")
            if name == "guard":
                print(f"{'':<28}guard alone: {g:.3f} ms CPU/request -> {1000 / g if g else float('inf'):.0f} "
                      f"req/s per guard core")

    print(f"\n## 3. load: {args.load} requests through the guard, half streaming, concurrency {args.concurrency}")
    # Streams' lines land just after their last byte: wait (bounded) for every earlier request's line.
    settle = time.monotonic() + 10
    while _count_lines(telemetry) < Child.guard_requests and time.monotonic() < settle:
        time.sleep(0.1)
    lines_before = _count_lines(telemetry)
    print(f"telemetry lines before this section {lines_before} for {Child.guard_requests} earlier requests")
    rss_before = guard.rss_mib()
    print(f"guard RSS before {rss_before:.1f} MiB")
    ids: list[str] = []
    errors = 0
    seconds = 0.0
    quarter = max(1, args.load // 4)
    cpu_before = guard.cpu_s()
    for part in range(4):
        result = load(pool, guard.port, quarter, args.concurrency, args.clients, 2, want_ids=True,
                      offset=part * quarter)
        ids += result["ids"]
        errors += result["errors"]
        seconds += result["wall"]
        print(f"  after {(part + 1) * quarter:>6} requests: guard RSS {guard.rss_mib():.1f} MiB")
    cpu = guard.cpu_s() - cpu_before
    total = quarter * 4
    # A stream's line is written just after its last byte is sent: let the last ones land (bounded).
    wanted = set(ids)
    settle = time.monotonic() + 10
    while True:
        seen, lines, bad = _telemetry_ids(telemetry, lines_before)
        if wanted <= seen or time.monotonic() > settle:
            break
        time.sleep(0.1)
    print(f"duration {seconds:.1f} s   {total / seconds:.1f} req/s   errors {errors}   "
          f"guard CPU {cpu * 1000 / total:.3f} ms/request")
    print(f"telemetry lines for these requests {len(wanted & seen)} of {total}   lost {len(wanted - seen)}   "
          f"lines written {lines} (one per request: {lines == total and len(wanted) == total})   "
          f"unparseable {bad}")
    rss_after = guard.rss_mib()
    print(f"guard RSS before {rss_before:.1f} MiB   after {rss_after:.1f} MiB   "
          f"growth {rss_after - rss_before:.1f} MiB   peak {guard.peak_rss_mib():.1f} MiB")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _telemetry_ids(path: Path, skip: int) -> tuple[set[str], int, int]:
    seen: set[str] = set()
    lines = bad = 0
    with path.open("rb") as handle:
        for n, line in enumerate(handle):
            if n < skip:
                continue
            if not line.endswith(b"\n"):
                break  # still being written
            lines += 1
            try:
                seen.add(json.loads(line)["request_id"])
            except (ValueError, KeyError):
                bad += 1
    return seen, lines, bad


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-stub":
        serve_stub(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-guard":
        serve_guard(*sys.argv[2:5])
    else:
        main()
