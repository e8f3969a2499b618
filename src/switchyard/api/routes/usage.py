"""Anyone's usage records (needs `read_usage`): `GET /api/v1/usage`, `POST /api/v1/usage/search` and
`GET /api/v1/usage/summary`. One's own are under `/api/v1/me` (`me_usage.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from switchyard.api.auth import Authenticated, PlatformDep
from switchyard.api.listing import SearchRequest
from switchyard.api.schemas.usage import (
    ANY_FILTERS,
    PAGING,
    SUMMARY,
    GroupByParam,
    GroupLimit,
    Limit,
    Offset,
    UsageList,
    UsageSummaryPublic,
    any_filter,
    refuse_unknown,
)
from switchyard.listing import DEFAULT_LIMIT
from switchyard.services import usage_records as service
from switchyard.services.permissions import Permission
from switchyard.services.principal import Caller
from switchyard.services.usage_records import UsageFilter

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])

UsageReader = Annotated[Caller, Depends(Authenticated(Permission.read_usage))]
AnyUsageFilter = Annotated[UsageFilter, Depends(any_filter)]


@router.get("")
async def list_usage(
    request: Request,
    platform: PlatformDep,
    caller: UsageReader,
    flt: AnyUsageFilter,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> UsageList:
    """Usage records of every user, newest first, filtered by time range (`[start, end)`), user, organization,
    key, router, endpoint, provider and status."""
    refuse_unknown(request, ANY_FILTERS | PAGING)
    return UsageList.from_page(await service.list_usage(platform, flt, limit=limit, offset=offset))


_SEARCH_FIELDS = ", ".join(f"`{name}`" for name in service.SEARCH_FIELDS)


@router.post(
    "/search",
    description=f"The filter DSL over usage records; newest first unless `sort` is given. Fields: {_SEARCH_FIELDS}.",
)
async def search_usage(platform: PlatformDep, caller: UsageReader, body: SearchRequest) -> UsageList:
    return UsageList.from_page(await service.search_usage(platform, body.to_query()))


@router.get("/summary")
async def summarize_usage(
    request: Request,
    platform: PlatformDep,
    caller: UsageReader,
    flt: AnyUsageFilter,
    group_by: GroupByParam = None,
    limit: GroupLimit = 1000,
) -> UsageSummaryPublic:
    """Requests, errors, tokens, cost, kWh and kgCO2eq summed per group (UTC day, router, user, key,
    organization, endpoint, provider) over the matching records."""
    refuse_unknown(request, ANY_FILTERS | SUMMARY)
    groups = service.parse_group_by(group_by or [])
    return UsageSummaryPublic.from_summary(await service.summarize_usage(platform, flt, groups, limit=limit))
