"""Requests waiting for a provider with room: one queue per router, higher user priority first, FIFO within one.

When every provider of a router is at its ``max_in_flight``, the request joins its router's queue. Only the
head of a queue tries again: at once when a request of this process finishes on one of the router's providers,
and every ``POLL_SECONDS`` otherwise (a slot may free up on another replica, which shares the in-flight counts
through the counters). When the head gets a slot it leaves and the next one becomes head and tries at once. A
request that waited ``max_queue_wait_seconds`` gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from switchyard.errors import UpstreamUnavailable

POLL_SECONDS = 0.025

QueueObserver = Callable[[str, int], None]
"""Called with a router's name and its queue's new length."""


@dataclass(order=True, slots=True)
class Waiter:
    rank: int
    """Minus the user's priority: the heap pops the highest priority first."""
    seq: int
    router_id: int = field(compare=False)
    router: str = field(compare=False)
    deadline: float = field(compare=False)
    wait_seconds: float = field(compare=False)
    event: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class AdmissionQueue:
    def __init__(self, observer: QueueObserver | None = None) -> None:
        self._queues: dict[int, list[Waiter]] = {}
        self._seq = itertools.count()
        self.observer = observer

    def length(self, router_id: int) -> int:
        return len(self._queues.get(router_id, ()))

    def join(self, router_id: int, router: str, priority: int, wait_seconds: float) -> Waiter:
        waiter = Waiter(-priority, next(self._seq), router_id, router, time.monotonic() + wait_seconds, wait_seconds)
        queue = self._queues.setdefault(router_id, [])
        heapq.heappush(queue, waiter)
        self._observe(waiter)
        return waiter

    def _observe(self, waiter: Waiter) -> None:
        if self.observer is not None:
            self.observer(waiter.router, self.length(waiter.router_id))

    async def turn(self, waiter: Waiter) -> None:
        """Returns when the waiter should try again; raises 503 when its wait is over."""
        while True:
            remaining = waiter.deadline - time.monotonic()
            if remaining <= 0:
                retry = max(1, math.ceil(min(waiter.wait_seconds, 30.0)))
                raise UpstreamUnavailable(
                    f"Every provider of '{waiter.router}' is at capacity; waited {waiter.wait_seconds:g} s. "
                    f"Retry in {retry} s.",
                    code="capacity_exceeded",
                    headers={"Retry-After": str(retry)},
                )
            queue = self._queues.get(waiter.router_id, [])
            head = queue[0] is waiter if queue else False
            waiter.event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), min(POLL_SECONDS, remaining) if head else remaining)
            if head:
                return

    def leave(self, waiter: Waiter) -> None:
        queue = self._queues.get(waiter.router_id)
        if not queue or waiter not in queue:
            return
        was_head = queue[0] is waiter
        queue.remove(waiter)
        heapq.heapify(queue)
        if not queue:
            del self._queues[waiter.router_id]
        elif was_head:
            queue[0].event.set()
        self._observe(waiter)

    def released(self, router_id: int) -> None:
        """A slot on one of the router's providers freed up in this process: its head tries at once."""
        queue = self._queues.get(router_id)
        if queue:
            queue[0].event.set()
