"""One error body everywhere: every family of routes (``/api/v1/<family>``, found in the route table) answers
each kind of error — 400 invalid filter, 401, 403, 404, 405, 409, 422 — as
``{"error": {"message", "type", "code", "param"}}``, with no traceback in the body or in a header."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI

from switchyard import __version__
from switchyard.api.app import create_app
from switchyard.api.auth import public
from switchyard.api.gateway.openapi_doc import ROUTES as INFERENCE_ROUTES
from switchyard.api.listing import list_query
from switchyard.api.v2.openapi_doc import add_v2_paths
from switchyard.settings import Settings
from tests.api.route_table import (
    MISSING_ID,
    PARAM,
    Endpoint,
    assert_error_shape,
    assert_no_traceback,
    endpoints,
    example_body,
    uses_dependency,
)
from tests.conftest import SECRET_KEY, CallerFactory

Headers = dict[str, str]
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
    500: "api_error",
}


def families(app: FastAPI) -> dict[str, list[Endpoint]]:
    """Routes by their first path segment under ``/api/v1`` (``users``, ``keys``…); ``health`` the rest."""
    grouped: dict[str, list[Endpoint]] = defaultdict(list)
    for endpoint in endpoints(app):
        parts = endpoint.path.removeprefix("/api/v1").strip("/").split("/")
        grouped[parts[0] if endpoint.path.startswith("/api/v1") else "health"].append(endpoint)
    return grouped


def expect(answer: httpx.Response, status: int, context: str, code: str | None = None) -> dict[str, str | None]:
    assert answer.status_code == status, f"{context}: {answer.status_code}, expected {status}: {answer.text[:300]}"
    error = assert_error_shape(answer, context)
    assert error["type"] == TYPES[status], f"{context}: type {error['type']!r}"
    if code is not None:
        assert error["code"] == code, f"{context}: code {error['code']!r}, expected {code!r}"
    return error


async def test_unknown_route_and_wrong_method(app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers) -> None:
    for method, path in [
        ("GET", "/api/v1/no-such-thing"),
        ("POST", "/api/v1/no-such-thing"),
        ("GET", "/nope"),
    ]:
        answer = await client.request(method, path, headers=admin_headers)
        expect(answer, 404, f"{method} {path}", "not_found")
    methods_by_path: dict[str, set[str]] = defaultdict(set)
    for endpoint in endpoints(app):
        methods_by_path[PARAM.sub(str(MISSING_ID), endpoint.path)].add(endpoint.method)
    for path, methods in methods_by_path.items():
        method = next(m for m in ["PUT", "DELETE", "PATCH", "POST", "GET"] if m not in methods)
        answer = await client.request(method, path, headers=admin_headers)
        expect(answer, 405, f"{method} {path}", "method_not_allowed")
        # Starlette's Allow names the methods of the first route matching the path only, not all of them.
        allow = set(answer.headers["allow"].replace(" ", "").split(","))
        assert allow and allow <= methods, f"{method} {path}: Allow {allow}"


async def test_every_family_answers_each_error_in_the_one_shape(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, new_caller: CallerFactory
) -> None:
    nobody = (await new_caller())["headers"]
    seen: dict[int, set[str]] = defaultdict(set)
    for family, routes in families(app).items():
        guarded = [e for e in routes if len(e.guards) == 1 and not e.is_public]
        for endpoint in guarded[:1]:
            path = PARAM.sub(str(MISSING_ID), endpoint.path)
            answer = await client.request(endpoint.method, path, json=example_body(endpoint))
            expect(answer, 401, f"{endpoint} without a token", "missing_api_key")
            bad = {"Authorization": "Bearer sy-not-a-real-key"}
            answer = await client.request(endpoint.method, path, json=example_body(endpoint), headers=bad)
            expect(answer, 401, f"{endpoint} with an unknown key", "invalid_api_key")
            seen[401].add(family)
        for endpoint in [e for e in guarded if e.permission is not None][:1]:
            path = PARAM.sub(str(MISSING_ID), endpoint.path)
            answer = await client.request(endpoint.method, path, json=example_body(endpoint), headers=nobody)
            expect(answer, 403, f"{endpoint} without its permission", "permission_denied")
            seen[403].add(family)
        for endpoint in [e for e in guarded if e.method == "GET" and len(e.params) == 1][:1]:
            answer = await client.get(PARAM.sub(str(MISSING_ID), endpoint.path), headers=admin_headers)
            expect(answer, 404, f"{endpoint} for an unknown id", "not_found")
            seen[404].add(family)
        for endpoint in [e for e in guarded if e.body is not None and not e.params][:1]:
            body = {**(example_body(endpoint) or {}), "unexpected_field": 1}
            answer = await client.request(endpoint.method, endpoint.path, json=body, headers=admin_headers)
            error = expect(answer, 422, f"{endpoint} with an unknown field", "validation_error")
            assert error["param"] == "unexpected_field", f"{endpoint}: param {error['param']!r}"
            seen[422].add(family)
        for endpoint in [e for e in guarded if e.method == "GET" and uses_dependency(e.dependant, list_query)][:1]:
            answer = await client.get(endpoint.path, params={"no_such_field": "1"}, headers=admin_headers)
            error = expect(answer, 400, f"{endpoint} filtered on an unknown field", "invalid_filter")
            assert error["param"] == "no_such_field", f"{endpoint}: param {error['param']!r}"
            seen[400].add(family)
    core = {"users", "roles", "organizations", "keys"}
    for status in (401, 404, 422, 400):
        assert core <= seen[status], f"{status} was not checked on {core - seen[status]}"
    assert {"users", "roles", "organizations"} <= seen[403]


async def test_conflicts_answer_409_in_the_one_shape(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: Headers
) -> None:
    conflicted = set()
    creators = [e for e in endpoints(app) if e.method == "POST" and e.body is not None and not e.params]
    for endpoint in [e for e in creators if not e.path.endswith(("/search", "/login"))]:
        body = example_body(endpoint)
        first = await client.post(endpoint.path, json=body, headers=admin_headers)
        assert first.status_code in (200, 201), f"{endpoint}: {first.status_code} {first.text[:300]}"
        again = await client.post(endpoint.path, json=body, headers=admin_headers)
        if again.status_code != 409:
            assert again.status_code in (200, 201), f"{endpoint} twice: {again.status_code} {again.text[:300]}"
            continue
        expect(again, 409, f"{endpoint} twice", "conflict")
        conflicted.add(endpoint.path)
    assert {"/api/v1/users", "/api/v1/roles", "/api/v1/organizations"} <= conflicted
    me = (await client.get("/api/v1/me", headers=admin_headers)).json()
    expect(await client.delete(f"/api/v1/users/{me['id']}", headers=admin_headers), 409, "deleting oneself")


async def test_health_version_openapi_and_docs(app: FastAPI, client: httpx.AsyncClient) -> None:
    for path in ["/health/live", "/health/ready"]:
        answer = await client.get(path)
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"}), f"{path}: {answer.text}"
    version = await client.get("/api/v1/version")
    assert (version.status_code, version.json()) == (200, {"name": "switchyard", "version": __version__})

    openapi = await client.get("/openapi.json")
    assert openapi.status_code == 200
    operations = {
        (method.upper(), path): operation["operationId"]
        for path, item in openapi.json()["paths"].items()
        for method, operation in item.items()
    }
    ids = list(operations.values())
    assert len(ids) == len(set(ids)), f"duplicate operation ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    inference = {(method.upper(), path): operation_id for path, method, operation_id, *_ in INFERENCE_ROUTES}
    v2: dict[str, Any] = {}
    add_v2_paths(v2)
    inference |= {(m.upper(), path): op["operationId"] for path, item in v2["paths"].items() for m, op in item.items()}
    assert operations == {(e.method, e.path): e.name for e in endpoints(app)} | inference

    docs = await client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")


async def test_an_unexpected_error_is_a_500_in_the_one_shape_without_traceback(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SECRET_KEY))

    async def explode() -> None:
        raise RuntimeError('secret internals: File "/srv/app.py", line 1')

    app.add_api_route("/api/v1/explode", explode, dependencies=[Depends(public)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/api/v1/explode")
    expect(answer, 500, "a route that raises", "internal_error")
    assert "secret internals" not in answer.text
    assert set(answer.headers) == {"content-length", "content-type"}, answer.headers
    assert_no_traceback(answer, "a route that raises")
