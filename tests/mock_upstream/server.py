"""The mock upstream server: an aiohttp app on 127.0.0.1, in its own thread and event loop.

Dialect modules (``openai_dialect.py``, …) add their routes. Behaviour is chosen by the *upstream model name*
(what the provider sends), so one server serves every test at once:

- ``…fail-<status>…``  answers that status with the dialect's error body (e.g. ``gpt-fail-500``);
- ``…slow…``           waits 2 s before answering (for first-byte timeouts);
- ``…stall…``          streams the first chunk, then waits 2 s (a slow stream after the first byte);
- ``…truncate…``       streams half the events and cuts the connection;
- ``…malformed…``      answers 200 with a body that is not JSON;
- ``…reset…``          closes the connection without answering;
- ``…tools…``          answers with a tool call (streamed as argument deltas).

Every request is recorded (``requests``) for the tests to inspect, and every stream whose client closed the
connection before it ended (``closed_by_peer``), with when the mock noticed.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class PeerClosed:
    """A streamed answer whose client closed the connection before the stream ended."""

    path: str
    body: Any
    at: float
    """``time.monotonic()`` when the mock noticed (within ~10 ms while it stalls)."""


PEER_CLOSED = web.AppKey("peer_closed", list[PeerClosed])


FAIL = re.compile(r"(?:^|-)fail-(\d{3})(?=-|$)")
"""``fail-NNN`` as a dash-separated word, so that a random suffix never triggers it by chance."""


def fault(model: str) -> str | None:
    for name in ("slow", "stall", "truncate", "malformed", "reset", "tools"):
        if name in model:
            return name
    match = FAIL.search(model)
    return match.group(0) if match else None


def fail_status(model: str) -> int | None:
    match = FAIL.search(model)
    return int(match.group(1)) if match else None


class MockUpstream:
    def __init__(self) -> None:
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app.middlewares.append(self._record)
        self.app[PEER_CLOSED] = []

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        body: Any
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), body, dict(request.query))
            )
        return await handler(request)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.app.router.add_route(method, path, handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, model: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            found = list(self.requests)
        return [
            r
            for r in found
            if (model is None or (isinstance(r.body, dict) and r.body.get("model") == model) or model in r.path)
            and (path is None or r.path == path)
        ]

    def closed_by_peer(self, model: str) -> list[PeerClosed]:
        """The streams for ``model`` (in the body or the path) whose client hung up before they ended."""
        return [
            c
            for c in list(self.app[PEER_CLOSED])
            if (isinstance(c.body, dict) and c.body.get("model") == model) or model in c.path
        ]

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None and server.sockets
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="mock-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the mock upstream did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


async def sse_response(
    request: web.Request, events: list[bytes], *, stall_after_first: bool = False, truncate: bool = False
) -> web.StreamResponse:
    """Streams ``events`` (complete SSE events) one write each."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    cut = len(events) // 2 if truncate else len(events)
    for index, event in enumerate(events[:cut]):
        try:
            await response.write(event)
        except ConnectionResetError:
            await _record_peer_closed(request)
            return response
        if stall_after_first and index == 0 and not await _stall(request, 2.0):
            return response
        await asyncio.sleep(0)
    if truncate:
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write_eof()
    return response


async def _record_peer_closed(request: web.Request) -> None:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = raw
    request.app[PEER_CLOSED].append(PeerClosed(request.path, body, time.monotonic()))


async def _stall(request: web.Request, seconds: float) -> bool:
    """Waits ``seconds`` watching the connection; False (recorded) as soon as the client closes it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if request.transport is None or request.transport.is_closing():
            await _record_peer_closed(request)
            return False
        await asyncio.sleep(0.01)
    return True


async def common_faults(
    request: web.Request, model: str, error: Callable[[int], web.Response]
) -> web.StreamResponse | None:
    """The faults every dialect shares; None when the request should be answered normally."""
    kind = fault(model)
    status = fail_status(model)
    if status is not None:
        return error(status)
    if kind == "slow":
        await asyncio.sleep(2)
    if kind == "reset":
        assert request.transport is not None
        request.transport.close()
        raise web.HTTPInternalServerError()  # never reaches the client: the connection is gone
    if kind == "malformed":
        return web.Response(body=b'{"id": "broken", "choices": [', content_type="application/json")
    return None
