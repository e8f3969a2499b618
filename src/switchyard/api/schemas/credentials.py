from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints

from switchyard.api.schemas.common import Description, Name, PatchModel, PublicModel, RequestModel
from switchyard.domain.credentials import Credential, CredentialType


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


DataKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
SecretValue = Annotated[str, StringConstraints(max_length=65_536), AfterValidator(_not_blank)]
CredentialData = Annotated[
    dict[DataKey, SecretValue],
    Field(
        min_length=1,
        max_length=100,
        description="Secret values by key, sealed at rest and only ever answered masked. Keys by type — hf: "
        "token; ngc: api_key; s3: access_key_id, secret_access_key, and optionally endpoint, region, bucket; "
        "provider: api_key and any others; generic: any.",
    ),
]


class CredentialCreate(RequestModel):
    name: Name
    type: CredentialType
    description: Description = ""
    data: CredentialData


class CredentialUpdate(PatchModel):
    """The type of a credential cannot change; ``data`` replaces every value at once."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"name", "description", "data"})
    name: Name | None = None
    description: Description | None = None
    data: CredentialData | None = None


class CredentialPublic(PublicModel):
    object: Literal["credential"] = "credential"
    id: int
    name: str
    type: CredentialType
    description: str
    data: dict[str, str] = Field(description="Each key with its value masked.")
    owner_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, obj: Credential) -> Self:
        return cls(
            id=obj.id,
            name=obj.name,
            type=obj.type,
            description=obj.description,
            data=obj.masked_data,
            owner_id=obj.owner_id,
            created_at=obj.created_at,
            updated_at=obj.updated_at,
        )
