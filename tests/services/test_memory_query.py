"""The filter DSL applied in memory behaves as the SQL one: coercion, case-insensitive text matching, missing
values, families of fields (``metrics.<name>``), sorting and paging, and 400s that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from switchyard.errors import InvalidFilter
from switchyard.listing import Filter, FilterOp, ListQuery, Sort
from switchyard.services.memory_query import Field, FieldFamily, Fields, page_of


@dataclass
class Item:
    id: int
    name: str | None
    at: datetime
    metrics: dict[str, float] = field(default_factory=dict)


FIELDS: Fields[Item] = Fields(
    named={
        "id": Field(int, lambda i: i.id),
        "name": Field(str, lambda i: i.name),
        "at": Field(datetime, lambda i: i.at),
    },
    families={"metrics": FieldFamily(float, lambda i, key: i.metrics.get(key))},
)
ITEMS = [
    Item(1, "Alpha", datetime(2026, 1, 1, tzinfo=UTC), {"loss": 0.5}),
    Item(2, "beta", datetime(2026, 1, 2, tzinfo=UTC), {"loss": 0.2}),
    Item(3, None, datetime(2026, 1, 3, tzinfo=UTC)),
    Item(4, "alphabet", datetime(2026, 1, 4, tzinfo=UTC), {"loss": 0.9}),
]
BY_ID = (Sort("id"),)


def ids(*filters: Filter, sort: tuple[Sort, ...] = (), limit: int = 100, offset: int = 0) -> list[int]:
    return [i.id for i in page_of(ITEMS, FIELDS, ListQuery(filters, sort, limit, offset), BY_ID).items]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter("name", FilterOp.eq, ("beta",)), [2]),
        (Filter("name", FilterOp.eq, (None,)), [3]),
        (Filter("name", FilterOp.ne, ("beta",)), [1, 3, 4]),
        (Filter("id", FilterOp.in_, ("1", 4)), [1, 4]),
        (Filter("name", FilterOp.starts_with, ("ALPHA",)), [1, 4]),
        (Filter("name", FilterOp.contains, ("ET",)), [2, 4]),
        (Filter("name", FilterOp.regex, ("^a.*t$",)), [4]),
        (Filter("id", FilterOp.gt, ("2",)), [3, 4]),
        (Filter("at", FilterOp.lt, ("2026-01-02T00:00:00",)), [1]),
        (Filter("metrics.loss", FilterOp.lt, (0.6,)), [1, 2]),
        (Filter("metrics.loss", FilterOp.gt, (0,)), [1, 2, 4]),
    ],
)
def test_operators(flt: Filter, expected: list[int]) -> None:
    assert ids(flt) == expected


def test_sorting_puts_missing_values_last_both_ways_and_pages() -> None:
    assert ids(sort=(Sort("metrics.loss"),)) == [2, 1, 4, 3]
    assert ids(sort=(Sort("metrics.loss", descending=True),)) == [4, 1, 2, 3]
    assert ids(sort=(Sort("name", descending=True), Sort("id")), limit=2, offset=1) == [4, 1]
    page = page_of(ITEMS, FIELDS, ListQuery((), (), 2, 2), BY_ID)
    assert ([i.id for i in page.items], page.total, page.limit, page.offset) == ([3, 4], 4, 2, 2)


@pytest.mark.parametrize(
    ("flt", "param"),
    [
        (Filter("colour", FilterOp.eq, ("red",)), "colour"),
        (Filter("metrics", FilterOp.eq, ("1",)), "metrics"),
        (Filter("id", FilterOp.eq, ("seven",)), "id"),
        (Filter("id", FilterOp.contains, ("1",)), "id"),
        (Filter("name", FilterOp.eq, ("a", "b")), "name"),
        (Filter("name", FilterOp.in_, ()), "name"),
        (Filter("name", FilterOp.regex, ("(",)), "name"),
        (Filter("at", FilterOp.gt, ("yesterday",)), "at"),
        (Filter("metrics.loss", FilterOp.gt, (True,)), "metrics.loss"),
    ],
)
def test_bad_filters_name_the_field(flt: Filter, param: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        ids(flt)
    assert caught.value.param == param


def test_sorting_by_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidFilter) as caught:
        ids(sort=(Sort("colour"),))
    assert caught.value.param == "colour"
