"""Turns a ``ListQuery`` into SQL over the fields a resource declares searchable.

Values are coerced to the column's Python type first, so a bad value is a 400 naming the field, never a
database error. String matching (``contains``, ``startsWith``) is case-insensitive on every database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from switchyard.errors import InvalidFilter
from switchyard.listing import Filter, FilterOp, ListQuery

RowT = TypeVar("RowT")

Fields = Mapping[str, InstrumentedAttribute[Any]]

_TEXT_OPS = {FilterOp.starts_with, FilterOp.contains, FilterOp.regex}
_SINGLE_VALUE_OPS = set(FilterOp) - {FilterOp.in_}


def _integer_bound(column: InstrumentedAttribute[Any]) -> int:
    sql_type = column.property.columns[0].type
    return 2**63 if isinstance(sql_type, BigInteger) else 2**31


def _python_type(column: InstrumentedAttribute[Any]) -> type:
    try:
        python_type: type = column.property.columns[0].type.python_type
        return python_type
    except (NotImplementedError, AttributeError):  # pragma: no cover - every searchable column has one
        return str


def _coerce(field_name: str, python_type: type, value: Any, bound: int = 2**63) -> Any:
    if value is None:
        return None
    try:
        if python_type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
                return value.lower() in {"true", "1"}
            raise ValueError(value)
        if python_type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            number = int(value)
            if not -bound <= number < bound:
                raise ValueError(value)
            return number
        if python_type is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if python_type is datetime:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, dict | list) or "\x00" in str(value):
            raise ValueError(value)
        return str(value)
    except (TypeError, ValueError):
        raise InvalidFilter(
            f"Value {value!r} is not a valid {python_type.__name__} for field '{field_name}'.",
            param=field_name,
        ) from None


def _condition(fields: Fields, flt: Filter) -> ColumnElement[bool]:
    column = fields.get(flt.field)
    if column is None:
        raise InvalidFilter(
            f"Unknown field '{flt.field}'. Searchable fields: {', '.join(sorted(fields))}.", param=flt.field
        )
    if not flt.values:
        raise InvalidFilter(f"Filter on '{flt.field}' needs at least one value.", param=flt.field)
    if flt.op in _SINGLE_VALUE_OPS and len(flt.values) != 1:
        raise InvalidFilter(f"Operator '{flt.op}' takes exactly one value.", param=flt.field)
    python_type = _python_type(column)
    if flt.op in _TEXT_OPS and python_type is not str:
        raise InvalidFilter(f"Operator '{flt.op}' applies to text fields only.", param=flt.field)
    bound = _integer_bound(column) if python_type is int else 2**63
    values = [_coerce(flt.field, python_type, v, bound) for v in flt.values]
    value = values[0]
    match flt.op:
        case FilterOp.eq:
            return column.is_(None) if value is None else column == value
        case FilterOp.ne:
            return column.is_not(None) if value is None else (column != value) | column.is_(None)
        case FilterOp.in_:
            return column.in_(values)
        case FilterOp.starts_with:
            condition: ColumnElement[bool] = column.istartswith(value, autoescape=True)
            return condition
        case FilterOp.contains:
            condition = column.icontains(value, autoescape=True)
            return condition
        case FilterOp.gt:
            condition = column > value
            return condition
        case FilterOp.lt:
            condition = column < value
            return condition
        case FilterOp.regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise InvalidFilter(f"Invalid regular expression: {exc}.", param=flt.field) from None
            return column.regexp_match(value)
    raise InvalidFilter(f"Unknown operator '{flt.op}'.", param=flt.field)  # pragma: no cover


def filtered(statement: Select[Any], fields: Fields, filters: Sequence[Filter]) -> Select[Any]:
    for flt in filters:
        statement = statement.where(_condition(fields, flt))
    return statement


async def fetch_page(
    session: AsyncSession, entity: type[RowT], fields: Fields, query: ListQuery
) -> tuple[list[RowT], int]:
    """The rows of one page and the total number of rows matching the filters."""
    base = filtered(select(entity), fields, query.filters)
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    ordered = base
    for sort in query.sort or ():
        column = fields.get(sort.field)
        if column is None:
            raise InvalidFilter(
                f"Cannot sort by unknown field '{sort.field}'. Fields: {', '.join(sorted(fields))}.",
                param=sort.field,
            )
        ordered = ordered.order_by(column.desc() if sort.descending else column.asc())
    if "id" in fields:
        ordered = ordered.order_by(fields["id"].asc())  # a stable tie-breaker for paging
    rows = (await session.execute(ordered.limit(query.limit).offset(query.offset))).scalars().all()
    return list(rows), int(total)
