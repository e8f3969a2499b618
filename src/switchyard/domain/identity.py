"""Organizations, roles, users and API keys as the services see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    budget: float | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Role:
    id: int
    name: str
    description: str
    permissions: list[str]
    limits: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role_id: int
    organization_id: int | None
    budget: float | None
    expires_at: datetime | None
    priority: int
    created_at: datetime
    updated_at: datetime
    limits: list[dict[str, Any]] = field(default_factory=list)
    spent: float = 0.0


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    user_id: int
    prefix: str
    status: str
    expires_at: datetime | None
    allowed_routers: list[str]
    created_at: datetime
    last_used_at: datetime | None
    limits: list[dict[str, Any]] = field(default_factory=list)
    budget: float | None = None
    spent: float = 0.0


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKey
    secret: str
    """Shown once, in the answer to the request that created the key."""


@dataclass(frozen=True, slots=True)
class SessionToken:
    token: str
    user_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """The caller's own user with its role (``/me``)."""

    user: User
    role: Role
