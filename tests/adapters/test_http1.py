"""The lean HTTP/1.1 upstream client (``adapters/http1.py``) through ``UpstreamPool``, against a raw asyncio
server on 127.0.0.1 that answers with exactly the bytes each test gives it: keep-alive reuse, the three ways a
body ends, timeouts, broken answers, back-pressure and the connection limit — on asyncio's own loop and on uvloop,
which ``switchyard serve`` runs (its transports are not ``asyncio.Transport`` subclasses)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvloop

from switchyard.adapters.http1 import HIGH_WATER
from switchyard.adapters.upstream import (
    CONNECT_ERROR,
    CallTimeouts,
    UpstreamPool,
    UpstreamRequest,
    read_body,
    read_chunk,
)
from switchyard.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

FAST = CallTimeouts(connect=2.0, first_byte=2.0, total=5.0)

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """Reads each request head (and its Content-Length body), then lets ``handler`` write the answer."""

    handler: Handler
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                await self.handler(request, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions?x=1"


Serve = Callable[[Handler], Awaitable[RawServer]]


@contextlib.asynccontextmanager
async def raw_servers() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> RawServer:
        raw = RawServer(handler)
        server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
        raw.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return raw

    try:
        yield start
    finally:
        for server in servers:
            server.close()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    async with raw_servers() as start:
        yield start


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    upstream = UpstreamPool()
    yield upstream
    await upstream.close()


def answer(body: bytes, *, extra: bytes = b"") -> Handler:
    async def handler(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra)
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    return handler


def post(url: str, body: bytes = b'{"a": 1}', **headers: str) -> UpstreamRequest:
    return UpstreamRequest("POST", url, {"Content-Type": "application/json", **headers}, body)


async def fetch(pool: UpstreamPool, request: UpstreamRequest, timeouts: CallTimeouts = FAST) -> tuple[int, bytes]:
    async with pool.open(request, timeouts) as response:
        return response.status, await read_body(response)


async def test_a_request_is_one_well_formed_http_message_and_the_connection_is_reused(serve, pool) -> None:
    server = await serve(answer(b'{"ok": true}'))
    for _ in range(3):
        assert await fetch(pool, post(server.url, Authorization="Bearer k")) == (200, b'{"ok": true}')
    assert server.connections == 1
    head = server.requests[0].decode()
    assert head.startswith("POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    lines = head.split("\r\n")
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert "Authorization: Bearer k" in lines and "Content-Length: 8" in lines
    assert "Accept-Encoding: identity" in lines  # a default the request did not override
    assert head.endswith('\r\n\r\n{"a": 1}')


async def test_the_request_s_own_headers_win_over_the_defaults_and_managed_ones_are_the_client_s(serve, pool) -> None:
    server = await serve(answer(b"{}"))
    await fetch(pool, post(server.url, **{"user-agent": "mine", "Content-Length": "999", "Host": "evil"}))
    lines = server.requests[0].decode().split("\r\n")
    assert "user-agent: mine" in lines and not any(line.startswith("User-Agent") for line in lines)
    assert "Content-Length: 8" in lines and "Content-Length: 999" not in lines
    assert f"Host: 127.0.0.1:{server.port}" in lines and "Host: evil" not in lines


async def test_interim_answers_are_skipped_and_bytes_beyond_the_answer_drop_the_connection(serve, pool) -> None:
    async def interim(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
        await answer(b'{"final": 1}', extra=b"X-Final: yes\r\n")(request, writer)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")  # never asked for

    server = await serve(interim)
    async with pool.open(post(server.url), FAST) as response:
        assert response.status == 200
        assert response.headers.get("X-Final") == "yes" and "Link" not in response.headers
        assert await read_body(response) == b'{"final": 1}'
    assert await fetch(pool, post(server.url)) == (200, b'{"final": 1}')
    assert server.connections == 2  # the first connection carried bytes nobody asked for: not reused


async def test_a_chunked_body_is_read_whole_and_headers_are_case_insensitive(serve, pool) -> None:
    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    server = await serve(chunked)
    async with pool.open(post(server.url), FAST) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.content_type() == "text/event-stream"  # read from the raw headers: no mapping built
        chunks = []
        while chunk := await read_chunk(response):
            chunks.append(chunk)
        assert b"".join(chunks) == b"data: 1\n\ndata: 2\n\n"
        assert response.is_eof()
    await fetch(pool, post(server.url))
    assert server.connections == 1  # the chunked answer was read to its end: reused


async def test_a_body_delimited_by_the_end_of_the_connection_is_complete_and_not_reused(serve, pool) -> None:
    async def until_close(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"x": 1}')
        await writer.drain()
        writer.close()

    server = await serve(until_close)
    assert await fetch(pool, post(server.url)) == (200, b'{"x": 1}')
    assert await fetch(pool, post(server.url)) == (200, b'{"x": 1}')
    assert server.connections == 2


async def test_an_answer_cut_off_mid_body_is_an_upstream_error(serve, pool) -> None:
    async def cut(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":')
        await writer.drain()
        writer.close()

    server = await serve(cut)
    with pytest.raises(UpstreamError, match="cut off"):
        await fetch(pool, post(server.url))


async def test_a_connection_closed_before_any_answer_is_unavailable_and_a_garbled_one_too(serve, pool) -> None:
    async def hang_up(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def garbage(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    for handler in (hang_up, garbage):
        server = await serve(handler)
        with pytest.raises(UpstreamUnavailable) as caught:
            await fetch(pool, post(server.url))
        assert caught.value.code == CONNECT_ERROR


async def test_no_listener_is_a_connect_error(pool) -> None:
    with pytest.raises(UpstreamUnavailable, match="Could not connect") as caught:
        await fetch(pool, post("http://127.0.0.1:9/v1/x"))
    assert caught.value.code == CONNECT_ERROR


async def test_no_head_within_the_read_timeout_times_out_and_the_connection_is_dropped(serve, pool) -> None:
    async def stall(request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)

    server = await serve(stall)
    short = CallTimeouts(connect=1.0, first_byte=0.1, total=5.0)
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        await fetch(pool, post(server.url), short)


async def test_a_stream_that_stops_times_out_and_a_slow_drip_ends_at_the_total_timeout(serve, pool) -> None:
    async def drip(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            writer.write(b"2\r\nab\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)

    server = await serve(drip)
    stops = CallTimeouts(connect=1.0, first_byte=0.02, total=5.0)
    async with pool.open(post(server.url), stops) as response:
        with pytest.raises(UpstreamTimeout, match="stopped streaming"):
            while await read_chunk(response):
                pass
    total = CallTimeouts(connect=1.0, first_byte=1.0, total=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with pool.open(post(server.url), total) as response:
        with pytest.raises(UpstreamTimeout):
            while await read_chunk(response):
                pass
    assert loop.time() - began < 1.0


async def test_a_stream_that_never_pauses_still_ends_at_the_total_timeout(serve, pool) -> None:
    async def flood(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(500):
            writer.write(b"2\r\nab\r\n" * 10)
            await writer.drain()
            await asyncio.sleep(0.005)

    server = await serve(flood)
    loop = asyncio.get_running_loop()
    began = loop.time()
    total = CallTimeouts(connect=1.0, first_byte=1.0, total=0.3)
    async with pool.open(post(server.url), total) as response:
        with pytest.raises(UpstreamTimeout):
            while await read_chunk(response):
                await asyncio.sleep(0.02)  # a slow reader: there is always something buffered, no wait
    assert loop.time() - began < 1.5


async def test_a_body_larger_than_the_buffer_pauses_the_socket_and_arrives_whole(serve, pool) -> None:
    big = bytes(range(256)) * (3 * HIGH_WATER // 256)

    server = await serve(answer(big))
    async with pool.open(post(server.url), FAST) as response:
        await asyncio.sleep(0.2)  # the socket is read ahead until the buffer is full, then paused
        received = []
        while chunk := await read_chunk(response):
            received.append(chunk)
    assert b"".join(received) == big
    assert await fetch(pool, post(server.url)) == (200, big)


async def test_beyond_the_connection_limit_a_request_waits_for_a_connection_to_come_back(serve) -> None:
    async def slow(request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.1)
        await answer(b"{}")(request, writer)

    server = await serve(slow)
    pool = UpstreamPool(connections_per_origin=1)
    try:
        results = await asyncio.gather(*(fetch(pool, post(server.url)) for _ in range(4)))
    finally:
        await pool.close()
    assert results == [(200, b"{}")] * 4
    assert server.connections == 1


async def test_an_answer_released_before_its_end_closes_its_connection(serve, pool) -> None:
    async def halves(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"cd")

    server = await serve(halves)
    async with pool.open(post(server.url), FAST) as response:
        assert response.status == 200  # released with half the body on its way
    assert await fetch(pool, post(server.url)) == (200, b"abcd")
    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_not_reused(serve, pool) -> None:
    async def once(request: bytes, writer: asyncio.StreamWriter) -> None:
        await answer(b"{}")(request, writer)
        writer.close()  # keep-alive announced, then closed while idle

    server = await serve(once)
    assert await fetch(pool, post(server.url)) == (200, b"{}")
    await asyncio.sleep(0.05)
    assert await fetch(pool, post(server.url)) == (200, b"{}")
    assert server.connections == 2


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(serve, pool) -> None:
    server = await serve(answer(b"{}"))
    with pytest.raises(UpstreamError, match="could not be sent"):
        await fetch(pool, post(server.url, **{"X-Evil": "a\r\nX-Injected: 1"}))
    assert server.requests == []


ON_ASYNCIO = [test for name, test in sorted(globals().items()) if name.startswith("test_")]


@pytest.mark.parametrize("test", ON_ASYNCIO, ids=[test.__name__.removeprefix("test_") for test in ON_ASYNCIO])
def test_on_uvloop(test: Callable[..., Awaitable[None]]) -> None:
    """Every test above again on uvloop, the loop ``switchyard serve`` runs."""

    async def run() -> None:
        async with raw_servers() as start:
            upstream = UpstreamPool()
            given = {"serve": start, "pool": upstream}
            try:
                await test(**{name: given[name] for name in inspect.signature(test).parameters})
            finally:
                await upstream.close()

    uvloop.run(run())
