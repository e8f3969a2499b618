from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from switchyard.api.schemas.common import Money, Name, PatchModel, PublicModel, RequestModel


class OrganizationCreate(RequestModel):
    name: Name
    budget: Money | None = None


class OrganizationUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"name"})
    name: Name | None = None
    budget: Money | None = None


class OrganizationPublic(PublicModel):
    object: Literal["organization"] = "organization"
    id: int
    name: str
    budget: float | None
    created_at: datetime
    updated_at: datetime
