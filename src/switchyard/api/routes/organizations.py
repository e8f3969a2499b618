from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import PlatformDep, UsersManager
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.organizations import OrganizationCreate, OrganizationPublic, OrganizationUpdate
from switchyard.services import organizations as service

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


@router.get("")
async def list_organizations(
    platform: PlatformDep, caller: UsersManager, query: ListQueryDep
) -> ListResponse[OrganizationPublic]:
    return page_response(await service.list_organizations(platform, query), OrganizationPublic.from_domain)


@router.post("/search")
async def search_organizations(
    platform: PlatformDep, caller: UsersManager, body: SearchRequest
) -> ListResponse[OrganizationPublic]:
    page = await service.list_organizations(platform, body.to_query())
    return page_response(page, OrganizationPublic.from_domain)


@router.post("", status_code=201)
async def create_organization(
    platform: PlatformDep, caller: UsersManager, body: OrganizationCreate
) -> OrganizationPublic:
    org = await service.create_organization(platform, caller, name=body.name, budget=body.budget)
    return OrganizationPublic.from_domain(org)


@router.get("/{organization_id}")
async def get_organization(platform: PlatformDep, caller: UsersManager, organization_id: int) -> OrganizationPublic:
    return OrganizationPublic.from_domain(await service.get_organization(platform, organization_id))


@router.patch("/{organization_id}")
async def update_organization(
    platform: PlatformDep, caller: UsersManager, organization_id: int, body: OrganizationUpdate
) -> OrganizationPublic:
    org = await service.update_organization(platform, caller, organization_id, body.changes())
    return OrganizationPublic.from_domain(org)


@router.delete("/{organization_id}")
async def delete_organization(platform: PlatformDep, caller: UsersManager, organization_id: int) -> Deleted:
    await service.delete_organization(platform, caller, organization_id)
    return Deleted(id=organization_id, object="organization")
