"""Micro-batching: concurrent requests to one model share a run of it.

Each request's texts join a queue. A drain task (started by the first request, ending when the queue is empty)
takes up to ``max_inputs`` queued texts — waiting at most ``max_wait`` seconds for more to arrive while the batch
is not full — and runs them in one call of ``run`` in the model's own worker thread. Requests that arrive while
a batch runs form the next one. A request larger than ``max_inputs`` runs as a batch of its own; a request
cancelled while it waits is left out. Bound to the event loop it was made in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from switchyard.adapters.runtimes.encoder import Encoded


@dataclass(slots=True)
class _Request:
    texts: list[str]
    answer: asyncio.Future[Encoded]


class MicroBatcher:
    def __init__(
        self, run: Callable[[list[str]], Encoded], executor: Executor, *, max_inputs: int, max_wait: float
    ) -> None:
        self._run = run
        self._executor = executor
        self.max_inputs = max_inputs
        self.max_wait = max_wait
        self.loop = asyncio.get_running_loop()
        self._queue: deque[_Request] = deque()
        self._queued = 0
        self._full = asyncio.Event()
        self._drain: asyncio.Task[None] | None = None
        self.batches: deque[int] = deque(maxlen=1000)
        """Inputs per batch, for the last thousand batches run (tests and benchmarks read it)."""

    async def encode(self, texts: list[str]) -> Encoded:
        request = _Request(texts, self.loop.create_future())
        self._queue.append(request)
        self._queued += len(texts)
        if self._queued >= self.max_inputs:
            self._full.set()
        if self._drain is None or self._drain.done():
            self._drain = self.loop.create_task(self._drain_queue(), name="switchyard-local-batch")
        return await request.answer

    async def _drain_queue(self) -> None:
        while self._queue:
            if self._queued < self.max_inputs and self.max_wait > 0:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.max_wait)
            batch = self._take()
            if batch:
                await self._run_batch(batch)

    def _take(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._queue:
            request = self._queue[0]
            if batch and size + len(request.texts) > self.max_inputs:
                break
            self._queue.popleft()
            self._queued -= len(request.texts)
            if request.answer.done():  # cancelled while it waited
                continue
            batch.append(request)
            size += len(request.texts)
        return batch

    async def _run_batch(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        self.batches.append(len(texts))
        try:
            encoded = await self.loop.run_in_executor(self._executor, self._run, texts)
        except Exception as exc:  # every request of the batch gets the error
            for request in batch:
                if not request.answer.done():
                    request.answer.set_exception(exc)
            return
        start = 0
        for request in batch:
            end = start + len(request.texts)
            if not request.answer.done():
                request.answer.set_result(Encoded(encoded.vectors[start:end], encoded.tokens[start:end]))
            start = end
