from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.auth import AnyCaller, PlatformDep
from switchyard.api.schemas.auth import ProfilePublic, ProfileUpdate
from switchyard.services import profile as service

router = APIRouter(prefix="/api/v1/me", tags=["me"])


@router.get("")
async def get_me(platform: PlatformDep, caller: AnyCaller) -> ProfilePublic:
    return ProfilePublic.from_profile(await service.get_profile(platform, caller))


@router.patch("")
async def update_me(platform: PlatformDep, caller: AnyCaller, body: ProfileUpdate) -> ProfilePublic:
    return ProfilePublic.from_profile(await service.update_profile(platform, caller, body.changes()))
