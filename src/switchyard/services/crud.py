"""The read paths every resource shares: a page of a list, and one row by id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from switchyard.listing import ListQuery, Page
from switchyard.services.platform import Platform
from switchyard.store.query import Fields, fetch_page
from switchyard.store.rows import get_or_404

RowT = TypeVar("RowT")
T = TypeVar("T")


async def list_page(
    platform: Platform, entity: type[RowT], fields: Fields, query: ListQuery, convert: Callable[[RowT], T]
) -> Page[T]:
    async with platform.transaction() as session:
        rows, total = await fetch_page(session, entity, fields, query)
    return Page([convert(row) for row in rows], total, query.limit, query.offset)


async def get_one(platform: Platform, entity: type[RowT], row_id: int, label: str, convert: Callable[[RowT], T]) -> T:
    async with platform.transaction() as session:
        return convert(await get_or_404(session, entity, row_id, label))


def apply_changes(row: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
