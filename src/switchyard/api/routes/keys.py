"""API keys. Every caller manages their own; with ``manage_keys``, anyone's (see services/api_keys.py)."""

from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeyUpdate
from switchyard.services import api_keys as service

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.get("")
async def list_keys(platform: PlatformDep, caller: AnyCaller, query: ListQueryDep) -> ListResponse[KeyPublic]:
    return page_response(await service.list_keys(platform, caller, query), KeyPublic.from_domain)


@router.post("/search")
async def search_keys(platform: PlatformDep, caller: AnyCaller, body: SearchRequest) -> ListResponse[KeyPublic]:
    return page_response(await service.list_keys(platform, caller, body.to_query()), KeyPublic.from_domain)


@router.post("", status_code=201)
async def create_key(platform: PlatformDep, caller: AnyCaller, body: KeyCreate) -> KeyCreated:
    created = await service.create_key(platform, caller, **body.model_dump())
    return KeyCreated.from_created(created)


@router.get("/{key_id}")
async def get_key(platform: PlatformDep, caller: AnyCaller, key_id: int) -> KeyPublic:
    return KeyPublic.from_domain(await service.get_key(platform, caller, key_id))


@router.patch("/{key_id}")
async def update_key(platform: PlatformDep, caller: AnyCaller, key_id: int, body: KeyUpdate) -> KeyPublic:
    return KeyPublic.from_domain(await service.update_key(platform, caller, key_id, body.changes()))


@router.delete("/{key_id}")
async def delete_key(platform: PlatformDep, caller: AnyCaller, key_id: int) -> Deleted:
    await service.delete_key(platform, caller, key_id)
    return Deleted(id=key_id, object="api_key")
