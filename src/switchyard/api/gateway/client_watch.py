"""Watching the client while the gateway works: when it goes away, the upstream call is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from switchyard.services.gateway.dispatch import StreamingCall

T = TypeVar("T")


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_gone(receive: Receive, call: Awaitable[T]) -> asyncio.Future[T] | None:
    """The finished call (read its ``result()``), or None when the client went away first (call cancelled)."""
    task = asyncio.ensure_future(call)
    watcher = asyncio.ensure_future(until_disconnect(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None
    return task


async def relay_unless_gone(receive: Receive, relay: Coroutine[Any, Any, None], stream: StreamingCall) -> bool:
    """Runs ``relay`` (which sends the stream to the client) until it ends or the client goes away; closes the
    upstream stream either way. True when the relay ran to its end."""
    task = asyncio.ensure_future(relay)
    watcher = asyncio.ensure_future(until_disconnect(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():  # the client went away mid-stream: stop reading the upstream
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
    return not task.cancelled() and task.exception() is None
