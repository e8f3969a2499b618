"""Reading usage records: a page of them (newest first), and sums per group (day, router, user, key…).

Both take a ``UsageFilter`` — a time range ``[start, end)`` and field values — and are written so that the
indexes of ``usage_records`` serve them: ``(user_id | key_id | organization_id | router, created_at)`` and
``created_at`` alone. A caller's own records are the same queries with ``user_id`` fixed (``for_user``).

``total`` of a page is an exact count up to ``COUNT_CAP`` matching records; beyond, the count stops there and
the page says so (``total_capped``): counting millions of rows on every page costs more than the page itself.
Days are UTC days, computed the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal, or_, select

from switchyard.domain.governance import UsageRecord
from switchyard.errors import ValidationFailed
from switchyard.listing import ListQuery, Page, Sort
from switchyard.services.crud import list_page
from switchyard.services.platform import Platform
from switchyard.services.usage_aggregates import status_class
from switchyard.store.tables import UsageRecordRow

T = UsageRecordRow

COUNT_CAP = 100_000
"""``total`` is exact up to this many matching records."""
MAX_VALUES = 100
"""Values one filter field may list."""
MAX_GROUPS = 10_000

SEARCH_FIELDS = {
    "id": T.id,
    "request_id": T.request_id,
    "created_at": T.created_at,
    "user_id": T.user_id,
    "key_id": T.key_id,
    "organization_id": T.organization_id,
    "router": T.router,
    "provider": T.provider,
    "endpoint": T.endpoint,
    "status": T.status,
    "prompt_tokens": T.prompt_tokens,
    "completion_tokens": T.completion_tokens,
    "cost": T.cost,
    "latency_ms": T.latency_ms,
}
"""What ``POST /usage/search`` may filter and sort on."""
NEWEST_FIRST = (Sort("created_at", descending=True), Sort("id", descending=True))


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """A stored usage record."""

    id: int
    record: UsageRecord


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Records in ``[start, end)`` matching every field given (any of its values)."""

    start: datetime | None = None
    end: datetime | None = None
    user_ids: tuple[int, ...] = ()
    key_ids: tuple[int, ...] = ()
    organization_ids: tuple[int, ...] = ()
    routers: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    """HTTP statuses (``429``) or classes (``5xx``)."""

    def for_user(self, user_id: int) -> UsageFilter:
        """The same filter narrowed to one user's records (a caller's own usage)."""
        return replace(self, user_ids=(user_id,))


def _status_condition(values: Sequence[str]) -> ColumnElement[bool]:
    exact: list[int] = []
    ranges: list[ColumnElement[bool]] = []
    for value in values:
        text = value.strip()
        status_range = status_class(text)
        if status_range is not None:
            ranges.append(status_range)
        elif text.isdigit() and 100 <= int(text) <= 599:
            exact.append(int(text))
        else:
            raise ValidationFailed(
                f"'status' takes HTTP statuses (429) or classes (5xx); got {value!r}.", param="status"
            )
    return or_(*([T.status.in_(exact)] if exact else []), *ranges)


def conditions(flt: UsageFilter) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions; raises ``ValidationFailed`` naming the field that is wrong."""
    if flt.start is not None and flt.end is not None and flt.end <= flt.start:
        raise ValidationFailed("'end' must be after 'start'.", param="end")
    found: list[ColumnElement[bool]] = []
    if flt.start is not None:
        found.append(T.created_at >= flt.start)
    if flt.end is not None:
        found.append(T.created_at < flt.end)
    values: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
        ("user_id", T.user_id, flt.user_ids),
        ("key_id", T.key_id, flt.key_ids),
        ("organization_id", T.organization_id, flt.organization_ids),
        ("router", T.router, flt.routers),
        ("endpoint", T.endpoint, flt.endpoints),
        ("provider", T.provider, flt.providers),
        ("status", T.status, flt.statuses),
    )
    for name, column, given in values:
        if not given:
            continue
        if len(given) > MAX_VALUES:
            raise ValidationFailed(f"Give at most {MAX_VALUES} values for '{name}'.", param=name)
        found.append(_status_condition(given) if name == "status" else column.in_(given))
    return found


def to_domain(row: UsageRecordRow) -> UsageEntry:
    return UsageEntry(
        id=row.id,
        record=UsageRecord(
            request_id=row.request_id,
            created_at=row.created_at,
            user_id=row.user_id,
            key_id=row.key_id,
            organization_id=row.organization_id,
            router=row.router,
            provider=row.provider,
            endpoint=row.endpoint,
            status=row.status,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cached_tokens=row.cached_tokens,
            cost=row.cost,
            latency_ms=row.latency_ms,
            ttft_ms=row.ttft_ms,
            kwh=row.kwh,
            kgco2eq=row.kgco2eq,
        ),
    )


def _capped_count(where: list[ColumnElement[bool]]) -> Select[Any]:
    """Counts matching records, stopping at ``COUNT_CAP + 1``: an index range scan of bounded length."""
    matching = select(literal(1).label("one")).select_from(T).where(*where).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(matching)


async def list_usage(platform: Platform, flt: UsageFilter, *, limit: int, offset: int) -> Page[UsageEntry]:
    """A page of records, newest first. ``extra["total_capped"]`` is true when more than ``COUNT_CAP`` match
    (``total`` is then ``COUNT_CAP``)."""
    where = conditions(flt)
    statement = select(T).where(*where).order_by(T.created_at.desc(), T.id.desc()).limit(limit).offset(offset)
    async with platform.sessions() as session:
        rows = (await session.execute(statement)).scalars().all()
        if len(rows) < limit and (rows or offset == 0):
            total = offset + len(rows)  # the last page: no need to count
        else:
            total = int((await session.execute(_capped_count(where))).scalar_one())
    capped = total > COUNT_CAP
    return Page([to_domain(row) for row in rows], min(total, COUNT_CAP), limit, offset, {"total_capped": capped})


async def search_usage(platform: Platform, query: ListQuery) -> Page[UsageEntry]:
    """The filter DSL over ``SEARCH_FIELDS``; newest first unless the query sorts otherwise."""
    if not query.sort:
        query = ListQuery(query.filters, NEWEST_FIRST, query.limit, query.offset)
    return await list_page(platform, T, SEARCH_FIELDS, query, to_domain)


class GroupBy(StrEnum):
    day = "day"
    router = "router"
    user = "user"
    key = "key"
    organization = "organization"
    endpoint = "endpoint"
    provider = "provider"

    @property
    def field(self) -> str:
        """The name of the group's value in an answer."""
        return f"{self.value}_id" if self in (GroupBy.user, GroupBy.key, GroupBy.organization) else self.value


_COLUMNS: dict[GroupBy, Any] = {
    GroupBy.router: T.router,
    GroupBy.user: T.user_id,
    GroupBy.key: T.key_id,
    GroupBy.organization: T.organization_id,
    GroupBy.endpoint: T.endpoint,
    GroupBy.provider: T.provider,
}


def parse_group_by(values: Sequence[str]) -> tuple[GroupBy, ...]:
    """``["day,router", "user"]`` → the groupings, in order, once each; unknown names are a 422 on
    ``group_by``."""
    found: list[GroupBy] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            try:
                found.append(GroupBy(name))
            except ValueError:
                raise ValidationFailed(
                    f"Cannot group by '{name}'; use any of: {', '.join(g.value for g in GroupBy)}.",
                    param="group_by",
                ) from None
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class UsageFigures:
    requests: int = 0
    errors: int = 0
    """Records with a status of 400 or more (refusals included)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    kwh: float | None = None
    """Null when no record of the group has a figure (none reached a provider with known parameters)."""
    kgco2eq: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: UsageFigures) -> UsageFigures:
        def both(a: float | None, b: float | None) -> float | None:
            return None if a is None and b is None else (a or 0.0) + (b or 0.0)

        return UsageFigures(
            self.requests + other.requests,
            self.errors + other.errors,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
            both(self.kwh, other.kwh),
            both(self.kgco2eq, other.kgco2eq),
        )


@dataclass(frozen=True, slots=True)
class UsageGroup:
    key: dict[str, Any]
    """The grouping's fields and their values (``{"day": "2026-01-31", "router": "gpt-4o"}``)."""
    figures: UsageFigures


@dataclass(frozen=True, slots=True)
class UsageSummary:
    group_by: tuple[GroupBy, ...]
    groups: list[UsageGroup]
    totals: UsageFigures
    """Over every matching record, also when ``truncated``."""
    truncated: bool
    """More groups matched than the answer holds."""
    start: datetime | None
    end: datetime | None


def _group_key(group: GroupBy, dialect: str) -> ColumnElement[Any]:
    if group is GroupBy.day:  # the UTC day as YYYY-MM-DD: times are stored as naive UTC on both databases
        day: ColumnElement[Any] = (
            func.to_char(T.created_at, "YYYY-MM-DD") if dialect == "postgresql" else func.date(T.created_at)
        )
        return day
    column: ColumnElement[Any] = _COLUMNS[group]
    if dialect != "sqlite":
        return column
    # SQLite would group by walking the column's index, reading every record out of order (2-3x slower at a
    # million records than scanning and sorting); an expression of the column leaves the index to the filters.
    return column + 0 if group in (GroupBy.user, GroupBy.key, GroupBy.organization) else column.concat("")


_FIGURES = (
    func.count().label("requests"),
    func.coalesce(func.sum(case((T.status >= 400, 1), else_=0)), 0).label("errors"),
    func.coalesce(func.sum(T.prompt_tokens), 0).label("prompt_tokens"),
    func.coalesce(func.sum(T.completion_tokens), 0).label("completion_tokens"),
    func.coalesce(func.sum(T.cost), 0.0).label("cost"),
    func.sum(T.kwh).label("kwh"),
    func.sum(T.kgco2eq).label("kgco2eq"),
)


def _figures(row: Any) -> UsageFigures:
    return UsageFigures(
        requests=int(row.requests),
        errors=int(row.errors),
        prompt_tokens=int(row.prompt_tokens),
        completion_tokens=int(row.completion_tokens),
        cost=float(row.cost),
        kwh=None if row.kwh is None else float(row.kwh),
        kgco2eq=None if row.kgco2eq is None else float(row.kgco2eq),
    )


async def summarize_usage(
    platform: Platform, flt: UsageFilter, group_by: Sequence[GroupBy], *, limit: int = 1000
) -> UsageSummary:
    """Sums per group, groups in ascending order of their fields (days oldest first, nulls last); at most
    ``limit`` groups."""
    if not 1 <= limit <= MAX_GROUPS:
        raise ValidationFailed(f"'limit' must be between 1 and {MAX_GROUPS}.", param="limit")
    where = conditions(flt)
    group_by = tuple(dict.fromkeys(group_by))
    dialect = platform.engine.dialect.name
    keys = [_group_key(g, dialect).label(g.field) for g in group_by]
    async with platform.sessions() as session:
        if not keys:
            row = (await session.execute(select(*_FIGURES).where(*where))).one()
            return UsageSummary(group_by, [UsageGroup({}, _figures(row))], _figures(row), False, flt.start, flt.end)
        statement = (
            select(*keys, *_FIGURES)
            .where(*where)
            .group_by(*keys)
            .order_by(*(key.asc().nulls_last() for key in keys))
            .limit(limit + 1)
        )
        rows = (await session.execute(statement)).all()
        truncated = len(rows) > limit
        groups = [UsageGroup({g.field: getattr(row, g.field) for g in group_by}, _figures(row)) for row in rows[:limit]]
        if truncated:
            totals = _figures((await session.execute(select(*_FIGURES).where(*where))).one())
        else:
            totals = sum((g.figures for g in groups), UsageFigures())
    return UsageSummary(group_by, groups, totals, truncated, flt.start, flt.end)
