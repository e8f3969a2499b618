"""The list-and-search vocabulary every resource shares (DESIGN.md, "Resource naming").

``GET /api/v1/<resource>`` and ``POST /api/v1/<resource>/search`` both become a ``ListQuery``; the store turns
it into SQL (``store/query.py``) against the fields the resource declares searchable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class FilterOp(StrEnum):
    eq = "eq"
    ne = "ne"
    in_ = "in"
    starts_with = "startsWith"
    contains = "contains"
    gt = "gt"
    lt = "lt"
    regex = "regex"


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: FilterOp
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    sort: tuple[Sort, ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def narrowed(self, *extra: Filter) -> ListQuery:
        """The same query with more filters (used to scope a list to what the caller may see)."""
        return ListQuery(self.filters + extra, self.sort, self.limit, self.offset)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    extra: dict[str, Any] = field(default_factory=dict)
