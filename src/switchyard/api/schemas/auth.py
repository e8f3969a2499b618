from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from switchyard.api.schemas.common import Email, Password, PatchModel, RequestModel
from switchyard.api.schemas.roles import RolePublic
from switchyard.api.schemas.users import UserName, UserPublic
from switchyard.domain.identity import Profile


class LoginRequest(RequestModel):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionPublic(BaseModel):
    object: Literal["session"] = "session"
    token: str = Field(description="Send as 'Authorization: Bearer <token>' until expires_at.")
    expires_at: datetime
    user: UserPublic


class LogoutPublic(BaseModel):
    object: Literal["session"] = "session"
    revoked: bool


class ProfilePublic(UserPublic):
    role: RolePublic

    @classmethod
    def from_profile(cls, profile: Profile) -> ProfilePublic:
        return cls.model_validate(
            {
                **UserPublic.from_domain(profile.user).model_dump(),
                "role": RolePublic.from_domain(profile.role),
            }
        )


class ProfileUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"email", "name", "password", "current_password"})
    name: UserName | None = None
    email: Email | None = None
    password: Password | None = None
    current_password: Annotated[str, Field(max_length=1024)] | None = None


class PermissionPublic(BaseModel):
    object: Literal["permission"] = "permission"
    name: str
    description: str
