"""Bad bodies on every write route of the route table (routes added later are covered as they come).

Malformed JSON answers 400; a body that is not an object 400 or 422; a field of the wrong type, a missing
required field or an unknown field 422 naming the field in ``error.param``; a body over ``max_body_bytes``
413.
Every answer has the one error shape, no traceback, and nothing at all is written to the store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from switchyard.api.app import create_app
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import Base
from tests.api.route_table import Endpoint, ResourceMaker, assert_error_shape, endpoints, example_body

LIMIT = 2048
WRITE_METHODS = {"POST", "PATCH", "PUT"}
VOLATILE = {("api_keys", "last_used_at")}
"""Columns written off the request path (key activity is noted by any authenticated call)."""
WRONG_VALUES: list[Any] = [{"unexpected": ["object"]}, ["a", "list"], "not a valid value", 12.5]
"""Tried in turn: the first one a field's type refuses is sent for it."""
ANY_PARAM = "<any>"

Snapshot = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Case:
    what: str
    content: bytes
    statuses: frozenset[int]
    param: str | None = ANY_PARAM
    """The expected ``error.param``: a field name (a nested path under it also counts), or ``ANY_PARAM``."""


@pytest.fixture
async def small_app(settings: Settings, platform: Platform) -> AsyncIterator[FastAPI]:
    """The app with a small body limit, so that an oversize body is cheap to send."""
    app = create_app(settings.model_copy(update={"max_body_bytes": LIMIT}), platform)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def small_client(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A server error comes back as a 500 answer (to be reported with its route), not raised in the test."""
    transport = httpx.ASGITransport(app=small_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def snapshot(platform: Platform) -> Snapshot:
    """Every row of every table (audit_logs included), but for the columns in ``VOLATILE``."""
    rows: Snapshot = {}
    async with platform.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            result = await conn.execute(select(*columns).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    changed = [
        f"{name}: {len(before[name])} rows before, {len(after[name])} after"
        + ("" if len(before[name]) != len(after[name]) else " (same count, changed contents)")
        for name in before
        if before[name] != after[name]
    ]
    assert not changed, "bad requests wrote to the store:\n" + "\n".join(changed)


def write_routes(app: FastAPI) -> list[Endpoint]:
    routes = [e for e in endpoints(app) if e.method in WRITE_METHODS and e.path.startswith("/api/v1")]
    assert {"POST /api/v1/users", "PATCH /api/v1/users/{user_id}", "POST /api/v1/auth/login"} <= {
        str(e) for e in routes
    }, "the route table lost its write routes"
    return routes


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def _wrong_value(model: type[BaseModel], body: dict[str, Any], field: str) -> Any:
    """A value of the wrong type for ``field``: refused as a whole if possible (a list for an object field),
    else refused inside (a dict of unknown keys for a dict field); None when the field takes anything."""
    inside = None
    for candidate in WRONG_VALUES:
        try:
            model.model_validate({**body, field: candidate})
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            if loc == (field,):
                return candidate
            if loc[:1] == (field,) and inside is None:
                inside = candidate
    return inside


def body_cases(endpoint: Endpoint) -> Iterator[Case]:
    model, valid = endpoint.body, example_body(endpoint)
    assert model is not None and valid is not None
    yield Case("malformed JSON", b'{"name": "unterminated', frozenset({400}))
    yield Case("a JSON array", _dump([valid]), frozenset({400, 422}))
    yield Case("a JSON string", _dump("a string"), frozenset({400, 422}))
    yield Case("JSON null", b"null", frozenset({400, 422}))
    for name, info in model.model_fields.items():
        field = info.alias or name
        wrong = _wrong_value(model, valid, field)
        if wrong is not None:
            yield Case(f"{field} = {wrong!r}", _dump({**valid, field: wrong}), frozenset({422}), field)
        if info.is_required():
            missing = {k: v for k, v in valid.items() if k != field}
            yield Case(f"no {field}", _dump(missing), frozenset({422}), field)
    yield Case("an unknown field", _dump({**valid, "unexpected_field": 1}), frozenset({422}), "unexpected_field")


def check(answer: httpx.Response, context: str, case: Case) -> str | None:
    """A description of what is wrong with the answer, or None."""
    if answer.status_code not in case.statuses:
        return f"{context}: {answer.status_code}, expected {sorted(case.statuses)}: {answer.text[:300]}"
    try:
        error = assert_error_shape(answer, context)
    except AssertionError as exc:
        return str(exc)
    param = error["param"]
    if case.param != ANY_PARAM and not (param == case.param or str(param).startswith(f"{case.param}.")):
        return f"{context}: error.param is {param!r}, expected {case.param!r}"
    return None


async def test_bad_bodies_are_refused_and_write_nothing(
    small_app: FastAPI, small_client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    routes = [e for e in write_routes(small_app) if e.body is not None]
    maker = ResourceMaker(small_client, endpoints(small_app))
    paths = {e: await maker.path_for(e, admin_headers) for e in routes}
    headers = {**admin_headers, "content-type": "application/json"}
    before = await snapshot(platform)
    assert before["audit_logs"] and before["users"], "the snapshot must see the rows written so far"
    failures, sent = [], 0
    for endpoint in routes:
        for case in body_cases(endpoint):
            answer = await small_client.request(endpoint.method, paths[endpoint], content=case.content, headers=headers)
            sent += 1
            failure = check(answer, f"{endpoint} with {case.what}", case)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} of {sent} bad requests were mishandled:\n" + "\n".join(failures)
    assert_unchanged(before, await snapshot(platform))


async def _chunks(size: int) -> AsyncIterator[bytes]:
    """A body sent without Content-Length, so that only counting the bytes received can refuse it."""
    yield b'{"name": "'
    for _ in range(size // 512 + 1):
        yield b"x" * 512
    yield b'"}'


async def test_oversize_bodies_are_413_and_write_nothing(
    small_app: FastAPI, small_client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    routes = write_routes(small_app)
    maker = ResourceMaker(small_client, endpoints(small_app))
    paths = {e: await maker.path_for(e, admin_headers) for e in routes}
    headers = {**admin_headers, "content-type": "application/json"}
    oversize = _dump({"name": "x" * LIMIT})
    case = Case("an oversize body", oversize, frozenset({413}), None)
    before = await snapshot(platform)
    failures = []
    for endpoint in routes:
        declared = await small_client.request(endpoint.method, paths[endpoint], content=oversize, headers=headers)
        failures.append(check(declared, f"{endpoint} with {len(oversize)} bytes (Content-Length)", case))
        if endpoint.body is not None:  # a route that reads no body never counts the bytes of a stream
            streamed = await small_client.request(
                endpoint.method, paths[endpoint], content=_chunks(LIMIT), headers=headers
            )
            failures.append(check(streamed, f"{endpoint} with a streamed body over {LIMIT} bytes", case))
    problems = [f for f in failures if f]
    assert not problems, "\n".join(problems)
    assert_unchanged(before, await snapshot(platform))
