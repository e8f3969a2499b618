from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from switchyard.api.schemas.common import Money, Name, PatchModel, PublicModel, RequestModel, Timestamp
from switchyard.api.schemas.roles import Limits, RoleLimit
from switchyard.domain.identity import CreatedApiKey

RouterName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class KeyCreate(RequestModel):
    name: Name
    user_id: int | None = Field(None, description="Owner; default the caller. Another user needs manage_keys.")
    expires_at: Timestamp | None = None
    allowed_routers: list[RouterName] = Field(
        default_factory=list, description="Routers the key may use; empty means all the owner may use."
    )
    limits: Limits = Field(
        default_factory=list, description="Rate limits counted for this key alone, on top of its user's."
    )
    budget: Money | None = Field(None, description="Most this key may spend on priced routers.")


class KeyUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"name", "status", "allowed_routers", "limits"})
    name: Name | None = None
    status: Literal["active", "revoked"] | None = None
    expires_at: Timestamp | None = None
    allowed_routers: list[RouterName] | None = None
    limits: Limits | None = None
    budget: Money | None = None


class KeyPublic(PublicModel):
    object: Literal["api_key"] = "api_key"
    id: int
    name: str
    user_id: int
    prefix: str
    status: str
    expires_at: datetime | None
    allowed_routers: list[str]
    limits: list[RoleLimit]
    budget: float | None
    spent: float
    created_at: datetime
    last_used_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret. Shown only in this answer: store it now.")

    @classmethod
    def from_created(cls, created: CreatedApiKey) -> KeyCreated:
        return cls.model_validate({**KeyPublic.from_domain(created.key).model_dump(), "key": created.secret})
