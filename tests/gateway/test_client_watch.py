"""Watching the client: a request whose client hangs up is cancelled and recorded as 499; one whose client stays
is neither slowed nor cancelled afterwards — also when the disconnect comes right as the work ends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message

from switchyard.api.gateway.client_watch import WATCH_AFTER_SECONDS, relay_unless_gone, unless_gone
from switchyard.services.platform import Platform
from switchyard.services.usage_records import UsageFilter, list_usage
from tests.conftest import ADMIN_KEY, ModelFactory


class Client:
    """An ASGI client side: the request body, then nothing until ``leave()`` (or the answer's end)."""

    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.sent = False
        self.gone = asyncio.Event()
        self.receives = 0

    def leave(self) -> None:
        self.gone.set()

    async def receive(self) -> Message:
        self.receives += 1
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}


async def test_the_work_runs_to_its_end_while_the_client_stays() -> None:
    client = Client()
    client.sent = True
    assert await unless_gone(client.receive, asyncio.sleep(0.01, result="answer")) == "answer"
    await asyncio.sleep(0.01)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_work_that_ends_before_the_watch_starts_never_reads_from_the_client() -> None:
    client = Client()
    client.sent = True
    client.leave()  # it would be seen at once if the watcher ran
    assert await unless_gone(client.receive, asyncio.sleep(WATCH_AFTER_SECONDS / 5, result="answer")) == "answer"
    await asyncio.sleep(WATCH_AFTER_SECONDS * 2)
    assert client.receives == 0


async def test_a_client_gone_before_the_watch_starts_cancels_the_work_when_it_does() -> None:
    client = Client()
    client.sent = True
    client.leave()
    began = time.monotonic()
    assert await unless_gone(client.receive, asyncio.sleep(10)) is None
    assert WATCH_AFTER_SECONDS * 0.9 <= time.monotonic() - began < 1
    assert client.receives == 1


async def test_a_disconnect_as_the_work_ends_does_not_cancel_what_comes_next() -> None:
    client = Client()
    client.sent = True

    async def work() -> str:
        await asyncio.sleep(WATCH_AFTER_SECONDS * 1.5)  # the watcher runs
        client.leave()  # as when the answer ends: the watcher wakes up with the disconnect …
        await asyncio.sleep(0)  # … and finishes while the work finishes too
        return "answer"

    assert await unless_gone(client.receive, work()) == "answer"
    for _ in range(5):
        await asyncio.sleep(0)  # the watcher's callback has run by now, and cancelled nothing
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_the_work_is_cancelled_when_the_client_leaves() -> None:
    client = Client()
    client.sent = True
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    asyncio.get_running_loop().call_later(0.02, client.leave)
    began = time.monotonic()
    assert await unless_gone(client.receive, work()) is None
    assert time.monotonic() - began < 1 and cancelled.is_set()
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0)  # the task carries on normally


async def test_errors_of_the_work_are_raised_and_outside_cancellation_is_not_swallowed() -> None:
    client = Client()
    client.sent = True

    async def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await unless_gone(client.receive, broken())

    outer = asyncio.ensure_future(unless_gone(client.receive, asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer


class FakeStream:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_a_relay_closes_the_stream_however_it_ends() -> None:
    client = Client()
    client.sent = True

    async def relay(seconds: float, error: Exception | None = None) -> None:
        await asyncio.sleep(seconds)
        if error is not None:
            raise error

    ended = FakeStream()
    assert await relay_unless_gone(client.receive, relay(0), ended) is True  # type: ignore[arg-type]
    assert ended.closed

    broken = FakeStream()
    with pytest.raises(RuntimeError):  # a bug in a relay is raised, not taken for a client that left
        await relay_unless_gone(client.receive, relay(0, RuntimeError("bug")), broken)  # type: ignore[arg-type]
    assert broken.closed

    left = FakeStream()
    asyncio.get_running_loop().call_later(0.02, client.leave)
    assert await relay_unless_gone(client.receive, relay(10), left) is False  # type: ignore[arg-type]
    assert left.closed


async def call_app(app: FastAPI, path: str, body: dict[str, Any], client: Client) -> list[Message]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {ADMIN_KEY}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    client.body = orjson.dumps(body)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, client.receive, send)
    return sent


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_a_client_that_leaves_a_slow_call_cancels_it_and_is_recorded_499(
    app: FastAPI, models: ModelFactory, path: str
) -> None:
    await models.model("chat-slow", "upstream-slow")  # the mock waits 2 s before it answers
    client = Client()
    body: dict[str, Any] = {"model": "chat-slow", "messages": [{"role": "user", "content": "hi"}]}
    if path == "/v1/messages":
        body["max_tokens"] = 16
    asyncio.get_running_loop().call_later(0.2, client.leave)
    began = time.monotonic()

    sent = await call_app(app, path, body, client)

    assert time.monotonic() - began < 1.5  # the upstream call was cancelled, not waited for
    assert sent == []  # nobody to answer
    platform: Platform = app.state.platform
    await platform.governor.writer.flush()
    page = await platform_usage(platform)
    assert [(r["router"], r["status"]) for r in page] == [("chat-slow", 499)]


async def platform_usage(platform: Platform) -> list[dict[str, Any]]:
    listed = await list_usage(platform, UsageFilter(), limit=10, offset=0)
    return [{"router": e.record.router, "status": e.record.status} for e in listed.items]
