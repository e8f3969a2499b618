from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AdminCaller, PlatformDep, UsersManager
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.roles import RoleCreate, RolePublic, RoleUpdate, limits_as_data
from switchyard.services import roles as service

router = APIRouter(prefix="/api/v1/roles", tags=["roles"])


@router.get("")
async def list_roles(platform: PlatformDep, caller: UsersManager, query: ListQueryDep) -> ListResponse[RolePublic]:
    return page_response(await service.list_roles(platform, query), RolePublic.from_domain)


@router.post("/search")
async def search_roles(platform: PlatformDep, caller: UsersManager, body: SearchRequest) -> ListResponse[RolePublic]:
    return page_response(await service.list_roles(platform, body.to_query()), RolePublic.from_domain)


@router.post("", status_code=201)
async def create_role(platform: PlatformDep, caller: AdminCaller, body: RoleCreate) -> RolePublic:
    role = await service.create_role(
        platform,
        caller,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        limits=limits_as_data(body.limits),
    )
    return RolePublic.from_domain(role)


@router.get("/{role_id}")
async def get_role(platform: PlatformDep, caller: UsersManager, role_id: int) -> RolePublic:
    return RolePublic.from_domain(await service.get_role(platform, role_id))


@router.patch("/{role_id}")
async def update_role(platform: PlatformDep, caller: AdminCaller, role_id: int, body: RoleUpdate) -> RolePublic:
    return RolePublic.from_domain(await service.update_role(platform, caller, role_id, body.changes()))


@router.delete("/{role_id}")
async def delete_role(platform: PlatformDep, caller: AdminCaller, role_id: int) -> Deleted:
    await service.delete_role(platform, caller, role_id)
    return Deleted(id=role_id, object="role")
