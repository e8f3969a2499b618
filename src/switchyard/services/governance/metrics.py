"""The gateway's Prometheus metrics, kept in memory for ``GET /metrics``.

Every finished request is observed once (``observe``, called by the governor after the answer went out) into
counters and histograms labelled ``router``, ``provider``, ``endpoint`` and ``status``. The figures of one label
set live in one small object found by a dict lookup; an observation is a few additions and a bisection per
histogram, with no locks, as every update comes from the event loop's thread (~2 µs, against ~10 µs with
``prometheus_client``'s own metric classes, which take a lock per increment, and ~30 µs calling ``.labels()``
each time). A scrape reads them through a collector of this object's own ``CollectorRegistry`` (not
``prometheus_client``'s global one, so that several apps in one process do not clash), possibly from a worker
thread: it copies each dict whole (one step under the GIL), and a histogram read while it is updated is at
most an observation off.

In-flight requests (per provider) and queue lengths (per router) are plain dicts that the gateway and its QoS
code update; they are exposed as gauges, and their recent history (the last value of each second in which they
changed) is kept for the metrics query API. The usage writer's figures are read through callbacks when scraped.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from switchyard.domain.governance import UsageRecord

LABELS = ("router", "provider", "endpoint", "status")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
TPOT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
OVERHEAD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)
"""The gateway's own time per request, 0.05 ms to 50 ms."""
HISTORY_SECONDS = 3600
"""How many seconds of in-flight and queue-length history are kept (one value per second that changed)."""

Clock = Callable[[], float]
LabelKey = tuple[str, str, str, int]


def time_per_output_token_ms(latency_ms: float, ttft_ms: float | None, completion_tokens: int) -> float | None:
    """Time per output token: for a stream with 2+ tokens, the time after the first token over the tokens after
    it; otherwise the whole latency over the tokens. None without output tokens."""
    if completion_tokens <= 0:
        return None
    if ttft_ms is not None and completion_tokens >= 2:
        return max(0.0, latency_ms - ttft_ms) / (completion_tokens - 1)
    return latency_ms / completion_tokens


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        """Per bucket, not cumulative; the last one is +Inf."""
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        buckets, running = [], 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == math.inf else repr(bound), float(running)))
        return buckets


class _Series:
    """The figures of one label set."""

    __slots__ = ("requests", "input_tokens", "output_tokens", "latency", "ttft", "tpot", "overhead")

    def __init__(self) -> None:
        self.requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.latency = _Histogram(LATENCY_BUCKETS)
        self.ttft = _Histogram(TTFT_BUCKETS)
        self.tpot = _Histogram(TPOT_BUCKETS)
        self.overhead = _Histogram(OVERHEAD_BUCKETS)


class GaugeHistory:
    """The last value of a gauge in each second it changed, per label value, for the last ``seconds`` seconds."""

    def __init__(self, clock: Clock, seconds: int = HISTORY_SECONDS) -> None:
        self._clock = clock
        self._seconds = seconds
        self._slots: dict[str, deque[tuple[int, int]]] = {}
        self.started = clock()

    def note(self, key: str, value: int) -> None:
        second = int(self._clock())
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = deque(maxlen=self._seconds)
        if slots and slots[-1][0] == second:
            slots[-1] = (second, value)
        else:
            slots.append((second, value))

    def keys(self) -> list[str]:
        return list(self._slots)

    def now(self) -> float:
        return self._clock()

    def values_at(self, key: str, instants: Sequence[float]) -> list[int | None]:
        """The gauge's value at each instant (ascending): the last value noted before it, the current value
        from now on. None where that is not known: before this process started, or before the oldest second
        kept once the history is full."""
        now = self._clock()
        slots = self._slots.get(key, deque())
        evicted = len(slots) == slots.maxlen
        oldest = slots[0][0] if slots else 0
        values: list[int | None] = []
        index, current = 0, 0
        for instant in instants:
            if instant < self.started or (evicted and instant <= oldest):
                values.append(None)
                continue
            while index < len(slots) and (slots[index][0] < instant or instant >= now):
                current = slots[index][1]
                index += 1
            values.append(current)
        return values


class _Exposition(Collector):
    """Builds the metric families from a ``GatewayMetrics`` when scraped."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self._metrics
        requests = CounterMetricFamily("switchyard_requests", "Finished inference requests.", labels=LABELS)
        errors = CounterMetricFamily(
            "switchyard_request_errors", "Finished inference requests with a status of 400 or more.", labels=LABELS
        )
        tokens_in = CounterMetricFamily("switchyard_input_tokens", "Prompt tokens of finished requests.", labels=LABELS)
        tokens_out = CounterMetricFamily(
            "switchyard_output_tokens", "Generated tokens of finished requests.", labels=LABELS
        )
        latency = HistogramMetricFamily(
            "switchyard_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            labels=LABELS,
        )
        ttft = HistogramMetricFamily(
            "switchyard_time_to_first_token_seconds",
            "Time from a streamed request's arrival to its first chunk.",
            labels=LABELS,
        )
        tpot = HistogramMetricFamily(
            "switchyard_time_per_output_token_seconds",
            "Time per generated token (after the first one, for streams).",
            labels=LABELS,
        )
        overhead = HistogramMetricFamily(
            "switchyard_gateway_overhead_seconds",
            "Time the gateway itself spent on a request: everything but waiting on providers.",
            labels=LABELS,
        )
        for (router, provider, endpoint, status), series in list(m.series.items()):
            labels = [router, provider, endpoint, str(status)]
            requests.add_metric(labels, series.requests)
            if status >= 400:
                errors.add_metric(labels, series.requests)
            tokens_in.add_metric(labels, series.input_tokens)
            tokens_out.add_metric(labels, series.output_tokens)
            for family, histogram in ((latency, series.latency), (overhead, series.overhead)):
                family.add_metric(labels, histogram.cumulative(), histogram.total)
            for family, histogram in ((ttft, series.ttft), (tpot, series.tpot)):
                if histogram.count:
                    family.add_metric(labels, histogram.cumulative(), histogram.total)
        yield from (requests, errors, tokens_in, tokens_out, latency, ttft, tpot, overhead)
        yield from self._live()

    def _live(self) -> Iterable[Metric]:
        m = self._metrics
        in_flight = GaugeMetricFamily(
            "switchyard_requests_in_flight", "Requests waiting on a provider's answer.", labels=["provider"]
        )
        for provider, value in m.running().items():
            in_flight.add_metric([provider], value)
        queued = GaugeMetricFamily(
            "switchyard_queue_length", "Requests waiting in a router's queue.", labels=["router"]
        )
        for router, value in m.waiting().items():
            queued.add_metric([router], value)
        yield from (in_flight, queued)
        if m.usage_writer_watch is not None:
            written, dropped, waiting = m.usage_writer_watch
            yield CounterMetricFamily(
                "switchyard_usage_records_written", "Usage records written to the store.", value=written()
            )
            yield CounterMetricFamily(
                "switchyard_usage_records_dropped",
                "Usage records dropped because the store could not keep up (or was down).",
                value=dropped(),
            )
            yield GaugeMetricFamily(
                "switchyard_usage_records_queued", "Usage records waiting to be written.", value=waiting()
            )


class GatewayMetrics:
    """Updated from the event loop's thread only; ``exposition`` may run in another."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.series: dict[LabelKey, _Series] = {}
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self.running_history = GaugeHistory(clock)
        self.waiting_history = GaugeHistory(clock)
        self.usage_writer_watch: tuple[Callable[[], int], Callable[[], int], Callable[[], int]] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Exposition(self))

    def observe(self, record: UsageRecord, overhead_ms: float) -> None:
        """Counts one finished request (called once per request, after its answer was sent)."""
        key = (record.router, record.provider or "", record.endpoint, record.status)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series()
        series.requests += 1
        series.input_tokens += record.prompt_tokens
        series.output_tokens += record.completion_tokens
        series.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            series.ttft.observe(record.ttft_ms / 1000)
        tpot = time_per_output_token_ms(record.latency_ms, record.ttft_ms, record.completion_tokens)
        if tpot is not None:
            series.tpot.observe(tpot / 1000)
        series.overhead.observe(overhead_ms / 1000)

    def in_flight(self, provider: str, delta: int) -> None:
        """A request started (+1) or stopped (-1) waiting on ``provider``."""
        value = self._running.get(provider, 0) + delta
        self._running[provider] = value
        self.running_history.note(provider, value)

    def queue_length(self, router: str, value: int) -> None:
        """``router``'s queue now holds ``value`` requests."""
        self._waiting[router] = value
        self.waiting_history.note(router, value)

    def running(self) -> dict[str, int]:
        """Requests in flight now, per provider."""
        return dict(self._running)

    def waiting(self) -> dict[str, int]:
        """Requests queued now, per router."""
        return dict(self._waiting)

    def watch_usage_writer(
        self, written: Callable[[], int], dropped: Callable[[], int], queued: Callable[[], int]
    ) -> None:
        """Exposes the usage writer's records written, dropped and waiting, read when scraped."""
        self.usage_writer_watch = (written, dropped, queued)

    def exposition(self) -> tuple[bytes, str]:
        """The body and content type of ``GET /metrics`` (Prometheus text format 0.0.4)."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
