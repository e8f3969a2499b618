from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import PlatformDep, UsersManager
from switchyard.api.listing import ListQueryDep, ListResponse, SearchRequest, page_response
from switchyard.api.schemas.common import Deleted
from switchyard.api.schemas.users import UserCreate, UserPublic, UserUpdate
from switchyard.services import users as service

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("")
async def list_users(platform: PlatformDep, caller: UsersManager, query: ListQueryDep) -> ListResponse[UserPublic]:
    return page_response(await service.list_users(platform, query), UserPublic.from_domain)


@router.post("/search")
async def search_users(platform: PlatformDep, caller: UsersManager, body: SearchRequest) -> ListResponse[UserPublic]:
    return page_response(await service.list_users(platform, body.to_query()), UserPublic.from_domain)


@router.post("", status_code=201)
async def create_user(platform: PlatformDep, caller: UsersManager, body: UserCreate) -> UserPublic:
    user = await service.create_user(platform, caller, **body.model_dump())
    return UserPublic.from_domain(user)


@router.get("/{user_id}")
async def get_user(platform: PlatformDep, caller: UsersManager, user_id: int) -> UserPublic:
    return UserPublic.from_domain(await service.get_user(platform, user_id))


@router.patch("/{user_id}")
async def update_user(platform: PlatformDep, caller: UsersManager, user_id: int, body: UserUpdate) -> UserPublic:
    return UserPublic.from_domain(await service.update_user(platform, caller, user_id, body.changes()))


@router.delete("/{user_id}")
async def delete_user(platform: PlatformDep, caller: UsersManager, user_id: int) -> Deleted:
    await service.delete_user(platform, caller, user_id)
    return Deleted(id=user_id, object="user")
