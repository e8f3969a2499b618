"""The caller's own usage and limits: `GET /api/v1/me/usage`, `GET /api/v1/me/usage/summary` and
`GET /api/v1/me/limits` (any valid key or token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.schemas.usage import (
    OWN_FILTERS,
    PAGING,
    SUMMARY,
    GroupByParam,
    GroupLimit,
    Limit,
    LimitsPublic,
    Offset,
    UsageList,
    UsageSummaryPublic,
    own_filter,
    refuse_unknown,
)
from switchyard.listing import DEFAULT_LIMIT
from switchyard.services import usage_limits, usage_records
from switchyard.services.deployments_host import DeploymentHost
from switchyard.services.usage_records import UsageFilter

router = APIRouter(prefix="/api/v1/me", tags=["me"])

OwnUsageFilter = Annotated[UsageFilter, Depends(own_filter)]


@router.get("/usage")
async def list_my_usage(
    request: Request,
    platform: PlatformDep,
    caller: AnyCaller,
    flt: OwnUsageFilter,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> UsageList:
    """Your usage records, newest first, filtered by time range (`[start, end)`), key, router, endpoint,
    provider and status."""
    refuse_unknown(request, OWN_FILTERS | PAGING)
    assert caller.principal is not None
    own = flt.for_user(caller.principal.user_id)
    return UsageList.from_page(await usage_records.list_usage(platform, own, limit=limit, offset=offset))


@router.get("/usage/summary")
async def summarize_my_usage(
    request: Request,
    platform: PlatformDep,
    caller: AnyCaller,
    flt: OwnUsageFilter,
    group_by: GroupByParam = None,
    limit: GroupLimit = 1000,
) -> UsageSummaryPublic:
    """Your requests, errors, tokens, cost, kWh and kgCO2eq summed per group (UTC day, router, key, endpoint,
    provider)."""
    refuse_unknown(request, OWN_FILTERS | SUMMARY)
    assert caller.principal is not None
    groups = usage_records.parse_group_by(group_by or [])
    own = flt.for_user(caller.principal.user_id)
    return UsageSummaryPublic.from_summary(await usage_records.summarize_usage(platform, own, groups, limit=limit))


@router.get("/limits")
async def get_my_limits(request: Request, platform: PlatformDep, caller: AnyCaller) -> LimitsPublic:
    """Each rate limit on each router and deployment you may use — used in the current window, remaining, reset
    time — and each budget with what is spent and left. Routers with a rate-limit rule may count a request in
    another bucket than the one shown (`has_rule`)."""
    assert caller.principal is not None
    host: DeploymentHost = request.app.state.deployments
    report = await usage_limits.limits_report(platform, caller.principal, host.names())
    return LimitsPublic.from_report(report)
