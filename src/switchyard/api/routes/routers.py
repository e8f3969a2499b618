from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import PlatformDep, ProvidersManager
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.routers import RouterCreate, RouterPublic, RouterUpdate
from switchyard.services import routers as service

router = APIRouter(prefix="/api/v1/routers", tags=["routers"])


@router.get("")
async def list_routers(
    platform: PlatformDep, caller: ProvidersManager, query: ListQueryDep
) -> ListResponse[RouterPublic]:
    return page_response(await service.list_routers(platform, query), RouterPublic.from_router)


@router.post("/search")
async def search_routers(
    platform: PlatformDep, caller: ProvidersManager, body: SearchRequest
) -> ListResponse[RouterPublic]:
    return page_response(await service.list_routers(platform, body.to_query()), RouterPublic.from_router)


@router.post("", status_code=201)
async def create_router(platform: PlatformDep, caller: ProvidersManager, body: RouterCreate) -> RouterPublic:
    created = await service.create_router(platform, caller, body.column_values(), body.members())
    return RouterPublic.from_router(created)


@router.get("/{router_id}")
async def get_router(platform: PlatformDep, caller: ProvidersManager, router_id: int) -> RouterPublic:
    return RouterPublic.from_router(await service.get_router(platform, router_id))


@router.patch("/{router_id}")
async def update_router(
    platform: PlatformDep, caller: ProvidersManager, router_id: int, body: RouterUpdate
) -> RouterPublic:
    updated = await service.update_router(platform, caller, router_id, body.column_changes(), body.members())
    return RouterPublic.from_router(updated)


@router.delete("/{router_id}")
async def delete_router(platform: PlatformDep, caller: ProvidersManager, router_id: int) -> Deleted:
    await service.delete_router(platform, caller, router_id)
    return Deleted(id=router_id, object="router")
