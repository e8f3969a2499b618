"""The audit log: read and search only (it is append-only); needs the `read_audit` permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from switchyard.api.auth import AuditReader, PlatformDep
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.audit_logs import AuditLogPublic
from switchyard.listing import ListQuery
from switchyard.services import audit_logs as service

router = APIRouter(prefix="/api/v1/audit-logs", tags=["audit-logs"])


def audit_list_query(request: Request, query: ListQueryDep) -> ListQuery:
    """The shared `GET` list parameters, except that without `order_by` and `order_direction` the query
    carries no sort, so that the service answers newest first."""
    if "order_by" in request.query_params or "order_direction" in request.query_params:
        return query
    return ListQuery(query.filters, (), query.limit, query.offset)


AuditListQuery = Annotated[ListQuery, Depends(audit_list_query)]


@router.get("")
async def list_audit_logs(
    platform: PlatformDep, caller: AuditReader, query: AuditListQuery
) -> ListResponse[AuditLogPublic]:
    """Newest first unless `order_by` or `order_direction` is given."""
    return page_response(await service.list_audit_logs(platform, query), AuditLogPublic.from_domain)


@router.post("/search")
async def search_audit_logs(
    platform: PlatformDep, caller: AuditReader, body: SearchRequest
) -> ListResponse[AuditLogPublic]:
    """Newest first unless `sort` is given."""
    return page_response(await service.list_audit_logs(platform, body.to_query()), AuditLogPublic.from_domain)
