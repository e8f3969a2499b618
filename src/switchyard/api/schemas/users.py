from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from switchyard.api.schemas.common import (
    Email,
    Money,
    Password,
    PatchModel,
    PublicModel,
    RequestModel,
    Timestamp,
)
from switchyard.api.schemas.roles import Limits, RoleLimit

UserName = Annotated[str, Field(max_length=200)]
Priority = Annotated[int, Field(ge=0, le=1000, description="Higher is served first when a router queues.")]


class UserCreate(RequestModel):
    email: Email
    name: UserName = ""
    password: Password | None = None
    role_id: int | None = Field(None, description="Default: the built-in role 'user'.")
    organization_id: int | None = None
    budget: Money | None = None
    expires_at: Timestamp | None = None
    priority: Priority = 0
    limits: Limits = Field(
        default_factory=list, description="Rate limits of this user, on top of the role's (the most restrictive wins)."
    )


class UserUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"email", "name", "password", "role_id", "priority", "limits"})
    email: Email | None = None
    name: UserName | None = None
    password: Password | None = None
    role_id: int | None = None
    organization_id: int | None = None
    budget: Money | None = None
    expires_at: Timestamp | None = None
    priority: Priority | None = None
    limits: Limits | None = None


class UserPublic(PublicModel):
    object: Literal["user"] = "user"
    id: int
    email: str
    name: str
    role_id: int
    organization_id: int | None
    budget: float | None
    expires_at: datetime | None
    priority: int
    limits: list[RoleLimit]
    spent: float = Field(description="Spent so far on priced routers (as of the last usage write).")
    created_at: datetime
    updated_at: datetime
