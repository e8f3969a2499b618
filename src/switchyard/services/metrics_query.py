"""The metrics query API: figures over time (``timeseries``) or per group (``table``).

Request metrics are aggregated from the usage records in the database (``usage_aggregates.py``). A timeseries
has ``step``-second buckets from ``start`` to ``end`` (``[start, end)``; the last bucket may be shorter).

``numRequestsRunning`` (per provider) and ``numRequestsWaiting`` (per router) are this process's live gauges: a
table gives their value at ``end`` (now by default), a timeseries their value at the end of each bucket, from the
last hour of history kept in memory (``GatewayMetrics``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from switchyard.errors import ValidationFailed
from switchyard.services.platform import Platform
from switchyard.services.usage_aggregates import FIELDS, Aggregation, FilterValue, aggregate

MAX_POINTS = 11_000
"""Points per series (Prometheus' own limit)."""
MAX_CELLS = 200_000
"""Points in one answer: a timeseries keeps the busiest groups that fit."""
DEFAULT_RANGE = timedelta(hours=1)
TARGET_POINTS = 120
"""Without ``step``: the smallest of ``NICE_STEPS`` that gives at most this many points."""
NICE_STEPS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


class MetricName(StrEnum):
    request_latency_average = "requestLatencyAverage"
    request_latency_p50 = "requestLatencyPercentile50"
    request_latency_p95 = "requestLatencyPercentile95"
    request_latency_p99 = "requestLatencyPercentile99"
    ttft_average = "timeToFirstTokenAverage"
    ttft_p50 = "timeToFirstTokenPercentile50"
    ttft_p95 = "timeToFirstTokenPercentile95"
    ttft_p99 = "timeToFirstTokenPercentile99"
    tpot_average = "timePerOutputTokenAverage"
    tpot_p50 = "timePerOutputTokenPercentile50"
    tpot_p95 = "timePerOutputTokenPercentile95"
    tpot_p99 = "timePerOutputTokenPercentile99"
    request_count = "requestCount"
    error_count = "errorCount"
    request_throughput = "requestThroughput"
    input_token_count = "inputTokenCount"
    output_token_count = "outputTokenCount"
    output_token_throughput = "outputTokenThroughput"
    cost = "cost"
    energy = "energyKwh"
    carbon = "carbonKgCo2eq"
    requests_running = "numRequestsRunning"
    requests_waiting = "numRequestsWaiting"


class OutputType(StrEnum):
    timeseries = "timeseries"
    table = "table"


class Aggregate(StrEnum):
    average = "average"
    percentile = "percentile"
    total = "total"
    rate = "rate"
    """A total per second of the bucket."""
    gauge = "gauge"


@dataclass(frozen=True, slots=True)
class Metric:
    aggregate: Aggregate
    value: str
    """What is aggregated: a key of ``usage_aggregates.VALUES``, or the gauge's dimension."""
    unit: str
    percentile: float | None = None


def _family(prefix: MetricName, value: str) -> dict[MetricName, Metric]:
    names = list(MetricName)
    start = names.index(prefix)
    average, p50, p95, p99 = names[start : start + 4]
    return {
        average: Metric(Aggregate.average, value, "ms"),
        p50: Metric(Aggregate.percentile, value, "ms", 0.5),
        p95: Metric(Aggregate.percentile, value, "ms", 0.95),
        p99: Metric(Aggregate.percentile, value, "ms", 0.99),
    }


METRICS: dict[MetricName, Metric] = {
    **_family(MetricName.request_latency_average, "latency"),
    **_family(MetricName.ttft_average, "ttft"),
    **_family(MetricName.tpot_average, "tpot"),
    MetricName.request_count: Metric(Aggregate.total, "requests", "requests"),
    MetricName.error_count: Metric(Aggregate.total, "errors", "requests"),
    MetricName.request_throughput: Metric(Aggregate.rate, "requests", "requests/s"),
    MetricName.input_token_count: Metric(Aggregate.total, "input_tokens", "tokens"),
    MetricName.output_token_count: Metric(Aggregate.total, "output_tokens", "tokens"),
    MetricName.output_token_throughput: Metric(Aggregate.rate, "output_tokens", "tokens/s"),
    MetricName.cost: Metric(Aggregate.total, "cost", "currency"),
    MetricName.energy: Metric(Aggregate.total, "kwh", "kWh"),
    MetricName.carbon: Metric(Aggregate.total, "kgco2eq", "kgCO2eq"),
    MetricName.requests_running: Metric(Aggregate.gauge, "provider", "requests"),
    MetricName.requests_waiting: Metric(Aggregate.gauge, "router", "requests"),
}

Group = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    metric: MetricName
    output: OutputType = OutputType.timeseries
    start: datetime | None = None
    """Default: ``end`` minus an hour."""
    end: datetime | None = None
    """Default: now."""
    step: int | None = None
    """Seconds per timeseries point. Default: the smallest round step giving at most 120 points."""
    filters: Mapping[str, Sequence[FilterValue]] = field(default_factory=dict)
    group_by: Sequence[str] = ()
    limit: int = 100
    """Groups answered at most."""
    descending: bool = True
    """Table rows by value, timeseries by their requests in the range."""


@dataclass(frozen=True, slots=True)
class Point:
    timestamp: datetime
    value: float | None


@dataclass(frozen=True, slots=True)
class Series:
    group: dict[str, Any]
    points: list[Point]


@dataclass(frozen=True, slots=True)
class Row:
    group: dict[str, Any]
    value: float | None


@dataclass(frozen=True, slots=True)
class MetricResult:
    metric: MetricName
    output: OutputType
    unit: str
    start: datetime
    end: datetime
    step: int | None
    group_by: tuple[str, ...]
    series: list[Series]
    rows: list[Row]
    truncated: bool
    """More groups matched than the answer holds."""


@dataclass(frozen=True, slots=True)
class _Plan:
    query: MetricQuery
    metric: Metric
    start: datetime
    end: datetime
    step: float
    """Seconds per bucket; the whole range for a table."""
    buckets: int
    group_by: tuple[str, ...]

    def bucket_start(self, index: int) -> datetime:
        return self.start + timedelta(seconds=self.step * index)

    def bucket_seconds(self, index: int) -> float:
        return min(self.step, (self.end - self.bucket_start(index)).total_seconds())


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _plan(query: MetricQuery, now: datetime) -> _Plan:
    start, end = _aware(query.start), _aware(query.end)
    end = end or (start + DEFAULT_RANGE if start is not None and start >= now else now)
    start = start or end - DEFAULT_RANGE
    span = (end - start).total_seconds()
    if span <= 0:
        raise ValidationFailed("'end' must be after 'start'.", param="end")
    if query.step is not None and query.step <= 0:
        raise ValidationFailed("'step' must be a positive number of seconds.", param="step")
    if query.limit < 1:
        raise ValidationFailed("'limit' must be at least 1.", param="limit")
    group_by = tuple(dict.fromkeys(query.group_by))
    for name in (*query.filters, *group_by):
        if name not in FIELDS:
            param = f"filters.{name}" if name in query.filters else "group_by"
            raise ValidationFailed(f"Unknown field '{name}'; use one of: {', '.join(FIELDS)}.", param=param)
    if query.output is OutputType.table:
        return _Plan(query, METRICS[query.metric], start, end, span, 1, group_by)
    step = query.step or next((s for s in NICE_STEPS if span / s <= TARGET_POINTS), math.ceil(span / TARGET_POINTS))
    buckets = math.ceil(span / step)
    if buckets > MAX_POINTS:
        raise ValidationFailed(
            f"From 'start' to 'end' in steps of {step} s makes {buckets} points; at most {MAX_POINTS}: "
            "raise 'step' or narrow the range.",
            param="step",
        )
    return _Plan(query, METRICS[query.metric], start, end, float(step), buckets, group_by)


async def query_metrics(platform: Platform, query: MetricQuery) -> MetricResult:
    now = datetime.now(UTC)
    plan = _plan(query, now)
    if plan.metric.aggregate is Aggregate.gauge:
        cells = _gauge_cells(platform, plan)
    else:
        cells = await _record_cells(platform, plan)
    return _shape(plan, cells)


Cells = dict[Group, dict[int, tuple[float, float | None]]]
"""Per group, per bucket: (weight for ranking, value)."""


async def _record_cells(platform: Platform, plan: _Plan) -> Cells:
    bucketed = plan.query.output is OutputType.timeseries
    kind = plan.metric.aggregate
    job = Aggregation(
        value=plan.metric.value,
        function={Aggregate.average: "avg", Aggregate.percentile: "percentile"}.get(kind, "sum"),
        start=plan.start,
        end=plan.end,
        step=int(plan.step) if bucketed else None,
        filters=plan.query.filters,
        group_by=plan.group_by,
        percentile=plan.metric.percentile,
    )
    cells: Cells = {}
    for key, count, value in await aggregate(platform, job):
        bucket, group = (min(max(int(key[0]), 0), plan.buckets - 1), key[1:]) if bucketed else (0, key)
        if kind in (Aggregate.total, Aggregate.rate):
            value = float(value or 0) / (plan.bucket_seconds(bucket) if kind is Aggregate.rate else 1)
        cells.setdefault(group, {})[bucket] = (float(count), None if value is None else float(value))
    return cells


def _gauge_cells(platform: Platform, plan: _Plan) -> Cells:
    dimension = plan.metric.value
    for name in plan.query.filters:
        if name != dimension:
            raise ValidationFailed(
                f"{plan.query.metric.value} is kept per {dimension} only: filter by {dimension}.",
                param=f"filters.{name}",
            )
    if any(name != dimension for name in plan.group_by):
        raise ValidationFailed(
            f"{plan.query.metric.value} is kept per {dimension} only: group by {dimension}.", param="group_by"
        )
    metrics = platform.metrics
    history = metrics.running_history if dimension == "provider" else metrics.waiting_history
    wanted = {str(v) for v in plan.query.filters.get(dimension, ())}
    keys = [key for key in history.keys() if not wanted or key in wanted]
    moment = history.now()
    starts = [plan.bucket_start(i).timestamp() for i in range(plan.buckets)]
    ends = [min(plan.bucket_start(i + 1).timestamp(), plan.end.timestamp(), moment) for i in range(plan.buckets)]
    known = [i for i in range(plan.buckets) if starts[i] <= moment]
    instants = [ends[i] for i in known]
    cells: Cells = {}
    grouped = bool(plan.group_by)
    for key in keys:
        group: Group = (key,) if grouped else ()
        target = cells.setdefault(group, {})
        for i, value in zip(known, history.values_at(key, instants), strict=True):
            if value is None:
                continue
            weight, total = target.get(i, (0.0, 0.0))
            target[i] = (weight + value, (total or 0.0) + value)
    if not grouped and not keys:
        cells[()] = {i: (0.0, 0.0) for i, t in zip(known, instants, strict=True) if t >= history.started}
    return cells


def _shape(plan: _Plan, cells: Cells) -> MetricResult:
    query, kind = plan.query, plan.metric.aggregate
    empty = 0.0 if kind in (Aggregate.total, Aggregate.rate) else None
    if not plan.group_by and not cells:
        cells = {(): {}}
    timeseries = query.output is OutputType.timeseries
    limit = min(query.limit, max(1, MAX_CELLS // plan.buckets)) if timeseries else query.limit

    def label(group: Group) -> tuple[tuple[bool, str], ...]:
        return tuple((value is None, str(value)) for value in group)

    def group_dict(group: Group) -> dict[str, Any]:
        return dict(zip(plan.group_by, group, strict=True))

    if timeseries:
        ranked = sorted(cells, key=label)
        ranked.sort(key=lambda g: sum(w for w, _ in cells[g].values()), reverse=query.descending)
        series = [
            Series(
                group_dict(group),
                [
                    Point(plan.bucket_start(i), cells[group][i][1] if i in cells[group] else empty)
                    for i in range(plan.buckets)
                ],
            )
            for group in ranked[:limit]
        ]
        return _result(plan, series, [], len(ranked) > limit)
    values = {group: cells[group][0][1] if 0 in cells[group] else empty for group in cells}
    ordered = sorted(values, key=label)
    known = [g for g in ordered if values[g] is not None]
    known.sort(key=lambda g: values[g] or 0.0, reverse=query.descending)
    ordered = known + [g for g in ordered if values[g] is None]
    rows = [Row(group_dict(group), values[group]) for group in ordered[:limit]]
    return _result(plan, [], rows, len(ordered) > limit)


def _result(plan: _Plan, series: list[Series], rows: list[Row], truncated: bool) -> MetricResult:
    timeseries = plan.query.output is OutputType.timeseries
    return MetricResult(
        metric=plan.query.metric,
        output=plan.query.output,
        unit=plan.metric.unit,
        start=plan.start,
        end=plan.end,
        step=int(plan.step) if timeseries else None,
        group_by=plan.group_by,
        series=series,
        rows=rows,
        truncated=truncated,
    )
