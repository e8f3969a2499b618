"""Wire models of `POST /api/v1/metrics/query`.

NAI's `metrics/query` names map to ours, flat and snake_case: `metricName` → `metric_name` (same values),
`outputType` → `output_type`, and `extraMetricParams.{start, end, downsamplingInterval, filters, groupBy, limit,
sortOrder}` → `start`, `end`, `step`, `filters`, `group_by`, `limit`, `sort_order`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from switchyard.api.schemas.common import RequestModel, Timestamp
from switchyard.services.metrics_query import MAX_POINTS, MetricName, MetricQuery, MetricResult, OutputType
from switchyard.services.usage_aggregates import FIELDS, MAX_FILTER_VALUES

_FIELDS = ", ".join(f"`{name}`" for name in FIELDS)


class MetricQueryRequest(RequestModel):
    metric_name: MetricName = Field(
        description="Latency, TTFT and TPOT (average, percentiles 50/95/99, in ms) cover requests that reached a "
        "provider; counts, throughputs (per second of each step), tokens, cost, energy and carbon cover every "
        "usage record; `numRequestsRunning` (per provider) and `numRequestsWaiting` (per router) are this "
        "server process's live gauges."
    )
    output_type: OutputType = Field(
        OutputType.timeseries,
        description="`timeseries`: one series per group, a point per `step`; `table`: one row per group over "
        "the whole range.",
    )
    start: Timestamp | None = Field(
        None, description="ISO 8601 or Unix seconds, included. Default: an hour before `end`."
    )
    end: Timestamp | None = Field(None, description="ISO 8601 or Unix seconds, excluded. Default: now.")
    step: int | None = Field(
        None,
        ge=1,
        description=f"Seconds per point of a timeseries (NAI's `downsamplingInterval`); at most {MAX_POINTS} "
        "points. Default: the smallest round step giving at most 120 points.",
    )
    filters: dict[str, list[str | int]] = Field(
        default_factory=dict,
        description=f"Field → accepted values (any of them). Fields: {_FIELDS}; `status` also takes classes "
        f"such as `5xx`. At most {MAX_FILTER_VALUES} values per field.",
        examples=[{"router": ["gpt-4o"], "status": ["2xx"]}],
    )
    group_by: list[str] = Field(default_factory=list, max_length=len(FIELDS), description=f"Fields: {_FIELDS}.")
    limit: int = Field(100, ge=1, le=1000, description="Groups answered at most.")
    sort_order: Literal["asc", "desc"] = Field(
        "desc", description="Table rows by value (nulls last); timeseries by their requests in the range."
    )

    def to_query(self) -> MetricQuery:
        return MetricQuery(
            metric=self.metric_name,
            output=self.output_type,
            start=self.start,
            end=self.end,
            step=self.step,
            filters=self.filters,
            group_by=tuple(self.group_by),
            limit=self.limit,
            descending=self.sort_order == "desc",
        )


class MetricPoint(BaseModel):
    timestamp: datetime = Field(description="Start of the step.")
    value: float | None = Field(description="Null where there is nothing to average or the gauge is unknown.")


class MetricSeries(BaseModel):
    group: dict[str, Any] = Field(description="The `group_by` fields and their values; `{}` without grouping.")
    points: list[MetricPoint]


class MetricRow(BaseModel):
    group: dict[str, Any]
    value: float | None


class MetricQueryResponse(BaseModel):
    object: Literal["metrics.query_result"] = "metrics.query_result"
    metric_name: MetricName
    output_type: OutputType
    unit: str = Field(description="`ms`, `requests`, `requests/s`, `tokens`, `tokens/s`, `currency`, `kWh`, …")
    start: datetime
    end: datetime
    step: int | None = Field(description="Seconds per point; null for a table.")
    group_by: list[str]
    data: list[MetricSeries] | list[MetricRow] = Field(
        description="A timeseries: series, busiest first (by `sort_order`). A table: rows."
    )
    truncated: bool = Field(description="More groups matched than `limit` (or the answer's size) allows.")

    @classmethod
    def from_result(cls, result: MetricResult) -> MetricQueryResponse:
        data: list[MetricSeries] | list[MetricRow]
        if result.output is OutputType.timeseries:
            data = [
                MetricSeries(
                    group=s.group, points=[MetricPoint(timestamp=p.timestamp, value=p.value) for p in s.points]
                )
                for s in result.series
            ]
        else:
            data = [MetricRow(group=r.group, value=r.value) for r in result.rows]
        return cls(
            metric_name=result.metric,
            output_type=result.output,
            unit=result.unit,
            start=result.start,
            end=result.end,
            step=result.step,
            group_by=list(result.group_by),
            data=data,
            truncated=result.truncated,
        )
