"""Metrics: `GET /metrics` for Prometheus, and `POST /api/v1/metrics/query` (needs `read_metrics`).

`/metrics` is public unless `SWITCHYARD_METRICS_REQUIRE_KEY=true`: scrapers rarely carry keys, and it holds
counts and timings, no content. It is rendered in a worker thread so that a large exposition does not hold up
the event loop. It is left out of the OpenAPI document (Prometheus text, not part of the JSON API); README.md
lists its series.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from switchyard.api.auth import Authenticated, PlatformDep, public
from switchyard.api.schemas.metrics import MetricQueryRequest, MetricQueryResponse
from switchyard.services import metrics_query as service
from switchyard.services.permissions import Permission
from switchyard.services.principal import Caller
from switchyard.settings import Settings

router = APIRouter(tags=["metrics"])

_read_metrics = Authenticated(Permission.read_metrics)
MetricsReader = Annotated[Caller, Depends(_read_metrics)]


async def scraper(request: Request) -> Caller:
    """Public, or `read_metrics` when `SWITCHYARD_METRICS_REQUIRE_KEY` is set."""
    settings: Settings = request.app.state.settings
    if settings.metrics_require_key:
        return await _read_metrics(request)
    return await public(request)


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def prometheus_metrics(platform: PlatformDep, caller: Annotated[Caller, Depends(scraper)]) -> Response:
    """The gateway's metrics in Prometheus' text format: requests, errors, latency, TTFT, time per output token,
    tokens in and out and the gateway's own overhead per router, provider, endpoint and status; requests in
    flight per provider; queue length per router; usage records written, dropped and queued."""
    body, content_type = await asyncio.to_thread(platform.metrics.exposition)
    return Response(content=body, media_type=content_type)


@router.post("/api/v1/metrics/query")
async def query_metrics(platform: PlatformDep, caller: MetricsReader, body: MetricQueryRequest) -> MetricQueryResponse:
    """NAI's metrics query: a metric as a `timeseries` (a point per `step`) or a `table` (a row per group),
    filtered and grouped by router, provider, endpoint, status, user, key or organization."""
    return MetricQueryResponse.from_result(await service.query_metrics(platform, body.to_query()))
