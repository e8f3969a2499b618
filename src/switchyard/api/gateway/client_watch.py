"""Watching the client while the gateway works: when it goes away, the upstream call is cancelled.

The work runs in the request's own task. Once it has lasted ``WATCH_AFTER_SECONDS``, one small task waits on
``receive()`` for the disconnect and, if it comes first, cancels the request's task (a done-callback, not a
second task and ``asyncio.wait`` for the work: ~15 µs per request, bench/RESULTS.md profiling step 4). Work that
ends sooner — most answers of fast upstreams — costs one timer, not a task (the task was ~50K instructions, ~5 %
of a chat request: step 11); a client that leaves is noticed at most that much later, and a long call, the one
worth cancelling, is watched as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from switchyard.services.gateway.dispatch import StreamingCall

T = TypeVar("T")

WATCH_AFTER_SECONDS = 0.05
"""How long work runs before the client is watched."""


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _Watch:
    """Starts watching ``receive`` when its timer fires; cancels ``task`` when the watcher ends with the client's
    disconnect while the work is still running."""

    __slots__ = ("active", "fired", "receive", "task", "timer", "watcher")

    def __init__(self, task: asyncio.Task[Any], receive: Receive) -> None:
        self.task = task
        self.receive = receive
        self.active = True
        self.fired = False
        self.watcher: asyncio.Future[None] | None = None
        self.timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self.start)

    def start(self) -> None:
        if self.active:
            self.watcher = asyncio.ensure_future(until_disconnect(self.receive))
            self.watcher.add_done_callback(self.gone)

    def gone(self, watcher: asyncio.Future[None]) -> None:
        if watcher.cancelled() or watcher.exception() is not None or not self.active:
            return
        self.fired = True
        self.task.cancel()

    def stop(self) -> None:
        self.active = False  # the callback may already be scheduled: it must not cancel what comes next
        self.timer.cancel()
        if self.watcher is not None:
            self.watcher.cancel()


async def unless_gone(receive: Receive, call: Awaitable[T]) -> T | None:
    """What ``call`` returns (its errors are raised), or None when the client went away first (the call was
    cancelled). Must be awaited by the request's task, which ``call`` runs in."""
    task = asyncio.current_task()
    assert task is not None
    watch = _Watch(task, receive)
    try:
        return await call
    except asyncio.CancelledError:
        if watch.fired and task.uncancel() == 0:  # our own cancellation, nobody else's
            return None
        raise
    finally:
        watch.stop()


async def _ran(relay: Coroutine[Any, Any, None]) -> bool:
    await relay
    return True


async def relay_unless_gone(receive: Receive, relay: Coroutine[Any, Any, None], stream: StreamingCall) -> bool:
    """Runs ``relay`` (which sends the stream to the client) until it ends or the client goes away; closes the
    upstream stream either way. True when the relay ran to its end; its unexpected errors are raised."""
    try:
        return await unless_gone(receive, _ran(relay)) is not None
    finally:
        await stream.aclose()
