"""The guard's cheap paths must decide exactly as the plain ones: the redaction screen never skips a rule that
would have matched, and the raw upstream client reads bodies and SSE lines exactly as sent, however the bytes
are split on the wire."""

from __future__ import annotations

import asyncio
import re
import string
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelfort.runtime.guard import controls as c
from modelfort.runtime.guard.upstream import UpstreamPool

from guard_support import make_config


def test_redaction_fold_matches_every_character_ignorecase_matches():
    # Every character that re.IGNORECASE treats as one of the screens' letters folds to exactly that letter.
    letters = set(string.ascii_lowercase + "-_")
    any_letter = re.compile("[a-z_-]", re.I)
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if any_letter.fullmatch(ch):
            matched = {x for x in letters if re.fullmatch(re.escape(x), ch, re.I)}
            assert ch.translate(c._RE_I_FOLD).lower() in matched, hex(cp)


def test_every_credential_rule_has_a_screen_or_always_runs():
    screened = [needles for _p, _r, needles in c._SCREENED_RULES]
    assert len(screened) == len(c._CREDENTIAL_RULES)
    assert all(needles for needles in screened if needles is not None)


_PIECES = st.sampled_from(["sk-", "SK_", "pk-", "rk_", "eyJ", "EYj", "AKIA", "asia", "ghp_", "xoxb", "glpat",
                           "AIza", "-----BEGIN RSA PRIVATE KEY-----", "\u0130", "\u0131", "\u017f", "\u212a",
                           "a", "Z", "0", "9", "_", "-", ".", " ", "\n", "proj_", "live_", "abcdefghijklmnop"])


def _unscreened(text: str) -> str:
    for pattern, replacement in c._CREDENTIAL_RULES:
        text = pattern.sub(replacement, text)
    return text


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_screened_redaction_equals_running_every_rule(tmp_path_factory, text):
    config = make_config("http://127.0.0.1:9", tmp_path_factory.mktemp("cfg"))
    redacted, changed = c.redact_output(config, text)
    assert redacted == _unscreened(text)
    assert changed == (redacted != text)


def test_canaries_are_masked_case_insensitively(tmp_path):
    config = make_config("http://127.0.0.1:9", tmp_path)
    text, changed = c.redact_output(config, "a canary-7F3A and CANARY-7f3a-long", ("CANARY-7f3a", "canary-7f3a-long"))
    assert changed and "7f3a" not in text.lower()


async def _serve(payload: bytes, cuts: list[int]) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = int(re.search(rb"content-length: (\d+)", head).group(1))
            await reader.readexactly(length)
            at = 0
            for cut in [*cuts, len(payload)]:
                writer.write(payload[at:cut])
                await writer.drain()
                await asyncio.sleep(0)
                at = cut

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _chunked(body: bytes, size: int) -> bytes:
    out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    for at in range(0, len(body), size):
        piece = body[at:at + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def test_sse_lines_survive_any_split_and_the_connection_is_reused():
    events = 'data: {"a": "x\u2028y"}\r\n\r\ndata: {"b": 2}\n\ndata: [DONE]\r\r'.encode()
    expected = ['data: {"a": "x\u2028y"}', "", 'data: {"b": 2}', "", "data: [DONE]", ""]

    async def run() -> None:
        for size in (1, 2, 3, 7, 64):
            payload = _chunked(events, size)
            server, port = await _serve(payload, list(range(1, len(payload), 5)))
            pool = UpstreamPool(f"http://127.0.0.1:{port}", 5.0)
            try:
                for _ in range(2):
                    response = await pool.request("POST", "/v1/chat/completions", b"{}")
                    assert response.status_code == 200
                    assert [line async for line in response.lines()] == expected
                    await response.aclose()
                assert len(pool._idle) == 1  # read to the end: kept alive and reused
            finally:
                await pool.aclose()
                server.close()
                await server.wait_closed()

    asyncio.run(run())


def test_content_length_body_and_cap():
    body = b'{"choices": []}'
    payload = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    async def run() -> None:
        server, port = await _serve(payload, [10, 40])
        pool = UpstreamPool(f"http://127.0.0.1:{port}", 5.0)
        try:
            response = await pool.request("POST", "/v1/completions", b"{}")
            assert await response.read(1024) == body
            await response.aclose()
            response = await pool.request("POST", "/v1/completions", b"{}")
            try:
                await response.read(4)
            except Exception as exc:  # noqa: BLE001
                assert "too large" in str(exc)
            else:
                raise AssertionError("the cap was not applied")
            await response.aclose()
        finally:
            await pool.aclose()
            server.close()
            await server.wait_closed()

    asyncio.run(run())


def test_a_stalled_stream_ends_at_the_request_deadline_before_the_upstream_timeout():
    from modelfort.runtime.guard.upstream import RequestDeadline, UpstreamTimeout

    stalled = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n"  # then nothing

    async def run() -> None:
        server, port = await _serve(stalled, [])
        pool = UpstreamPool(f"http://127.0.0.1:{port}", 30.0)
        try:
            response = await pool.request("POST", "/v1/chat/completions", b"{}")
            response.deadline = asyncio.get_running_loop().time() + 0.2
            seen = []
            try:
                async for line in response.lines():
                    seen.append(line)
            except RequestDeadline:
                pass
            else:
                raise AssertionError("the stall was not bounded")
            assert seen == ["data: 1", ""]
            await response.aclose()
            response = await pool.request("POST", "/v1/chat/completions", b"{}")
            pool.timeout_s = 0.2  # now the upstream timeout is the nearer bound
            try:
                async for _line in response.lines():
                    pass
            except RequestDeadline:
                raise AssertionError("no deadline was set") from None
            except UpstreamTimeout:
                pass
            await response.aclose()
        finally:
            await pool.aclose()
            server.close()
            await server.wait_closed()

    asyncio.run(run())


async def _answer_twice(payload: bytes, *, then_close: bool = False) -> tuple[list[object], int]:
    """Send `payload` to a fresh pool's request, then a second request; return both outcomes and the connections
    the server accepted (2 when the first connection was not reused)."""
    accepted = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            await reader.readexactly(int(re.search(rb"content-length: (\d+)", head).group(1)))
            writer.write(payload)
            await writer.drain()
            if then_close:
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    pool = UpstreamPool(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", 5.0)
    outcomes: list[object] = []
    try:
        for _ in range(2):
            try:
                response = await pool.request("POST", "/v1/completions", b"{}")
                outcomes.append((response.status_code, await response.read(1024)))
                await response.aclose()
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
                outcomes.append(exc)
    finally:
        await pool.aclose()
        server.close()
        await server.wait_closed()
    return outcomes, accepted


SMUGGLING_SHAPES = {
    "length beside chunks": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "two lengths": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 7\r\n\r\nhi",
    "chunk size not hex": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n",
    "folded header": b"HTTP/1.1 200 OK\r\nx-note: a\r\n b\r\ncontent-length: 2\r\n\r\nhi",
    "not HTTP": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "protocol switch": b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
}


@pytest.mark.parametrize("shape", sorted(SMUGGLING_SHAPES))
def test_an_ambiguous_answer_is_refused_and_its_connection_dropped(shape):
    from modelfort.runtime.guard.upstream import UpstreamError

    outcomes, accepted = asyncio.run(_answer_twice(SMUGGLING_SHAPES[shape]))
    assert all(isinstance(outcome, UpstreamError) for outcome in outcomes), outcomes
    assert accepted == 2  # never reused after a refusal


def test_bytes_after_an_answer_keep_the_answer_but_not_the_connection():
    # The second "answer" would otherwise be read as the reply to the next request: someone else's completion.
    payload = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nspoof"
    outcomes, accepted = asyncio.run(_answer_twice(payload))
    assert outcomes == [(200, b"hi"), (200, b"hi")]
    assert accepted == 2


def test_interim_answers_are_skipped_and_the_final_answer_read():
    payload = (b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
               b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-final: yes\r\n\r\nhi")
    outcomes, accepted = asyncio.run(_answer_twice(payload))
    assert outcomes == [(200, b"hi"), (200, b"hi")]
    assert accepted == 1


def test_a_body_without_length_ends_with_the_connection_which_is_not_reused():
    outcomes, accepted = asyncio.run(_answer_twice(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", then_close=True))
    assert outcomes == [(200, b"until the end"), (200, b"until the end")]
    assert accepted == 2


def test_connection_close_and_http_1_0_are_not_reused():
    for payload in (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
                    b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhi"):
        outcomes, accepted = asyncio.run(_answer_twice(payload))
        assert outcomes == [(200, b"hi"), (200, b"hi")]
        assert accepted == 2, payload
