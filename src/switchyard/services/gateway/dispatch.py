"""Calling a route: try its providers in the balancer's order until one answers.

Another provider is tried after a connection error, a timeout before the first byte, a 429 or a 5xx (and a
2xx whose body is broken) — never once a streamed byte has reached the client: a stream commits to a provider
when its first chunk arrives, before anything is sent. A client error (400, 413, 422…) is the client's and is
passed on at once. When no provider could be tried (all open circuits) the answer is 503 with Retry-After.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

from switchyard.adapters.counters import Claim, Counters
from switchyard.adapters.upstream import (
    CONNECT_ERROR,
    CallTimeouts,
    UpstreamPool,
    UpstreamResponse,
    body_ended,
    read_body,
    read_chunk,
)
from switchyard.adapters.wire.base import Answer, StreamTranslator, Target, Usage, WireAdapter
from switchyard.adapters.wire.registry import adapter as adapter_for
from switchyard.domain.gateway import Operation, RetryOn, Strategy, Timeouts
from switchyard.errors import RateLimited, SwitchyardError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from switchyard.services.gateway.admission_queue import AdmissionQueue
from switchyard.services.gateway.balancer import Balancer, LatencyTracker, in_flight_key
from switchyard.services.gateway.breaker import CircuitBreaker
from switchyard.services.gateway.routing_table import Route

log = logging.getLogger(__name__)

T = TypeVar("T")

MEDIA_OPERATIONS = frozenset({Operation.audio_speech, Operation.audio_transcriptions})
"""Answers that may be audio or plain text (srt, vtt): relayed as they are, with their content type."""


@dataclass(slots=True)
class CallRecord:
    """What happened to one request: filled in as it goes, read by the front door and by usage recording."""

    operation: Operation
    route: Route
    started: float = field(default_factory=time.perf_counter)
    target: Target | None = None
    attempts: int = 0
    upstream_seconds: float = 0.0
    first_byte_seconds: float | None = None
    first_token_at: float | None = None
    """When a stream's first chunk arrived (``perf_counter``); None for whole answers."""
    usage: Usage | None = None
    status: int = 200
    error: SwitchyardError | None = None
    finished_at: float | None = None
    priority: int = 0
    """The caller's priority: orders the router's queue when every provider is at capacity."""

    def overhead_ms(self) -> float:
        """Time spent in the gateway so far: everything but waiting on upstreams."""
        return max(0.0, (time.perf_counter() - self.started - self.upstream_seconds) * 1000)

    @property
    def latency_seconds(self) -> float:
        return (self.finished_at or time.perf_counter()) - self.started


def call_timeouts(target: Target) -> CallTimeouts:
    """The provider's timeouts as the upstream pool takes them (made once per distinct setting)."""
    return _call_timeouts(target.provider.timeouts)


@functools.lru_cache(maxsize=1024)
def _call_timeouts(t: Timeouts) -> CallTimeouts:
    """One per distinct provider setting, built once (it holds aiohttp's timeout object for form uploads)."""
    return CallTimeouts(connect=t.connect, first_byte=t.first_byte, total=t.total)


def upstream_body(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """The client's body with the provider's defaults under it and its model name in it."""
    merged = {**target.provider.default_options, **body} if target.provider.default_options else dict(body)
    merged["model"] = target.provider.upstream_model
    return merged


class StreamingCall:
    """An upstream stream already committed to (its first chunk arrived), relayed as OpenAI SSE events.

    ``events`` yields the events translated from each upstream read together, so that the front door writes
    them to the client in one ASGI message: nothing waits for more data, and an upstream that sends its stream
    in few reads costs few socket writes (one message per event cost ~220 µs more per 20-chunk stream,
    bench/RESULTS.md profiling step 2). The last read's events come with ``ended`` already True, so that the
    front door can send them with the end of its answer."""

    def __init__(
        self,
        gateway: Gateway,
        record: CallRecord,
        stack: AsyncExitStack,
        response: UpstreamResponse,
        translator: StreamTranslator,
        first_chunk: bytes,
    ) -> None:
        self._gateway = gateway
        self._record = record
        self._stack = stack
        self._response = response
        self.translator = translator
        self._first = first_chunk
        self._closed = False
        self.ended = False
        """True once the upstream's stream has ended (set before the last events are yielded)."""

    async def events(self) -> AsyncIterator[list[bytes]]:
        """The OpenAI SSE events, one list per upstream read (never an empty one); the last one also holds
        what the translator kept back until the end."""
        record = self._record
        translator = self.translator
        response = self._response
        try:
            events = translator.feed(self._first)
            while not body_ended(response):
                if events:
                    yield events
                chunk = await read_chunk(response)
                if not chunk:
                    events = []
                    break
                events = translator.feed(chunk)
            try:
                events += translator.close()
            except SwitchyardError:
                if events:  # what was translated before the upstream's error still reaches the client
                    yield events
                raise
            record.usage = translator.state.usage
            self.ended = True
            if events:
                yield events
        except SwitchyardError as exc:
            record.error, record.status = exc, exc.status
            record.usage = translator.state.usage
            raise
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        record = self._record
        record.finished_at = time.perf_counter()
        if record.usage is None:  # ended early (the client went away): count what was relayed
            state = self.translator.state
            record.usage = state.usage or (
                Usage(completion_tokens=state.output_chunks) if state.output_chunks else None
            )
        if record.target is not None:
            self._gateway.finished(record.target, record, failed=record.error is not None)
        await self._stack.aclose()


class ProviderFull(Exception):
    """A provider is at its ``max_in_flight``: try the next one, or queue when all are full."""


class AllFull(Exception):
    """Every provider that could serve the request is at capacity."""


class _NotCounted:
    """The in-flight count of a provider that needs none: an async context manager that does nothing."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_: object) -> None:
        return None


NOT_COUNTED = _NotCounted()

IN_FLIGHT_TTL = 900
"""An in-flight count outlives a replica that died with requests in flight by at most this long."""

InFlightObserver = Callable[[str, int], None]
"""Called with a provider's name and +1 or -1 (the metrics' in-flight gauge)."""


class Gateway:
    def __init__(
        self,
        pool: UpstreamPool,
        counters: Counters,
        *,
        breaker: CircuitBreaker | None = None,
        queue: AdmissionQueue | None = None,
    ) -> None:
        self.pool = pool
        self.counters = counters
        self.breaker = breaker or CircuitBreaker()
        self.latency = LatencyTracker()
        self.balancer = Balancer(counters, self.latency)
        self.queue = queue or AdmissionQueue()
        self.in_flight_observer: InFlightObserver | None = None

    def finished(self, target: Target, record: CallRecord, *, failed: bool) -> None:
        if failed:
            self.breaker.failure(target.provider.id)
        else:
            self.breaker.success(target.provider.id)
            self.latency.observe(target.provider.id, record.first_byte_seconds or record.upstream_seconds)

    async def _order(self, record: CallRecord) -> Sequence[Target]:
        """The route's targets in the order to try them (when it has more than one: a single target is taken as
        it is, without this coroutine)."""
        route = record.route
        if not route.targets:
            raise UpstreamUnavailable(f"Model '{route.router.name}' has no enabled provider.", code="no_provider")
        return await self.balancer.order(route)

    def _attempts(self, record: CallRecord, order: Sequence[Target]) -> Iterator[tuple[Target, WireAdapter]]:
        """The targets to try, in ``order``; each claimed from the circuit breaker just before it is tried.

        A plain generator, not an async one: a call returns from the middle of it, and an async generator left
        so is finalized through the event loop (``call_soon_threadsafe``: a wake-up write, and a task to close
        it — ~10 µs per request)."""
        for target in order:
            if not self.breaker.available(target.provider.id):
                continue
            wire = adapter_for(target.provider.wire_format)
            if not wire.supports(record.operation):
                continue
            record.attempts += 1
            record.target = target
            yield target, wire

    def _exhausted(self, record: CallRecord, last: SwitchyardError | None) -> SwitchyardError:
        if last is not None:
            return last
        ids = [t.provider.id for t in record.route.targets]
        wait = max(1, round(self.breaker.retry_after(ids)))
        if not any(adapter_for(t.provider.wire_format).supports(record.operation) for t in record.route.targets):
            return UpstreamError(
                f"Model '{record.route.router.name}' does not support {record.operation.value}.",
                code="unsupported_operation",
                retryable=False,
            )
        return UpstreamUnavailable(
            f"Every provider of '{record.route.router.name}' is unavailable; retry in {wait} s.",
            code="no_provider_available",
            headers={"Retry-After": str(wait)},
        )

    def _in_flight(self, record: CallRecord, target: Target) -> contextlib.AbstractAsyncContextManager[None]:
        """Counts the request in flight on the provider: claimed against its ``max_in_flight`` when it has one
        (``ProviderFull`` when there is no room), counted for least-busy routing, else not counted at all (and
        then nothing is done: the common case costs no generator-based context manager)."""
        provider = target.provider
        if provider.max_in_flight is None and record.route.router.strategy != Strategy.least_busy:
            return NOT_COUNTED
        return self._counted(record, target)

    @contextlib.asynccontextmanager
    async def _counted(self, record: CallRecord, target: Target) -> AsyncIterator[None]:
        provider = target.provider
        key = in_flight_key(provider.id)
        if provider.max_in_flight is not None:
            verdict = await self.counters.claim([Claim(key, 1, provider.max_in_flight, IN_FLIGHT_TTL)])
            if not verdict.admitted:
                raise ProviderFull(provider.name)
        else:
            await self.counters.add(key, 1)
        if self.in_flight_observer is not None:
            self.in_flight_observer(provider.name, 1)
        try:
            yield
        finally:
            await self.counters.add(key, -1)
            if self.in_flight_observer is not None:
                self.in_flight_observer(provider.name, -1)
            if provider.max_in_flight is not None:
                self.queue.released(record.route.router.id)

    async def _queued(self, record: CallRecord, once: Callable[[], Awaitable[T]]) -> T:
        """``once`` (one pass over the providers) just found them all at capacity: waits in the router's queue
        for a turn, and tries again, until it gets an answer (or the wait times out)."""
        router = record.route.router
        waiter = self.queue.join(router.id, router.name, record.priority, router.max_queue_wait_seconds)
        try:
            while True:
                await self.queue.turn(waiter)
                try:
                    return await once()
                except AllFull:
                    continue
        finally:
            self.queue.leave(waiter)

    async def call(self, record: CallRecord, body: dict[str, Any], *, queued: bool = False) -> Answer:
        """The answer of the first provider that gives one. When every provider is at capacity the request waits
        in the router's queue (``queued``: it is its turn there, and a full pass raises ``AllFull``). One
        coroutine for the pass and the call: every frame between the request's task and the upstream costs on
        each of its wake-ups."""
        last: SwitchyardError | None = None
        full = False
        targets = record.route.targets
        for target, wire in self._attempts(record, targets if len(targets) == 1 else await self._order(record)):
            sent = upstream_body(body, target)
            invoke = getattr(wire, "invoke", None)
            if invoke is not None:  # an InProcessAdapter: served here, no HTTP
                try:
                    answer = await self._invoke(record, target, invoke, sent)
                except ProviderFull:
                    full = True
                    continue
                if answer is None:
                    last = record.error
                    continue
                return answer
            request = wire.build(record.operation, sent, target, stream=False)
            began = time.perf_counter()
            try:
                async with self._in_flight(record, target), self.pool.open(request, call_timeouts(target)) as response:
                    record.first_byte_seconds = time.perf_counter() - began
                    payload = await read_body(response)
                    status = response.status
                    content_type = response.content_type()
            except ProviderFull:
                full = True
                continue
            except SwitchyardError as exc:
                last = self._failed(target, exc, record)
                if not self._may_retry(record, exc):
                    raise
                continue
            finally:
                record.upstream_seconds += time.perf_counter() - began
            try:
                if status >= 400:
                    raise wire.error(status, payload)
                if record.operation in MEDIA_OPERATIONS and "json" not in content_type:
                    answer = Answer(body=payload, content_type=content_type or "application/octet-stream")
                else:
                    answer = wire.answer(record.operation, status, payload, target, sent)
            except SwitchyardError as exc:
                last = self._failed(target, exc, record)
                if not self._may_retry(record, exc):
                    raise
                continue
            return self._succeeded(record, target, answer, status)
        if not full:
            raise self._exhausted(record, last)
        if queued:
            raise AllFull
        return await self._queued(record, lambda: self.call(record, body, queued=True))

    async def _invoke(
        self,
        record: CallRecord,
        target: Target,
        invoke: Callable[[Operation, dict[str, Any], Target], Awaitable[Answer]],
        sent: dict[str, Any],
    ) -> Answer | None:
        """Calls an in-process adapter; None when it failed and the next provider may be tried."""
        began = time.perf_counter()
        try:
            async with self._in_flight(record, target):
                answer = await invoke(record.operation, sent, target)
        except ProviderFull:
            raise
        except SwitchyardError as exc:
            self._failed(target, exc, record)
            if not self._may_retry(record, exc):
                raise
            return None
        finally:
            record.upstream_seconds += time.perf_counter() - began
        record.first_byte_seconds = time.perf_counter() - began
        return self._succeeded(record, target, answer, 200)

    def _succeeded(self, record: CallRecord, target: Target, answer: Answer, status: int) -> Answer:
        record.usage = answer.usage
        record.error, record.status = None, status
        record.finished_at = time.perf_counter()
        self.finished(target, record, failed=False)
        return answer

    @staticmethod
    def _may_retry(record: CallRecord, exc: SwitchyardError) -> bool:
        """Whether to move on to the next provider: the error allows it and the router's ``retry_on`` names it."""
        if not exc.retryable:
            return False
        if exc.code == CONNECT_ERROR:
            kind = RetryOn.connect_error
        elif isinstance(exc, UpstreamTimeout):
            kind = RetryOn.timeout
        elif isinstance(exc, RateLimited):
            kind = RetryOn.rate_limited
        else:
            kind = RetryOn.server_error
        return kind in record.route.router.retry_on

    def _failed(self, target: Target, exc: SwitchyardError, record: CallRecord) -> SwitchyardError:
        record.error, record.status = exc, exc.status
        if exc.retryable and not isinstance(exc, RateLimited):
            self.breaker.failure(target.provider.id)
        log.info("provider %s failed (%s): %s", target.provider.name, exc.status, exc.message)
        return exc

    async def open_stream(
        self, record: CallRecord, body: dict[str, Any], *, include_usage: bool, queued: bool = False
    ) -> StreamingCall:
        """A stream committed to the first provider that sends its first chunk; queued as ``call`` is."""
        last: SwitchyardError | None = None
        full = False
        targets = record.route.targets
        for target, wire in self._attempts(record, targets if len(targets) == 1 else await self._order(record)):
            request = wire.build(record.operation, upstream_body(body, target), target, stream=True)
            stack = AsyncExitStack()
            began = time.perf_counter()
            try:
                in_flight = self._in_flight(record, target)
                if in_flight is not NOT_COUNTED:
                    await stack.enter_async_context(in_flight)
                response = await stack.enter_async_context(self.pool.open(request, call_timeouts(target)))
                if response.status >= 400:
                    raise wire.error(response.status, await read_body(response))
                first = await read_chunk(response)
                if not first:
                    raise UpstreamError("The upstream ended the stream before sending anything.")
            except ProviderFull:
                await stack.aclose()
                full = True
                continue
            except SwitchyardError as exc:
                await stack.aclose()
                last = self._failed(target, exc, record)
                if not self._may_retry(record, exc):
                    raise
                continue
            except BaseException:
                await stack.aclose()
                raise
            finally:
                record.upstream_seconds += time.perf_counter() - began
            record.first_token_at = time.perf_counter()
            record.first_byte_seconds = record.first_token_at - began
            record.error, record.status = None, 200
            translator = wire.stream(record.operation, target, include_usage=include_usage)
            return StreamingCall(self, record, stack, response, translator, first)
        if not full:
            raise self._exhausted(record, last)
        if queued:
            raise AllFull
        return await self._queued(
            record, lambda: self.open_stream(record, body, include_usage=include_usage, queued=True)
        )
