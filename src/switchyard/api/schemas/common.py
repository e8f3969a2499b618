"""Field types and base classes shared by the wire models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False, description="An amount in the platform's currency.")]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_aware)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class RequestModel(BaseModel):
    """A request body: unknown fields are an error, so that a typo is not silently ignored; NUL characters
    are refused (no store keeps them the same way)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class PatchModel(RequestModel):
    """A PATCH body: only the fields sent change. Fields named in ``NOT_NULL`` may be omitted but not null."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.NOT_NULL:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class PublicModel(BaseModel):
    """A response body built from a domain object."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_domain(cls, obj: Any) -> Self:
        return cls.model_validate(obj, from_attributes=True)


class Deleted(BaseModel):
    id: int
    object: str
    deleted: Literal[True] = True


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
