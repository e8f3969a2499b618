"""The server's HTTP/1.1 protocol (``api/server_protocol.py``: uvicorn's httptools protocol, its writes gathered),
served by uvicorn on 127.0.0.1 and spoken to over raw sockets: what a client receives, how many writes carry it,
refused headers, keep-alive and pipelining — on asyncio's loop and on uvloop, which ``switchyard serve`` runs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
import uvloop

from switchyard.api.server_protocol import GATHER_LIMIT, GatheringProtocol

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Recorder:
    """A transport that keeps what each ``write`` carried, in the order written."""

    def __init__(self, transport: Any, writes: list[bytes]) -> None:
        self._transport = transport
        self.writes = writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


WRITES: list[bytes] = []


class RecordingProtocol(GatheringProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(Recorder(transport, WRITES))  # type: ignore[arg-type]


class App:
    """Answers by path; ``gate`` holds the answers that wait for the test."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        while (await receive())["more_body"]:
            pass
        handler = getattr(self, scope["path"].strip("/").replace("-", "_"))
        await handler(send)

    async def json(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"Content-Length", b"11")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    async def stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"bb", "more_body": True})
        await self.gate.wait()
        await send({"type": "http.response.body", "body": b"ccc", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def late_body(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await self.gate.wait()
        await send({"type": "http.response.body", "body": b"late"})

    async def big(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"x", b"y", b"z"):
            await send({"type": "http.response.body", "body": part * (GATHER_LIMIT // 2), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def empty(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def line_break(self, send: Send) -> None:
        headers = [(b"content-length", b"0"), (b"x-a", b"1\r\nx-injected: yes")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def control_character(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1\x00")]})

    async def bad_name(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x a", b"1")]})

    async def short(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"12345"})

    async def slow(self, send: Send) -> None:
        await asyncio.sleep(0.5)
        await self.json(send)


@contextlib.asynccontextmanager
async def serving(keep_alive: float = 5.0) -> AsyncIterator[tuple[int, App]]:
    app = App()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=RecordingProtocol,
        lifespan="off",
        log_level="critical",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    WRITES.clear()
    try:
        yield sock.getsockname()[1], app
    finally:
        server.should_exit = True
        await task


async def request(port: int, *paths: str, method: str = "GET") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(f"{method} {path} HTTP/1.1\r\nhost: t\r\n\r\n".encode() for path in paths))
    return reader, writer


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b": ")
        assert name not in headers, head
        headers[name] = value
    return int(status_line.split()[1]), headers


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), 5))[:-2], 16)
    data = await reader.readexactly(size + 2)
    assert data.endswith(b"\r\n")
    return data[:-2]


async def read_answer(reader: asyncio.StreamReader, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    status, headers = await read_head(reader)
    if method == "HEAD" or status == 204:
        return status, headers, b""
    if headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while chunk := await read_chunk(reader):
            body += chunk
        return status, headers, body
    return status, headers, await reader.readexactly(int(headers[b"content-length"]))


async def closed_without_a_byte(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 5) == b""


async def test_a_json_answer_is_one_message_in_one_write() -> None:
    async with serving() as (port, _):
        reader, writer = await request(port, "/json")
        status, headers, body = await read_answer(reader)
        writer.close()
    assert (status, body) == (200, b'{"ok":true}')
    assert headers[b"content-length"] == b"11"  # lower-cased as uvicorn writes them
    assert b"date" in headers
    assert len(WRITES) == 1 and WRITES[0].endswith(b'\r\n\r\n{"ok":true}')


async def test_a_stream_s_events_of_one_pass_share_a_write_and_go_out_before_the_stream_goes_on() -> None:
    async with serving() as (port, app):
        reader, writer = await request(port, "/stream")
        status, headers = await read_head(reader)
        assert headers[b"transfer-encoding"] == b"chunked"
        assert [await read_chunk(reader), await read_chunk(reader)] == [b"a", b"bb"]  # while the app still waits
        app.gate.set()
        assert await read_chunk(reader) == b"ccc"
        assert await read_chunk(reader) == b""
        writer.close()
    assert status == 200
    assert len(WRITES) == 2  # head + a + bb; ccc + the end
    assert WRITES[0].endswith(b"\r\n\r\n1\r\na\r\n2\r\nbb\r\n") and WRITES[1] == b"3\r\nccc\r\n0\r\n\r\n"


async def test_the_head_goes_out_at_the_end_of_the_pass_when_the_body_waits() -> None:
    async with serving() as (port, app):
        reader, writer = await request(port, "/late-body")
        status, headers = await read_head(reader)
        app.gate.set()
        assert await reader.readexactly(4) == b"late"
        writer.close()
    assert (status, headers[b"content-length"]) == (200, b"4")


async def test_past_the_gather_limit_a_response_is_written_at_once_and_arrives_whole() -> None:
    async with serving() as (port, _):
        reader, writer = await request(port, "/big")
        _, _, body = await read_answer(reader)
        writer.close()
    half = GATHER_LIMIT // 2
    assert body == b"x" * half + b"y" * half + b"z" * half
    assert len(WRITES) >= 2 and max(len(w) for w in WRITES) < 2 * GATHER_LIMIT


async def test_head_requests_and_204_answers_carry_no_body() -> None:
    async with serving() as (port, _):
        reader, writer = await request(port, "/json", method="HEAD")
        head_answer = await read_answer(reader, "HEAD")
        writer.write(b"GET /empty HTTP/1.1\r\nhost: t\r\n\r\nGET /json HTTP/1.1\r\nhost: t\r\n\r\n")
        empty = await read_answer(reader)
        after = await read_answer(reader)  # the same connection: nothing stray came between the answers
        writer.close()
    assert head_answer[0] == 200 and head_answer[1][b"content-length"] == b"11"
    assert empty[0] == 204 and b"transfer-encoding" not in empty[1] and b"content-length" not in empty[1]
    assert after[2] == b'{"ok":true}'


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with serving() as (port, _):
        reader, writer = await request(port, "/slow", "/json", "/empty")
        answers = [await read_answer(reader) for _ in range(3)]
        writer.close()
    assert [(status, body) for status, _, body in answers] == [(200, b'{"ok":true}'), (200, b'{"ok":true}'), (204, b"")]


@pytest.mark.parametrize("path", ["/line-break", "/control-character", "/bad-name", "/short"])
async def test_a_broken_answer_closes_the_connection_and_sends_nothing_of_it(path: str) -> None:
    async with serving() as (port, _):
        reader, writer = await request(port, path)
        assert await closed_without_a_byte(reader)
        writer.close()
    assert b"".join(WRITES) == b""


async def test_an_idle_connection_closes_after_the_keep_alive_timeout_and_a_working_one_does_not() -> None:
    async with serving(keep_alive=0.3) as (port, _):
        reader, writer = await request(port, "/json")
        await read_answer(reader)
        await asyncio.sleep(0.2)
        writer.write(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n")  # works past the timer's first firing
        assert (await read_answer(reader))[2] == b'{"ok":true}'
        writer.write(b"GET /json HTTP/1.1\r\nhost: t\r\n\r\n")
        await read_answer(reader)
        loop = asyncio.get_running_loop()
        idle_from = loop.time()
        assert await closed_without_a_byte(reader)
        idle = loop.time() - idle_from
        writer.close()
    assert 0.25 <= idle < 1.5


def test_on_uvloop() -> None:
    async def both() -> None:
        await test_a_json_answer_is_one_message_in_one_write()
        await test_a_stream_s_events_of_one_pass_share_a_write_and_go_out_before_the_stream_goes_on()
        await test_an_idle_connection_closes_after_the_keep_alive_timeout_and_a_working_one_does_not()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(both())
