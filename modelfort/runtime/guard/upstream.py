"""The guard's HTTP/1.1 client for the model server: keep-alive connections on the pod's loopback.

The upstream is always plain http to a loopback IP with an explicit port (`config.check_loopback_url`), so the
client needs no TLS, proxies, redirects, cookies or name resolution; a general-purpose client (httpx over
httpcore) spent more CPU per proxied request than every control of the guard together. This module owns only the
connections. Every byte the model server sends is parsed by llhttp (through `httptools`, the parser uvicorn runs on
the guard's own listener), which refuses what request smugglers rely on: a `Content-Length` beside
`Transfer-Encoding`, two `Content-Length` headers, a malformed chunk, an obsolete folded header.

Bounds (RC-10, RC-11): `timeout_s` bounds the connect and each wait for bytes (expiry raises `UpstreamTimeout`);
the answer's headers are capped at 64 KiB, and `read()` refuses a body larger than its `cap`. Connections are
leased one per admitted request (admission bounds how many exist), kept alive, last returned first leased, and
dropped once idle for `keepalive_expiry_s`, before the model server's own keep-alive (5 s in uvicorn-based
servers) can close one under a request being sent on it.

A connection is reused only when its answer was read to its end, llhttp says the answer keeps it alive, and nothing
followed the answer: a byte after the end means the server and the guard no longer agree where answers begin, and
the next request's answer could be someone else's. Interim answers (1xx, such as 103 Early Hints) are skipped; a
protocol switch (101) is refused, since the guard never asks for one.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

_HEADER_LIMIT = 64 * 1024
_READ_SIZE = 64 * 1024
_EOL = re.compile(r"\r\n|\n|\r")


class UpstreamError(Exception):
    """The model server could not be reached or its answer could not be read (the caller gets a 502)."""


class UpstreamTimeout(UpstreamError):
    """A connect or a read outlived the upstream timeout (the caller gets a 504)."""


class RequestDeadline(UpstreamTimeout):
    """A read outlived the request's own deadline (`UpstreamResponse.deadline`), before the upstream timeout."""


class UpstreamConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self, now: float, expiry_s: float) -> bool:
        return (now - self.idle_since < expiry_s and not self.reader.at_eof()
                and not self.writer.transport.is_closing())

    def close(self) -> None:
        self.writer.transport.abort()


class _Answer:
    """llhttp's callbacks for the one answer being read on a connection (`httptools.HttpResponseParser`)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.complete = False
        self.trailing = False  # bytes arrived after the answer's end
        self.keep_alive = False  # llhttp's verdict (HTTP version, `Connection`), read when the answer ends
        self.body: list[bytes] = []

    def on_message_begin(self) -> None:
        if self.complete:
            self.trailing = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        if not self.complete:
            self.status = self.parser.get_status_code()
            self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if 100 <= self.status < 200 and self.status != 101:
            # An interim answer: the real one follows on the same connection.
            self.headers, self.headers_done, self.status = {}, False, 0
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only meaningful inside this callback

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise UpstreamError("the model server switched protocols, which the guard never asks for") from None
        except httptools.HttpParserError as exc:
            if self.complete:
                self.trailing = True  # garbage after a complete answer: the answer stands, the connection does not
                return
            raise UpstreamError(f"the model server's answer is not valid HTTP/1.1 ({exc})") from None
        if self.status == 101:
            raise UpstreamError("the model server switched protocols, which the guard never asks for")


class UpstreamResponse:
    """One answer: `status_code`, `headers` (lower-case names), and a body read once with `read` or `lines`."""

    def __init__(self, pool: UpstreamPool, conn: UpstreamConnection, answer: _Answer, head_request: bool) -> None:
        self._pool = pool
        self._conn: UpstreamConnection | None = conn
        self._answer = answer
        self.status_code = answer.status
        self.headers = answer.headers
        # Without a length or chunks, the body ends with the connection (llhttp waits for the end of the stream).
        framed = "content-length" in self.headers or "transfer-encoding" in self.headers
        self._until_close = not framed and not answer.complete
        self._head_request = head_request  # llhttp cannot be told a HEAD answer has no body: never reused
        if head_request:
            answer.body.clear()
            answer.complete = True
        self.deadline: float | None = None
        """The request's deadline in event-loop time: a read that would outlive it raises `RequestDeadline` (one
        timer per read instead of two)."""

    @property
    def _done(self) -> bool:
        return self._answer.complete and not self._answer.body

    async def _wait(self, read: object) -> bytes:
        limit = asyncio.get_running_loop().time() + self._pool.timeout_s
        by_deadline = self.deadline is not None and self.deadline < limit
        try:
            async with asyncio.timeout_at(self.deadline if by_deadline else limit):
                return await read  # type: ignore[misc]
        except TimeoutError:
            if by_deadline:
                raise RequestDeadline("the request exceeded the guard's request timeout") from None
            raise UpstreamTimeout("the model server did not answer within the upstream timeout") from None
        except (ConnectionError, OSError) as exc:
            raise UpstreamError(f"the model server's answer broke ({type(exc).__name__})") from None

    async def _piece(self) -> bytes:
        """The next bytes of the body, b"" at its end."""
        answer = self._answer
        while not answer.body:
            if answer.complete or self._conn is None:
                return b""
            data = await self._wait(self._conn.reader.read(_READ_SIZE))
            if not data:
                if self._until_close:
                    answer.complete = True
                    return b""
                raise UpstreamError("the model server closed the connection mid-answer")
            answer.feed(data)
        piece = answer.body[0] if len(answer.body) == 1 else b"".join(answer.body)
        answer.body.clear()
        return piece

    async def read(self, cap: int) -> bytes:
        """The whole body; more than `cap` bytes is an `UpstreamError` (RC-11)."""
        length = self.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise UpstreamError("the model server's answer is too large")
        parts: list[bytes] = []
        size = 0
        while data := await self._piece():
            size += len(data)
            if size > cap:
                raise UpstreamError("the model server's answer is too large")
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def lines(self) -> AsyncIterator[str]:
        """The body as text lines without their endings, decoded as UTF-8. Lines end with \r\n, \n or \r (as
        server-sent events define them), never with other Unicode line separators a JSON payload may carry."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buffer = ""
        while data := await self._piece():
            buffer += decoder.decode(data)
            hold = buffer.endswith("\r")  # may be the first half of \r\n
            parts = _EOL.split(buffer[:-1] if hold else buffer)
            buffer = parts.pop() + ("\r" if hold else "")
            for line in parts:
                yield line
        parts = _EOL.split(buffer + decoder.decode(b"", final=True))
        tail = parts.pop()
        for line in parts:
            yield line
        if tail:
            yield tail

    async def finish(self, max_bytes: int = _READ_SIZE) -> None:
        """Reads what is left of a body whose content has all been used (a stream's terminator after [DONE]), so
        the connection can be reused; gives up after `max_bytes` (`aclose` then closes the connection)."""
        size = 0
        while not self._done and size <= max_bytes:
            size += len(await self._piece())

    async def aclose(self) -> None:
        """Returns the connection to the pool when it may carry another answer (module docstring), else closes it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        answer = self._answer
        reusable = (self._done and not answer.trailing and not self._until_close and not self._head_request
                    and answer.keep_alive)
        if reusable:
            self._pool.give_back(conn)
        else:
            conn.close()


class UpstreamPool:
    """Keep-alive connections to the model server; see the module docstring."""

    def __init__(self, url: str, timeout_s: float, keepalive_expiry_s: float = 2.0) -> None:
        parts = urlsplit(url)
        self.host = (parts.hostname or "127.0.0.1").strip("[]")
        self.port = parts.port or 80
        self.authority = parts.netloc.encode("ascii")
        self.timeout_s = timeout_s
        self.keepalive_expiry_s = keepalive_expiry_s
        self._idle: list[UpstreamConnection] = []

    async def _lease(self) -> UpstreamConnection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(now, self.keepalive_expiry_s):
                return conn
            conn.close()
        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=_READ_SIZE)
        except TimeoutError:
            raise UpstreamTimeout("the model server did not accept a connection within the upstream timeout") \
                from None
        except OSError as exc:
            raise UpstreamError(f"the model server is unreachable ({type(exc).__name__})") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return UpstreamConnection(reader, writer)

    def give_back(self, conn: UpstreamConnection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    async def request(self, method: str, target: str, body: bytes = b"",
                      headers: tuple[tuple[str, str], ...] = ()) -> UpstreamResponse:
        """Sends one request and reads the answer's headers; the caller reads the body and calls `aclose`."""
        head = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), b"host: ", self.authority, b"\r\n"]
        for name, value in headers:
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} carries a line break")
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(b"content-length: %d\r\n" % len(body))
        head.append(b"\r\n")
        conn = await self._lease()
        answer = _Answer()
        try:
            conn.writer.write(b"".join(head) + body)
            async with asyncio.timeout(self.timeout_s):
                await conn.writer.drain()
                received = 0
                while not answer.headers_done:
                    data = await conn.reader.read(_READ_SIZE)
                    if not data:
                        raise UpstreamError("the model server closed the connection before answering")
                    received += len(data)
                    answer.feed(data)
                    if not answer.headers_done and received > _HEADER_LIMIT:
                        raise UpstreamError("the model server's answer headers are too large")
        except TimeoutError:
            conn.close()
            raise UpstreamTimeout("the model server did not answer within the upstream timeout") from None
        except (ConnectionError, OSError) as exc:
            conn.close()
            raise UpstreamError(f"the model server is unreachable ({type(exc).__name__})") from None
        except BaseException:
            conn.close()
            raise
        return UpstreamResponse(self, conn, answer, method == "HEAD")

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
