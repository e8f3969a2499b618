"""Wire models of the usage API (`/api/v1/usage`, `/api/v1/me/usage`, `/api/v1/me/limits`) and the query
parameters they share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field

from switchyard.api.listing import MAX_OFFSET, ListResponse
from switchyard.api.schemas.common import Timestamp
from switchyard.errors import ValidationFailed
from switchyard.listing import MAX_LIMIT, Page
from switchyard.services.usage_limits import LimitsReport, LimitStatus
from switchyard.services.usage_records import (
    COUNT_CAP,
    MAX_GROUPS,
    GroupBy,
    UsageEntry,
    UsageFigures,
    UsageFilter,
    UsageSummary,
)

_GROUPS = ", ".join(f"`{g.value}`" for g in GroupBy)

Start = Annotated[Timestamp | None, Query(description="ISO 8601 or Unix seconds, included. Naive times are UTC.")]
End = Annotated[Timestamp | None, Query(description="ISO 8601 or Unix seconds, excluded.")]
Routers = Annotated[list[str] | None, Query(alias="router", description="Router name (repeat for several).")]
KeyIds = Annotated[list[int] | None, Query(alias="key_id", description="API key id (repeat for several).")]
Endpoints = Annotated[
    list[str] | None,
    Query(alias="endpoint", description="`chat`, `completions`, `embeddings`, `rerank`, … (repeat for several)."),
]
Providers = Annotated[list[str] | None, Query(alias="provider", description="Provider name (repeat for several).")]
Statuses = Annotated[
    list[str] | None, Query(alias="status", description="HTTP status (`429`) or class (`5xx`); repeat for several.")
]
UserIds = Annotated[list[int] | None, Query(alias="user_id", description="User id (repeat for several).")]
OrganizationIds = Annotated[
    list[int] | None, Query(alias="organization_id", description="Organization id (repeat for several).")
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Records to skip.")]
GroupByParam = Annotated[
    list[str] | None,
    Query(description=f"Any of {_GROUPS}, comma-separated or repeated; days are UTC days. None: one total."),
]
GroupLimit = Annotated[int, Query(ge=1, le=MAX_GROUPS, description="Groups answered at most.")]

OWN_FILTERS = frozenset({"start", "end", "router", "key_id", "endpoint", "provider", "status"})
ANY_FILTERS = OWN_FILTERS | {"user_id", "organization_id"}
PAGING = frozenset({"limit", "offset"})
SUMMARY = frozenset({"group_by", "limit"})


def refuse_unknown(request: Request, known: Iterable[str]) -> None:
    """A misspelt filter would silently widen the answer; refuse it instead (422 naming it)."""
    allowed = set(known)
    for name in request.query_params:
        if name not in allowed:
            raise ValidationFailed(
                f"Unknown query parameter '{name}'; this route takes: {', '.join(sorted(allowed))}.", param=name
            )


def _tuple(values: list[Any] | None) -> tuple[Any, ...]:
    return tuple(values or ())


def own_filter(
    start: Start = None,
    end: End = None,
    routers: Routers = None,
    key_ids: KeyIds = None,
    endpoints: Endpoints = None,
    providers: Providers = None,
    statuses: Statuses = None,
) -> UsageFilter:
    """The filters of the caller's own usage (`/me/usage`); the user is set by the route."""
    return UsageFilter(
        start=start,
        end=end,
        routers=_tuple(routers),
        key_ids=_tuple(key_ids),
        endpoints=_tuple(endpoints),
        providers=_tuple(providers),
        statuses=_tuple(statuses),
    )


def any_filter(
    start: Start = None,
    end: End = None,
    routers: Routers = None,
    key_ids: KeyIds = None,
    endpoints: Endpoints = None,
    providers: Providers = None,
    statuses: Statuses = None,
    user_ids: UserIds = None,
    organization_ids: OrganizationIds = None,
) -> UsageFilter:
    """The filters of anyone's usage (`/usage`)."""
    own = own_filter(start, end, routers, key_ids, endpoints, providers, statuses)
    return UsageFilter(
        start=own.start,
        end=own.end,
        routers=own.routers,
        key_ids=own.key_ids,
        endpoints=own.endpoints,
        providers=own.providers,
        statuses=own.statuses,
        user_ids=_tuple(user_ids),
        organization_ids=_tuple(organization_ids),
    )


class UsageRecordPublic(BaseModel):
    object: Literal["usage_record"] = "usage_record"
    id: int
    request_id: str = Field(description="The `x-request-id` of the answer.")
    created_at: datetime = Field(description="When the request arrived.")
    user_id: int | None
    key_id: int | None = Field(description="The API key used; null for a session token.")
    organization_id: int | None
    router: str
    provider: str | None = Field(description="The provider that answered; null when none was called (a refusal).")
    endpoint: str
    status: int = Field(description="The HTTP status of the answer (429 for a limit or a spent budget).")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    cost: float = Field(description="In the currency of the router's prices.")
    latency_ms: float
    ttft_ms: float | None = Field(description="Time to the first token of a stream.")
    kwh: float | None = Field(description="Energy, by the ecologits method; null when it cannot be estimated.")
    kgco2eq: float | None = Field(description="Emissions, by the ecologits method.")

    @classmethod
    def from_entry(cls, entry: UsageEntry) -> UsageRecordPublic:
        r = entry.record
        return cls(
            id=entry.id,
            request_id=r.request_id,
            created_at=r.created_at,
            user_id=r.user_id,
            key_id=r.key_id,
            organization_id=r.organization_id,
            router=r.router,
            provider=r.provider,
            endpoint=r.endpoint,
            status=r.status,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            total_tokens=r.prompt_tokens + r.completion_tokens,
            cached_tokens=r.cached_tokens,
            cost=r.cost,
            latency_ms=r.latency_ms,
            ttft_ms=r.ttft_ms,
            kwh=r.kwh,
            kgco2eq=r.kgco2eq,
        )


class UsageList(ListResponse[UsageRecordPublic]):
    total_capped: bool = Field(
        False, description=f"More than {COUNT_CAP} records match: `total` stops counting at {COUNT_CAP}."
    )

    @classmethod
    def from_page(cls, page: Page[UsageEntry]) -> UsageList:
        return cls(
            data=[UsageRecordPublic.from_entry(entry) for entry in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            total_capped=bool(page.extra.get("total_capped", False)),
        )


class UsageFiguresPublic(BaseModel):
    requests: int
    errors: int = Field(description="Requests answered with a status of 400 or more (refusals included).")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    kwh: float | None = Field(description="Null when no record of the group has a figure.")
    kgco2eq: float | None = Field(description="Null when no record of the group has a figure.")

    @classmethod
    def from_figures(cls, figures: UsageFigures) -> UsageFiguresPublic:
        return cls(
            requests=figures.requests,
            errors=figures.errors,
            prompt_tokens=figures.prompt_tokens,
            completion_tokens=figures.completion_tokens,
            total_tokens=figures.total_tokens,
            cost=figures.cost,
            kwh=figures.kwh,
            kgco2eq=figures.kgco2eq,
        )


class UsageGroupPublic(UsageFiguresPublic):
    group: dict[str, Any] = Field(
        description="The grouping's fields and values: `day` (`YYYY-MM-DD`, UTC), `router`, `user_id`, `key_id`, "
        "`organization_id`, `endpoint`, `provider`; `{}` without grouping."
    )


class UsageSummaryPublic(BaseModel):
    object: Literal["usage.summary"] = "usage.summary"
    start: datetime | None
    end: datetime | None
    group_by: list[GroupBy]
    data: list[UsageGroupPublic] = Field(description="A row per group, in ascending order of the group's fields.")
    totals: UsageFiguresPublic = Field(description="Over every matching record, also when `truncated`.")
    truncated: bool = Field(description="More groups matched than `limit`.")

    @classmethod
    def from_summary(cls, summary: UsageSummary) -> UsageSummaryPublic:
        return cls(
            start=summary.start,
            end=summary.end,
            group_by=list(summary.group_by),
            data=[
                UsageGroupPublic(group=g.key, **UsageFiguresPublic.from_figures(g.figures).model_dump())
                for g in summary.groups
            ],
            totals=UsageFiguresPublic.from_figures(summary.totals),
            truncated=summary.truncated,
        )


class LimitStatusPublic(BaseModel):
    scope: Literal["role", "user", "key"] = Field(
        description="`role`: the role's limit, counted per user; `user`/`key`: the user's or the key's own."
    )
    type: Literal["rpm", "rpd", "tpm", "tpd"]
    value: int = Field(description="The limit.")
    used: int = Field(description="Counted in the current window (tokens include those reserved in flight).")
    remaining: int
    resets_at: datetime = Field(description="When the current window (the minute, or the UTC day) ends.")


class RouterLimitsPublic(BaseModel):
    router: str
    aliases: list[str]
    has_rule: bool = Field(
        description="The router has a rate-limit rule (CEL), which may count requests in another bucket, or "
        "against other limits, than the ones shown."
    )
    limits: list[LimitStatusPublic] = Field(description="Empty: no rate limit applies to you on this router.")


class DeploymentLimitsPublic(BaseModel):
    id: int = Field(description="The deployment's id.")
    deployment: str = Field(description="Its name: the V2 model name, and the name its limits are set on.")
    limits: list[LimitStatusPublic] = Field(description="Request limits (rpm, rpd): a V2 inference has no tokens.")


class BudgetStatusPublic(BaseModel):
    scope: Literal["key", "user", "organization"]
    owner_id: int = Field(description="The key's, user's or organization's id.")
    amount: float
    spent: float = Field(description="Spent, plus what requests in flight reserved.")
    left: float


class LimitsPublic(BaseModel):
    object: Literal["limits"] = "limits"
    routers: list[RouterLimitsPublic] = Field(description="Every router you may use, by name.")
    budgets: list[BudgetStatusPublic] = Field(description="The budgets that apply to you (key, user, organization).")
    deployments: list[DeploymentLimitsPublic] = Field(
        description="Every deployment you may use, by name, with the request limits on its V2 inferences."
    )

    @classmethod
    def from_report(cls, report: LimitsReport) -> LimitsPublic:
        def statuses(found: list[LimitStatus]) -> list[LimitStatusPublic]:
            return [
                LimitStatusPublic(
                    scope=s.scope.value,
                    type=s.type.value,
                    value=s.value,
                    used=s.used,
                    remaining=s.remaining,
                    resets_at=s.resets_at,
                )
                for s in found
            ]

        return cls(
            routers=[
                RouterLimitsPublic(
                    router=r.router,
                    aliases=list(r.aliases),
                    has_rule=r.has_rule,
                    limits=statuses(r.limits),
                )
                for r in report.routers
            ],
            budgets=[
                BudgetStatusPublic(
                    scope=b.scope.value,
                    owner_id=b.owner_id,
                    amount=b.amount,
                    spent=b.spent,
                    left=b.left,
                )
                for b in report.budgets
            ],
            deployments=[
                DeploymentLimitsPublic(id=d.deployment_id, deployment=d.deployment, limits=statuses(d.limits))
                for d in report.deployments
            ],
        )
