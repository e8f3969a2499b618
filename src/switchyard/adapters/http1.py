"""A lean HTTP/1.1 client for upstream calls: keep-alive connections per origin on asyncio protocols, answers
parsed by httptools (llhttp, the parser uvicorn uses).

Why not aiohttp's client on this path: it was the largest single cost of a governed request — ~125 µs of the
~450 µs of CPU a chat request took (py-spy, bench/RESULTS.md profiling step 12): timeouts, tracing, cookies,
redirects and proxies are set up per request though an upstream call needs none of them. This client does what
that call needs: one write for the request, the answer's head and body as they arrive, the connection back to
the pool when the answer was read to its end.

What it does not do (``adapters/upstream.py`` sends those through aiohttp): multipart bodies, ``HEAD``, proxies
and redirects (never followed: an API answer is relayed as it is).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

HIGH_WATER = 256 * 1024
"""Bytes of a body read but not yet taken by the caller above which the socket stops being read (resumed once the
caller has taken them): a slow client of a fast stream must not buffer it all in memory."""

KEEPALIVE_SECONDS = 60.0
"""An idle connection older than this is not reused (servers close theirs after 5–75 s)."""


class ConnectFailed(Exception):
    """No connection could be made (refused, unreachable, name not resolved)."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class Disconnected(Exception):
    """The connection closed, or the answer could not be parsed, before the answer was complete."""


class Connection(asyncio.Protocol):
    """One keep-alive connection; it carries one request at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.closed = False
        self.idle_since = 0.0
        self.interim = False
        """The head being parsed is a 1xx (``100 Continue``, ``103 Early Hints``): skipped, the final answer follows."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or response.complete:  # nothing was asked: the connection is not usable any more
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.fail(Disconnected(f"not valid HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self.response
        if response is not None and not response.complete:
            if response.headers_done and response.until_close():
                response.on_message_complete()  # a body delimited by the end of the connection
            else:
                response.fail(Disconnected("connection closed"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # httptools callbacks: the current response handles them. Bytes after its end (a server that answers more
    # than it was asked) are not this response's: the connection is dropped instead of reused.
    def _current(self) -> Response | None:
        response = self.response
        if response is None or response.complete:
            self.closed = True
            return None
        return response

    def on_header(self, name: bytes, value: bytes) -> None:
        if (response := self._current()) is not None:
            response.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        if (response := self._current()) is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.interim = True
            response.raw_headers.clear()
            return
        response.on_headers_complete(status, self.parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        if body and (response := self._current()) is not None:
            response.on_body(body)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
        elif (response := self._current()) is not None:
            response.on_message_complete()


class Response:
    """An answer being read: ``status`` and ``headers`` once ``Origin.request`` returned it, the body with
    ``readany``/``read``. ``release`` must be called: it gives the connection back (answer read to its end) or
    closes it."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_connection",
        "_deadline",
        "_error",
        "_headers",
        "_keep_alive",
        "_loop",
        "_origin",
        "_paused",
        "_read_timeout",
        "_waiter",
        "complete",
        "headers_done",
        "raw_headers",
        "status",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        connection: Connection,
        read_timeout: float,
        deadline: float,
    ) -> None:
        self._loop = loop
        self._origin = origin
        self._connection = connection
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._headers: CIMultiDictProxy[str] | None = None
        self._keep_alive = False
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        if self._headers is None:
            self._headers = CIMultiDictProxy(
                CIMultiDict((n.decode("latin-1"), v.decode("latin-1")) for n, v in self.raw_headers)
            )
        return self._headers

    def content_type(self) -> str:
        """The ``Content-Type`` header, ``""`` without one (no mapping built for it)."""
        for name, value in self.raw_headers:
            if len(name) == 12 and name.lower() == b"content-type":
                return value.decode("latin-1")
        return ""

    def until_close(self) -> bool:
        """Whether the body is delimited by the end of the connection (no length, not chunked)."""
        for name, value in self.raw_headers:
            lowered = name.lower()
            if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
                return False
        return self.status not in (204, 304) and self.status >= 200

    # Fed by the connection.
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_headers_complete(self, status: int, keep_alive: bool) -> None:
        self.status = status
        self._keep_alive = keep_alive
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self._connection.transport is not None:
            self._paused = True
            self._connection.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    # Read by the caller.
    async def _wait(self) -> None:
        """Until something arrives: a ``TimeoutError`` after the read timeout, or once the deadline passed."""
        loop = self._loop
        now = loop.time()
        if now >= self._deadline:
            raise TimeoutError
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(min(now + self._read_timeout, self._deadline), _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def start(self) -> None:
        """Waits for the answer's head."""
        while not self.headers_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def readany(self) -> bytes:
        """What has arrived of the body, waiting for some if nothing has; ``b""`` at its end."""
        while True:
            if self._chunks:
                if not self.complete and self._loop.time() >= self._deadline:
                    raise TimeoutError  # a stream that never pauses still ends at the total timeout
                data = self._take()
                if self._paused:
                    self._paused = False
                    if self._connection.transport is not None:
                        self._connection.transport.resume_reading()
                return data
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read(self) -> bytes:
        """The whole body."""
        if self.complete:
            return self._take()
        parts = []
        while chunk := await self.readany():
            parts.append(chunk)
        return b"".join(parts)

    def _take(self) -> bytes:
        chunks, self._chunks = self._chunks, []
        self._buffered = 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def is_eof(self) -> bool:
        """Whether the whole body has been read: its end arrived, and nothing is left to read."""
        return self.complete and not self._chunks

    def release(self) -> None:
        """The connection back to the pool if the answer was read to its end, else closed. Idempotent."""
        connection = self._connection
        if connection.response is not self:
            return
        connection.response = None
        reusable = self.complete and self._keep_alive and self._error is None and not self._paused
        self._origin.give_back(connection, reusable)


def _time_out(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Origin:
    """The connections to one ``scheme://host:port``: idle ones reused newest first, at most ``limit`` open; a
    request beyond that waits for one to be given back."""

    def __init__(self, scheme: str, host: str, port: int | None, host_header: str, *, limit: int) -> None:
        self.host = host
        self.port = port if port is not None else (443 if scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if scheme == "https" else None
        self.host_header = host_header.encode("latin-1")
        self.limit = limit
        self.open = 0
        self.idle: list[Connection] = []
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False

    async def request(
        self,
        method: str,
        target: bytes,
        headers: bytes,
        body: bytes | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
    ) -> Response:
        """Sends the request (``headers`` from ``header_lines``) and waits for the answer's head.
        ``TimeoutError`` (connect, read or total), ``ConnectFailed``, ``Disconnected``."""
        head = _head(method, target, self.host_header, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + total_timeout
        connection = await self._connection(loop, connect_timeout, deadline)
        response = Response(loop, self, connection, read_timeout, deadline)
        connection.response = response
        try:
            cast(asyncio.Transport, connection.transport).write(head if not body else head + body)
            await response.start()
        except BaseException:
            response.release()
            raise
        return response

    async def _connection(self, loop: asyncio.AbstractEventLoop, connect_timeout: float, deadline: float) -> Connection:
        idle = self.idle
        if idle:
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                if not connection.closed and now - connection.idle_since < KEEPALIVE_SECONDS:
                    return connection
                self._discard(connection)
        while self.open >= self.limit:
            waiter: asyncio.Future[Connection | None] = loop.create_future()
            self.waiters.append(waiter)
            timer = loop.call_at(deadline, _time_out, waiter)
            try:
                handed = await waiter
            finally:
                timer.cancel()
            if handed is not None:
                return handed
        self.open += 1
        try:
            timeout = max(0.0, min(connect_timeout, deadline - loop.time()))
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    Connection, self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None
                )
        except OSError as exc:
            self._lost_one()
            raise ConnectFailed(exc) from None
        except BaseException:
            self._lost_one()
            raise
        return connection

    def give_back(self, connection: Connection, reusable: bool) -> None:
        if not reusable or connection.closed or self.closed:
            self._discard(connection)
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = time.monotonic()
        self.idle.append(connection)

    def _discard(self, connection: Connection) -> None:
        connection.close()
        self._lost_one()

    def _lost_one(self) -> None:
        """One connection fewer: a waiter, if any, may open one."""
        self.open -= 1
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        self.closed = True
        for connection in self.idle:
            connection.close()
        self.idle.clear()


MANAGED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
"""Set by the client itself from the request; a caller's own are ignored."""


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    """``Name: value`` lines for ``Origin.request`` (worth keeping: a provider's headers repeat). A header that
    holds a line break or a NUL is a ``ValueError``: it would split the request."""
    lines = []
    for name, value in headers:
        if name.lower() in MANAGED_HEADERS:
            continue
        text = f"{name}: {value}\r\n"
        if text.count("\n") != 1 or "\r" in text[:-2] or "\0" in text:
            raise ValueError(f"the header {name!r} holds a line break or a NUL")
        lines.append(text.encode("latin-1"))
    return b"".join(lines)


def _head(method: str, target: bytes, host: bytes, lines: bytes, body: bytes | None) -> bytes:
    length = b"Content-Length: %d\r\n" % len(body) if body is not None else b""
    if not length and method in ("POST", "PUT", "PATCH"):
        length = b"Content-Length: 0\r\n"
    return b"".join(
        (method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n", lines, length, b"\r\n")
    )
