"""The metrics query service against real usage records, on SQLite and PostgreSQL; figures computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from switchyard.errors import ValidationFailed
from switchyard.services.governance.metrics import GatewayMetrics
from switchyard.services.metrics_query import MetricName, MetricQuery, MetricResult, OutputType, query_metrics
from switchyard.services.platform import Platform
from switchyard.store.tables import UsageRecordRow

BASE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TABLE = OutputType.table


def record(at: datetime, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": f"r-{at.timestamp()}",
        "created_at": at,
        "user_id": 1,
        "key_id": 1,
        "organization_id": None,
        "router": "chat",
        "provider": "p1",
        "endpoint": "chat.completions",
        "status": 200,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cached_tokens": 0,
        "cost": 0.0,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "kwh": None,
        "kgco2eq": None,
    }
    return row | fields


async def insert_records(platform: Platform, *rows: dict[str, Any]) -> None:
    async with platform.sessions.begin() as session:
        await session.execute(insert(UsageRecordRow), list(rows))


async def run(platform: Platform, metric: MetricName, **fields: Any) -> MetricResult:
    fields.setdefault("start", BASE)
    fields.setdefault("end", BASE + timedelta(hours=1))
    return await query_metrics(platform, MetricQuery(metric, **fields))


def table(result: MetricResult) -> dict[tuple[Any, ...], float | None]:
    return {tuple(row.group.values()): row.value for row in result.rows}


def points(result: MetricResult, index: int = 0) -> list[float | None]:
    return [point.value for point in result.series[index].points]


async def test_latency_average_and_percentiles_per_router(platform: Platform) -> None:
    at = BASE + timedelta(minutes=1)
    await insert_records(
        platform,
        *(record(at, router="a", latency_ms=ms) for ms in (400.0, 100.0, 300.0, 200.0)),
        record(at, router="b", latency_ms=1000.0),
        record(at, router="a", provider=None, status=429, latency_ms=0.0),  # refused: no provider reached
        record(BASE - timedelta(microseconds=1), router="a", latency_ms=9999.0),  # before the range
        record(BASE + timedelta(hours=1), router="a", latency_ms=9999.0),  # end is excluded
    )
    expected = {
        MetricName.request_latency_average: (250.0, 1000.0),
        MetricName.request_latency_p50: (250.0, 1000.0),  # between 200 and 300
        MetricName.request_latency_p95: (385.0, 1000.0),  # position 2.85: 300 + 0.85 * 100
        MetricName.request_latency_p99: (397.0, 1000.0),
    }
    for metric, (a, b) in expected.items():
        result = await run(platform, metric, output=TABLE, group_by=["router"])
        assert result.unit == "ms"
        assert table(result) == pytest.approx({("b",): b, ("a",): a}), metric
        assert [row.group for row in result.rows] == [{"router": "b"}, {"router": "a"}]  # highest first
        ungrouped = await run(platform, metric, output=TABLE, filters={"router": ["a"]})
        assert table(ungrouped) == pytest.approx({(): a})
    count = await run(platform, MetricName.request_count, output=TABLE, group_by=["router"])
    assert table(count) == {("a",): 5, ("b",): 1}  # the refusal counts as a request


async def test_timeseries_buckets_are_start_aligned_and_exact(platform: Platform) -> None:
    await insert_records(
        platform,
        record(BASE),
        record(BASE + timedelta(seconds=59, microseconds=999_999)),
        record(BASE + timedelta(seconds=60)),
        record(BASE + timedelta(seconds=149, microseconds=500_000), status=502),
        record(BASE + timedelta(seconds=150)),
    )
    end = BASE + timedelta(seconds=150)
    count = await run(platform, MetricName.request_count, end=end, step=60)
    assert count.step == 60
    assert [p.timestamp for p in count.series[0].points] == [BASE + timedelta(seconds=s) for s in (0, 60, 120)]
    assert points(count) == [2, 1, 1]
    throughput = await run(platform, MetricName.request_throughput, end=end, step=60)
    assert points(throughput) == pytest.approx([2 / 60, 1 / 60, 1 / 30])  # the last step is 30 s long
    errors = await run(platform, MetricName.error_count, end=end, step=60)
    assert points(errors) == [0, 0, 1]
    average = await run(platform, MetricName.request_latency_average, end=end, step=30)
    assert points(average) == [100.0, 100.0, 100.0, None, 100.0]  # nothing to average from 90 to 120 s
    assert (await run(platform, MetricName.request_count, output=TABLE, end=end)).rows[0].value == 4


async def test_time_to_first_token_and_time_per_output_token(platform: Platform) -> None:
    at = BASE + timedelta(seconds=5)
    await insert_records(
        platform,
        record(at, latency_ms=1000.0, ttft_ms=200.0, completion_tokens=5),  # stream: 800 ms / 4 tokens = 200
        record(at, latency_ms=500.0, completion_tokens=10),  # whole answer: 500 ms / 10 tokens = 50
        record(at, latency_ms=300.0, ttft_ms=300.0, completion_tokens=1),  # one streamed token: 300
        record(at, latency_ms=90.0),  # no tokens: no TPOT
    )
    ttft = await run(platform, MetricName.ttft_average, output=TABLE)
    assert table(ttft) == pytest.approx({(): 250.0})
    assert table(await run(platform, MetricName.tpot_average, output=TABLE)) == pytest.approx({(): 550 / 3})
    assert table(await run(platform, MetricName.tpot_p50, output=TABLE)) == pytest.approx({(): 200.0})
    assert table(await run(platform, MetricName.tpot_p99, output=TABLE)) == pytest.approx({(): 200 + 0.98 * 100})


async def test_percentiles_per_step_and_group(platform: Platform) -> None:
    rows = [record(BASE + timedelta(seconds=10), provider="p1", latency_ms=float(ms)) for ms in range(1, 102)]
    rows += [record(BASE + timedelta(seconds=70), provider="p1", latency_ms=7.0)]
    rows += [record(BASE + timedelta(seconds=70), provider="p2", latency_ms=ms) for ms in (10.0, 20.0)]
    await insert_records(platform, *rows)
    result = await run(
        platform, MetricName.request_latency_p95, end=BASE + timedelta(minutes=2), step=60, group_by=["provider"]
    )
    assert [s.group for s in result.series] == [{"provider": "p1"}, {"provider": "p2"}]  # busiest first
    assert points(result, 0) == pytest.approx([96.0, 7.0])  # 1..101: position 95 → 96
    assert points(result, 1) == pytest.approx([None, 19.5])


async def test_tokens_cost_energy_and_carbon(platform: Platform) -> None:
    at = BASE + timedelta(seconds=1)
    await insert_records(
        platform,
        record(at, prompt_tokens=10, completion_tokens=30, cost=0.5, kwh=0.001, kgco2eq=0.0002),
        record(at, prompt_tokens=5, completion_tokens=20, cost=0.25, kwh=None, kgco2eq=None),
    )
    expected = {
        MetricName.input_token_count: 15,
        MetricName.output_token_count: 50,
        MetricName.output_token_throughput: 50 / 3600,
        MetricName.cost: 0.75,
        MetricName.energy: 0.001,
        MetricName.carbon: 0.0002,
    }
    for metric, value in expected.items():
        assert table(await run(platform, metric, output=TABLE)) == pytest.approx({(): value}), metric


async def test_filters_and_groups(platform: Platform) -> None:
    at = BASE + timedelta(seconds=1)
    await insert_records(
        platform,
        record(at, user_id=1, status=200),
        record(at, user_id=1, status=503),
        record(at, user_id=2, status=504, organization_id=7),
        record(at, user_id=2, status=404, organization_id=7),
    )
    count = MetricName.request_count
    assert table(await run(platform, count, output=TABLE, filters={"status": ["5xx"]})) == {(): 2}
    assert table(await run(platform, count, output=TABLE, filters={"status": [404, "2xx"]})) == {(): 2}
    assert table(await run(platform, count, output=TABLE, filters={"user_id": ["2"], "status": ["5xx"]})) == {(): 1}
    grouped = await run(platform, count, output=TABLE, group_by=["organization_id", "status"])
    assert table(grouped) == {(None, 200): 1, (None, 503): 1, (7, 504): 1, (7, 404): 1}
    limited = await run(platform, count, output=TABLE, group_by=["user_id"], limit=1)
    assert limited.truncated and len(limited.rows) == 1
    assert table(await run(platform, count, output=TABLE, filters={"router": ["nothing"]})) == {(): 0}
    empty = await run(platform, MetricName.request_latency_p50, output=TABLE, filters={"router": ["nothing"]})
    assert table(empty) == {(): None}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"filters": {"model": ["x"]}}, "filters.model"),
        ({"group_by": ["router", "model"]}, "group_by"),
        ({"filters": {"user_id": ["me"]}}, "filters.user_id"),
        ({"filters": {"status": ["6xx"]}}, "filters.status"),
        ({"filters": {"router": []}}, "filters.router"),
        ({"end": BASE}, "end"),
        ({"step": 0}, "step"),
        ({"end": BASE + timedelta(days=1), "step": 1}, "step"),
    ],
)
async def test_bad_queries_name_the_field(platform: Platform, fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await run(platform, MetricName.request_count, **fields)
    assert caught.value.param == param


async def test_live_gauges_now_and_over_time(platform: Platform) -> None:
    clock = FakeClock(BASE.timestamp())
    platform.metrics = GatewayMetrics(clock=clock)
    metrics = platform.metrics
    clock.now += 10
    metrics.in_flight("p1", 1)
    metrics.in_flight("p2", 1)
    clock.now += 60
    metrics.in_flight("p1", 1)
    clock.now += 0.5
    metrics.in_flight("p2", -1)
    metrics.queue_length("chat", 4)
    clock.now += 59.5  # now: BASE + 130 s
    running = MetricName.requests_running
    now = table(await run(platform, running, output=TABLE, group_by=["provider"], end=BASE + timedelta(seconds=130)))
    assert now == {("p1",): 2, ("p2",): 0}
    series = await run(platform, running, end=BASE + timedelta(minutes=4), step=60)
    assert points(series) == [2, 2, 2, None]  # at 60 s: p1 1 + p2 1; at 120 s: p1 2; at 130 s (now): 2; future
    before = await run(platform, running, start=BASE - timedelta(minutes=2), end=BASE - timedelta(minutes=1), step=60)
    assert points(before) == [None]  # before this process started
    waiting = MetricName.requests_waiting
    assert table(await run(platform, waiting, output=TABLE, end=BASE + timedelta(seconds=130))) == {(): 4}
    with pytest.raises(ValidationFailed) as caught:
        await run(platform, waiting, group_by=["provider"])
    assert caught.value.param == "group_by"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
