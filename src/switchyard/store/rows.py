"""Small helpers every service uses on rows: fetch-or-404 and unique-conflict mapping."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from switchyard.errors import Conflict, NotFound, ValidationFailed

RowT = TypeVar("RowT")

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers on PostgreSQL; a larger one names nothing (and must not reach the database)."""


def storable_id(row_id: int | None) -> bool:
    return row_id is not None and 0 < row_id <= MAX_ID


async def get_or_404(session: AsyncSession, entity: type[RowT], row_id: int, label: str) -> RowT:
    row = await session.get(entity, row_id) if storable_id(row_id) else None
    if row is None:
        raise NotFound(f"{label.capitalize()} {row_id} not found.")
    return row


async def require_reference(
    session: AsyncSession, entity: type[Any], row_id: int | None, label: str, param: str
) -> None:
    """A body field that names another resource must name one that exists (422 otherwise)."""
    if row_id is not None and (not storable_id(row_id) or await session.get(entity, row_id) is None):
        raise ValidationFailed(f"{label.capitalize()} {row_id} does not exist.", param=param)


async def flush_unique(session: AsyncSession, label: str, field: str) -> None:
    """Write pending changes; a unique violation becomes a 409 naming the field."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"Another {label} already has this {field}.", param=field) from None


async def count_where(session: AsyncSession, column: InstrumentedAttribute[Any], value: Any) -> int:
    return int((await session.execute(select(func.count()).where(column == value))).scalar_one())
