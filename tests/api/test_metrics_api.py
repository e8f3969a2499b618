"""`GET /metrics` (Prometheus) and `POST /api/v1/metrics/query` over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from switchyard.api.app import create_app
from switchyard.domain.governance import UsageRecord
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import UsageRecordRow
from tests.api.route_table import assert_error_shape
from tests.conftest import CallerFactory

BASE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
QUERY = "/api/v1/metrics/query"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def usage(**fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": "r",
        "created_at": BASE,
        "user_id": 1,
        "key_id": 1,
        "organization_id": None,
        "router": "chat",
        "provider": "p1",
        "endpoint": "chat.completions",
        "status": 200,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "cost": 0.0,
        "latency_ms": 1000.0,
        "ttft_ms": None,
        "kwh": None,
        "kgco2eq": None,
    }
    return UsageRecord(**(values | fields))


def scrape(text: str) -> Samples:
    """Every sample of the exposition, keyed by name and sorted labels (the text must parse)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(status: int = 200, provider: str = "p1", **extra: str) -> tuple[tuple[str, str], ...]:
    values = {"router": "chat", "provider": provider, "endpoint": "chat.completions", "status": str(status)}
    return tuple(sorted((values | extra).items()))


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_prometheus_exposition_after_observations(client: httpx.AsyncClient, app: FastAPI) -> None:
    metrics = app.state.platform.metrics
    metrics.observe(usage(latency_ms=1000.0, ttft_ms=200.0, completion_tokens=5), 0.3)  # TPOT 0.2 s
    metrics.observe(usage(latency_ms=40.0, prompt_tokens=7, completion_tokens=0), 0.07)
    metrics.observe(usage(status=502, latency_ms=3000.0, prompt_tokens=0, completion_tokens=0), 1.5)
    metrics.observe(usage(provider=None, status=429, latency_ms=0.0, prompt_tokens=0, completion_tokens=0), 0.0)
    metrics.in_flight("p1", 1)
    metrics.in_flight("p1", 1)
    metrics.in_flight("p2", 1)
    metrics.in_flight("p1", -1)
    metrics.queue_length("chat", 3)
    metrics.watch_usage_writer(lambda: 40, lambda: 2, lambda: 5)

    answer = await client.get("/metrics")  # public: no key
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = scrape(answer.text)
    ok, failed, refused = labels(), labels(502), labels(429, provider="")
    assert samples[("switchyard_requests_total", ok)] == 2
    assert samples[("switchyard_requests_total", failed)] == 1
    assert samples[("switchyard_requests_total", refused)] == 1
    assert ("switchyard_request_errors_total", ok) not in samples
    assert samples[("switchyard_request_errors_total", failed)] == 1
    assert samples[("switchyard_input_tokens_total", ok)] == 17
    assert samples[("switchyard_output_tokens_total", ok)] == 5
    assert samples[("switchyard_request_duration_seconds_count", ok)] == 2
    assert samples[("switchyard_request_duration_seconds_sum", ok)] == pytest.approx(1.04)
    assert samples[("switchyard_request_duration_seconds_bucket", labels(le="0.05"))] == 1
    assert samples[("switchyard_request_duration_seconds_bucket", labels(le="1.0"))] == 2
    assert samples[("switchyard_request_duration_seconds_bucket", labels(502, le="+Inf"))] == 1
    assert samples[("switchyard_time_to_first_token_seconds_sum", ok)] == pytest.approx(0.2)
    assert ("switchyard_time_to_first_token_seconds_count", failed) not in samples
    assert samples[("switchyard_time_per_output_token_seconds_sum", ok)] == pytest.approx(0.2)
    assert samples[("switchyard_gateway_overhead_seconds_bucket", labels(le="5e-05"))] == 0
    assert samples[("switchyard_gateway_overhead_seconds_bucket", labels(le="0.0001"))] == 1  # 0.07 ms
    assert samples[("switchyard_gateway_overhead_seconds_bucket", labels(le="0.0005"))] == 2  # and 0.3 ms
    assert samples[("switchyard_gateway_overhead_seconds_sum", failed)] == pytest.approx(0.0015)
    assert samples[("switchyard_requests_in_flight", (("provider", "p1"),))] == 1
    assert samples[("switchyard_requests_in_flight", (("provider", "p2"),))] == 1
    assert samples[("switchyard_queue_length", (("router", "chat"),))] == 3
    assert samples[("switchyard_usage_records_written_total", ())] == 40
    assert samples[("switchyard_usage_records_dropped_total", ())] == 2
    assert samples[("switchyard_usage_records_queued", ())] == 5


@pytest.fixture
async def keyed_client(settings: Settings, platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"metrics_require_key": True}), platform)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_metrics_can_require_a_key(keyed_client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    assert_error_shape(await keyed_client.get("/metrics"), "no key")
    assert (await keyed_client.get("/metrics")).status_code == 401
    reader = CallerFactory(keyed_client, admin_headers)
    assert (await keyed_client.get("/metrics", headers=(await reader("read_usage"))["headers"])).status_code == 403
    answer = await keyed_client.get("/metrics", headers=(await reader("read_metrics"))["headers"])
    assert answer.status_code == 200 and "switchyard_queue_length" in answer.text


async def test_query_timeseries_and_table(
    client: httpx.AsyncClient, platform: Platform, new_caller: CallerFactory
) -> None:
    rows = [
        asdict(usage(created_at=BASE + timedelta(seconds=s), router=r, latency_ms=ms))
        for s, r, ms in ((1, "a", 100.0), (2, "a", 300.0), (61, "a", 50.0), (62, "b", 10.0))
    ]
    async with platform.sessions.begin() as session:
        await session.execute(insert(UsageRecordRow), rows)
    reader = (await new_caller("read_metrics"))["headers"]
    body = {
        "metric_name": "requestLatencyAverage",
        "start": BASE.isoformat(),
        "end": int((BASE + timedelta(minutes=2)).timestamp()),  # Unix seconds work too
        "step": 60,
        "group_by": ["router"],
    }
    answer = await client.post(QUERY, json=body, headers=reader)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["object"] == "metrics.query_result" and result["output_type"] == "timeseries"
    assert result["unit"] == "ms" and result["step"] == 60 and result["truncated"] is False
    assert result["data"] == [
        {
            "group": {"router": "a"},
            "points": [
                {"timestamp": "2026-01-01T12:00:00Z", "value": 200.0},
                {"timestamp": "2026-01-01T12:01:00Z", "value": 50.0},
            ],
        },
        {
            "group": {"router": "b"},
            "points": [
                {"timestamp": "2026-01-01T12:00:00Z", "value": None},
                {"timestamp": "2026-01-01T12:01:00Z", "value": 10.0},
            ],
        },
    ]
    table = {**body, "metric_name": "requestCount", "output_type": "table", "sort_order": "asc"}
    answer = await client.post(QUERY, json=table, headers=reader)
    assert answer.status_code == 200, answer.text
    assert answer.json()["step"] is None
    assert answer.json()["data"] == [{"group": {"router": "b"}, "value": 1.0}, {"group": {"router": "a"}, "value": 3.0}]


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"metric_name": "requestLatencyPercentile42"}, 422, "metric_name"),
        ({"output_type": "chart"}, 422, "output_type"),
        ({"end": "2026-01-01T11:00:00Z"}, 422, "end"),
        ({"step": 0}, 422, "step"),
        ({"step": 1, "end": "2026-01-02T12:00:00Z"}, 422, "step"),
        ({"filters": {"model": ["x"]}}, 422, "filters.model"),
        ({"filters": {"status": ["teapot"]}}, 422, "filters.status"),
        ({"group_by": ["colour"]}, 422, "group_by"),
        ({"limit": 0}, 422, "limit"),
        ({"start": "yesterday"}, 422, "start"),
    ],
)
async def test_bad_queries_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], change: dict[str, Any], status: int, param: str
) -> None:
    body = {"metric_name": "requestCount", "start": "2026-01-01T12:00:00Z", "end": "2026-01-01T13:00:00Z"} | change
    answer = await client.post(QUERY, json=body, headers=admin_headers)
    assert answer.status_code == status, answer.text
    assert assert_error_shape(answer, str(change))["param"] == param
