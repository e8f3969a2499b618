"""The app's route table as data, for tests that must cover every route, including routes added later.

``endpoints(app)`` lists every management route (``/api/v1/*`` and ``/health/*``) once per method, with the
guard it declares (``api/auth.py``: ``Authenticated(permission)``, ``Authenticated(None)`` or ``public``) and
its body model. ``example_body`` derives a minimal valid body from that model; ``ResourceMaker`` fills path
parameters with the id of a fresh resource created through the collection's own ``POST`` route.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError

from switchyard.api.auth import Authenticated, public
from tests.conftest import ADMIN_PASSWORD

MISSING_ID = 987654321
"""An id no resource has: a 404 behind it still shows that authorization passed."""

PARAM = re.compile(r"{(\w+)(?::\w+)?}")

KNOWN_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    # Fields a schema cannot tell: credentials of a type need that type's keys; a login needs a real user.
    ("POST", "/api/v1/credentials"): {"type": "hf", "data": {"token": "hf_route_table_token"}},
    ("POST", "/api/v1/auth/login"): {"email": "admin@localhost", "password": ADMIN_PASSWORD},
    ("POST", "/api/v1/providers"): {"base_url": "https://upstream.example.com/v1"},
    ("POST", "/api/v1/deployments"): {"model": "models:/route-table-model@champion"},
}
"""Values merged over the generated minimal body of a route, for what its schema cannot tell."""

Guard = Authenticated | Callable[..., Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    name: str
    guards: tuple[Guard, ...]
    """Every distinct guard found in the route's dependency tree; a well-declared route has exactly one."""
    body: type[BaseModel] | None
    dependant: Dependant = field(compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return [match.group(1) for match in PARAM.finditer(self.path)]

    @property
    def guard(self) -> Guard:
        assert len(self.guards) == 1, f"{self} declares {len(self.guards)} guards"
        return self.guards[0]

    @property
    def is_public(self) -> bool:
        return self.guard is public

    @property
    def permission(self) -> str | None:
        guard = self.guard
        return None if guard is public else getattr(guard, "permission", None)


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def guards_of(dependant: Dependant) -> tuple[Guard, ...]:
    found: dict[object, Guard] = {}
    for sub in _walk(dependant):
        call = sub.call
        if isinstance(call, Authenticated):
            found.setdefault(("authenticated", call.permission), call)
        elif call is public:
            found.setdefault("public", call)
    return tuple(found.values())


def uses_dependency(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call for sub in _walk(dependant))


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    body_field = route.body_field
    annotation = body_field.field_info.annotation if body_field is not None else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route under ``/api/v1`` or ``/health``, once per method (HEAD aside)."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if not isinstance(route, APIRoute) or not (path.startswith("/api/v1") or path.startswith("/health")):
            continue
        dependant: Dependant = context.dependant
        for method in sorted((context.methods or set()) - {"HEAD"}):
            found.append(Endpoint(method, path, route.name, guards_of(dependant), _body_model(route), dependant))
    return found


_counter = itertools.count(1)


def _example(schema: dict[str, Any], name: str, defs: dict[str, Any], unique: int) -> Any:
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[-1]], name, defs, unique)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], name, defs, unique)
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2999-01-01T00:00:00Z"
        if "email" in name or "@" in schema.get("pattern", ""):
            return f"{name}-{unique}@example.com"
        return f"{name}-{unique}"
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [_example(schema.get("items", {}), name, defs, unique)] * schema.get("minItems", 0)
    if kind == "object":
        properties = schema.get("properties", {})
        body = {k: _example(properties[k], k, defs, unique) for k in schema.get("required", [])}
        if not properties and schema.get("minProperties", 0) > 0:
            values = schema.get("additionalProperties") or next(iter(schema.get("patternProperties", {}).values()))
            body["key"] = _example(values, "value", defs, unique)
        return body
    return f"{name}-{unique}"


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def example_body(endpoint: Endpoint) -> dict[str, Any] | None:
    """A minimal valid body for the route (required fields only, unique names), checked against its model."""
    if endpoint.body is None:
        return None
    schema = _schema(endpoint.body)
    body: dict[str, Any] = _example(schema, "body", schema.get("$defs", {}), next(_counter))
    body.update(KNOWN_BODIES.get((endpoint.method, endpoint.path), {}))
    try:
        endpoint.body.model_validate(body)
    except ValidationError as exc:
        message = f"{endpoint}: the generated body {body} is invalid; add the route to KNOWN_BODIES"
        raise AssertionError(f"{message}\n{exc}") from exc
    return body


def query_params(endpoint: Endpoint) -> dict[str, Any]:
    """Values for the route's required query parameters."""
    params = {}
    for param in [p for d in [endpoint.dependant, *_walk(endpoint.dependant)] for p in d.query_params]:
        if param.field_info.is_required():
            schema = TypeAdapter(param.field_info.annotation or Any).json_schema()
            params[param.alias] = _example(schema, param.alias, schema.get("$defs", {}), next(_counter))
    return params


class ResourceMaker:
    """Fills a route's path parameters with ids of fresh resources, created through ``POST`` on the
    collection each parameter names (``/a/{a_id}/b/{b_id}``: an ``a``, then a ``b`` in it)."""

    def __init__(self, client: httpx.AsyncClient, table: list[Endpoint]) -> None:
        self.client = client
        self.creators = {(e.method, e.path): e for e in table}

    async def path_for(self, endpoint: Endpoint, headers: dict[str, str]) -> str:
        template, concrete, done = endpoint.path, "", 0
        for match in PARAM.finditer(template):
            concrete += template[done : match.start()]
            resource_id = await self.create(template[: match.start()].rstrip("/"), concrete.rstrip("/"), headers)
            concrete += str(resource_id)
            done = match.end()
        return concrete + template[done:]

    async def create(self, template: str, collection: str, headers: dict[str, str]) -> int:
        """A new resource's id; ``MISSING_ID`` when the collection has no ``POST`` route or the caller may not
        use it."""
        creator = self.creators.get(("POST", template))
        if creator is None:
            return MISSING_ID
        answer = await self.client.post(collection, json=example_body(creator), headers=headers)
        if answer.status_code == 403:  # the caller may use the route but not create what it acts on
            return MISSING_ID
        assert answer.status_code in (200, 201), f"creating in {collection}: {answer.status_code} {answer.text}"
        created_id = answer.json().get("id")
        return created_id if isinstance(created_id, int) else MISSING_ID


def assert_error_shape(answer: httpx.Response, context: str) -> dict[str, Any]:
    """The one error body, no traceback in it or in a header; returns ``error``."""
    where = f"{context}: {answer.status_code} {answer.text[:500]}"
    assert answer.headers.get("content-type", "").startswith("application/json"), where
    body = answer.json()
    assert isinstance(body, dict) and set(body) == {"error"}, where
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "code", "param"}, where
    assert isinstance(error["message"], str) and error["message"], where
    assert isinstance(error["type"], str) and error["type"], where
    assert error["code"] is None or isinstance(error["code"], str), where
    assert error["param"] is None or isinstance(error["param"], str), where
    assert_no_traceback(answer, context)
    return error


def assert_no_traceback(answer: httpx.Response, context: str) -> None:
    for text in [answer.text, *(f"{k}: {v}" for k, v in answer.headers.items())]:
        assert "Traceback" not in text and 'File "' not in text, f"{context} leaks a traceback: {text[:500]}"
