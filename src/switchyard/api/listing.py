"""List and search parameters shared by every resource, and the list envelope they answer with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from switchyard.api.schemas.common import RequestModel
from switchyard.errors import InvalidFilter
from switchyard.listing import DEFAULT_LIMIT, MAX_LIMIT, Filter, FilterOp, ListQuery, Page, Sort

ItemT = TypeVar("ItemT")
DomainT = TypeVar("DomainT")

MAX_OFFSET = 2**31 - 1
_RESERVED = {"limit", "offset", "order_by", "order_direction"}


class ListResponse(BaseModel, Generic[ItemT]):
    object: Literal["list"] = "list"
    data: list[ItemT]
    total: int
    limit: int
    offset: int


def page_response(page: Page[DomainT], convert: Callable[[DomainT], ItemT]) -> ListResponse[ItemT]:
    return ListResponse[Any](
        data=[convert(item) for item in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


class SearchFilter(RequestModel):
    field: str = Field(description="A field of the resource.")
    op: str = Field(description="One of: " + ", ".join(op.value for op in FilterOp) + ".")
    values: list[Any] = Field(description="One value; several for `in`.")


class SearchSort(RequestModel):
    field: str
    order: Literal["asc", "desc"] = "asc"


class SearchRequest(RequestModel):
    """The filter DSL of `POST /api/v1/<resource>/search`."""

    filters: list[SearchFilter] = Field(default_factory=list)
    sort: list[SearchSort] = Field(default_factory=list)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def to_query(self) -> ListQuery:
        filters = []
        for index, flt in enumerate(self.filters):
            try:
                op = FilterOp(flt.op)
            except ValueError:
                raise InvalidFilter(
                    f"Unknown operator '{flt.op}'. Operators: {', '.join(op.value for op in FilterOp)}.",
                    param=f"filters.{index}.op",
                ) from None
            filters.append(Filter(flt.field, op, tuple(flt.values)))
        sort = tuple(Sort(s.field, s.order == "desc") for s in self.sort)
        return ListQuery(tuple(filters), sort, self.limit, self.offset)


def list_query(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
    order_by: Annotated[str, Query(description="Field to sort by.")] = "id",
    order_direction: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> ListQuery:
    """`GET` list parameters; any other query parameter filters on the field of that name (repeat it for
    several values)."""
    filters = []
    for name in dict.fromkeys(request.query_params.keys()):
        if name in _RESERVED:
            continue
        values = tuple(request.query_params.getlist(name))
        filters.append(Filter(name, FilterOp.eq if len(values) == 1 else FilterOp.in_, values))
    return ListQuery(tuple(filters), (Sort(order_by, order_direction == "desc"),), limit, offset)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]
