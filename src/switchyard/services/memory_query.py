"""A ``ListQuery`` applied to objects in memory, with the semantics ``store/query.py`` gives SQL.

For resources that do not live in Switchyard's tables (MLflow's experiments, runs and logged models): the
caller fetches the candidates, this filters, sorts and cuts the page. Values are coerced to the field's type
first, so a bad value is a 400 naming the field; ``contains`` and ``startsWith`` ignore case; ``regex``
searches; ``gt``/``lt`` never match a missing value; missing values sort last. A field may be a family,
``metrics.<name>``, declared by its prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from switchyard.errors import InvalidFilter
from switchyard.listing import Filter, FilterOp, ListQuery, Page, Sort

T = TypeVar("T")

_TEXT_OPS = {FilterOp.starts_with, FilterOp.contains, FilterOp.regex}


@dataclass(frozen=True, slots=True)
class Field(Generic[T]):
    type: type
    """``str``, ``int``, ``float`` or ``datetime``."""
    get: Callable[[T], Any]


@dataclass(frozen=True, slots=True)
class FieldFamily(Generic[T]):
    """``<prefix>.<key>`` fields: ``get(item, key)``."""

    type: type
    get: Callable[[T, str], Any]


@dataclass(frozen=True)
class Fields(Generic[T]):
    named: Mapping[str, Field[T]]
    families: Mapping[str, FieldFamily[T]]

    def resolve(self, name: str, param: str) -> Field[T]:
        field = self.named.get(name)
        if field is not None:
            return field
        prefix, dot, key = name.partition(".")
        family = self.families.get(prefix)
        if dot and key and family is not None:
            return Field(family.type, lambda item: family.get(item, key))
        known = sorted([*self.named, *(f"{p}.<name>" for p in self.families)])
        raise InvalidFilter(f"Unknown field '{name}'. Fields: {', '.join(known)}.", param=param)


def _coerce(name: str, kind: type, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is datetime:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, dict | list):
            raise ValueError(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidFilter(f"Value {value!r} is not a valid {kind.__name__} for field '{name}'.", param=name) from None


def _predicate(fields: Fields[T], flt: Filter) -> Callable[[T], bool]:
    field = fields.resolve(flt.field, flt.field)
    if not flt.values:
        raise InvalidFilter(f"Filter on '{flt.field}' needs at least one value.", param=flt.field)
    if flt.op is not FilterOp.in_ and len(flt.values) != 1:
        raise InvalidFilter(f"Operator '{flt.op}' takes exactly one value.", param=flt.field)
    if flt.op in _TEXT_OPS and field.type is not str:
        raise InvalidFilter(f"Operator '{flt.op}' applies to text fields only.", param=flt.field)
    values = [_coerce(flt.field, field.type, v) for v in flt.values]
    value, get = values[0], field.get
    match flt.op:
        case FilterOp.eq:
            return lambda item: get(item) == value
        case FilterOp.ne:
            return lambda item: get(item) != value
        case FilterOp.in_:
            return lambda item: get(item) in values
        case FilterOp.starts_with:
            return lambda item: str(get(item) or "").lower().startswith(str(value).lower()) and get(item) is not None
        case FilterOp.contains:
            return lambda item: get(item) is not None and str(value).lower() in str(get(item)).lower()
        case FilterOp.gt:
            return lambda item: get(item) is not None and value is not None and get(item) > value
        case FilterOp.lt:
            return lambda item: get(item) is not None and value is not None and get(item) < value
        case FilterOp.regex:
            try:
                pattern = re.compile(str(value))
            except re.error as exc:
                raise InvalidFilter(f"Invalid regular expression: {exc}.", param=flt.field) from None
            return lambda item: get(item) is not None and pattern.search(str(get(item))) is not None
    raise InvalidFilter(f"Unknown operator '{flt.op}'.", param=flt.field)  # pragma: no cover


def _sort_key(field: Field[T], descending: bool) -> Callable[[T], tuple[bool, Any]]:
    def key(item: T) -> tuple[bool, Any]:
        value = field.get(item)
        return (value is None) != descending, value if value is not None else 0

    return key


def page_of(items: Iterable[T], fields: Fields[T], query: ListQuery, default_sort: tuple[Sort, ...]) -> Page[T]:
    """The page of ``items`` the query asks for, and how many match."""
    predicates = [_predicate(fields, flt) for flt in query.filters]
    matching = [item for item in items if all(test(item) for test in predicates)]
    sort = query.sort or default_sort
    resolved = [(fields.resolve(s.field, s.field), s.descending) for s in sort]
    for field, descending in reversed(resolved):  # stable sorts, last key first
        matching.sort(key=_sort_key(field, descending), reverse=descending)
    return Page(matching[query.offset : query.offset + query.limit], len(matching), query.limit, query.offset)
