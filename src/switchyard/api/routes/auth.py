from __future__ import annotations

from fastapi import APIRouter, Request

from switchyard.api.auth import AnyCaller, PlatformDep, PublicCaller, bearer_token
from switchyard.api.schemas.auth import LoginRequest, LogoutPublic, SessionPublic
from switchyard.api.schemas.users import UserPublic
from switchyard.services import sessions, users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login")
async def login(platform: PlatformDep, caller: PublicCaller, body: LoginRequest) -> SessionPublic:
    token = await sessions.login(platform, caller, body.email, body.password)
    user = await users.get_user(platform, token.user_id)
    return SessionPublic(token=token.token, expires_at=token.expires_at, user=UserPublic.from_domain(user))


@router.post("/logout")
async def logout(platform: PlatformDep, caller: AnyCaller, request: Request) -> LogoutPublic:
    token = bearer_token(request)
    assert token is not None  # AnyCaller made sure
    return LogoutPublic(revoked=await sessions.logout(platform, caller, token))
