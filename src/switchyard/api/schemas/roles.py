from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from switchyard.api.schemas.common import Description, Name, PatchModel, PublicModel, RequestModel
from switchyard.services.permissions import parse_permissions


class RoleLimit(BaseModel):
    """A rate limit of the role on one router (`*` = every router)."""

    model_config = ConfigDict(extra="forbid")
    router: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = "*"
    type: Literal["rpm", "rpd", "tpm", "tpd"]
    value: int = Field(ge=0, description="Requests or tokens per minute or day; 0 blocks.")


def _known_permissions(values: list[str]) -> list[str]:
    parse_permissions(values)
    return sorted(set(values))


def _distinct_limits(values: list[RoleLimit]) -> list[RoleLimit]:
    seen: set[tuple[str, str]] = set()
    for limit in values:
        if (limit.router, limit.type) in seen:
            raise ValueError(f"two '{limit.type}' limits for router '{limit.router}'")
        seen.add((limit.router, limit.type))
    return values


Permissions = Annotated[list[str], AfterValidator(_known_permissions)]
Limits = Annotated[list[RoleLimit], AfterValidator(_distinct_limits)]


def limits_as_data(limits: list[RoleLimit]) -> list[dict[str, Any]]:
    return [limit.model_dump() for limit in limits]


class RoleCreate(RequestModel):
    name: Name
    description: Description = ""
    permissions: Permissions = Field(default_factory=list)
    limits: Limits = Field(default_factory=list)


class RoleUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"name", "description", "permissions", "limits"})
    name: Name | None = None
    description: Description | None = None
    permissions: Permissions | None = None
    limits: Limits | None = None

    def changes(self) -> dict[str, Any]:
        changes = super().changes()
        if self.limits is not None:
            changes["limits"] = limits_as_data(self.limits)
        return changes


class RolePublic(PublicModel):
    object: Literal["role"] = "role"
    id: int
    name: str
    description: str
    permissions: list[str]
    limits: list[RoleLimit]
    created_at: datetime
    updated_at: datetime
