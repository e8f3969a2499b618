"""Who may call what, for every route of the app's route table (routes added later are covered as they come).

Every route declares exactly one guard (``api/auth.py``). A route that needs a permission answers 401 without
a token, 403 to a role holding every other permission, and lets through a role holding just that permission
and an admin; a route for any caller answers 401 without a token and lets a role without permissions through;
a public route needs no token.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from switchyard.api.app import create_app
from switchyard.services.permissions import Permission
from switchyard.settings import Settings
from tests.api.route_table import Endpoint, ResourceMaker, endpoints, example_body, query_params
from tests.conftest import SECRET_KEY, CallerFactory

Headers = dict[str, str]
NON_ADMIN = [p.value for p in Permission if p is not Permission.admin]


def test_every_route_declares_exactly_one_guard(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SECRET_KEY))
    table = endpoints(app)
    assert {"GET /health/live", "GET /api/v1/version", "GET /api/v1/me"} <= {str(e) for e in table}
    undeclared = [f"{e} has no guard" for e in table if not e.guards]
    ambiguous = [f"{e} has {len(e.guards)} guards: {e.guards}" for e in table if len(e.guards) > 1]
    assert not undeclared + ambiguous, (
        "every route must depend on exactly one of Authenticated(permission), Authenticated(None), public:\n"
        + "\n".join(undeclared + ambiguous)
    )


class Matrix:
    """Calls routes as several callers and collects every answer that breaks the rules."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, new_caller: CallerFactory) -> None:
        self.client = client
        self.new_caller = new_caller
        self.maker = ResourceMaker(client, endpoints(app))
        self.callers: dict[frozenset[str], Headers] = {}
        self.failures: list[str] = []
        self.calls = 0

    async def caller(self, *permissions: str) -> Headers:
        key = frozenset(permissions)
        if key not in self.callers:
            self.callers[key] = (await self.new_caller(*permissions))["headers"]
        return self.callers[key]

    async def call(
        self, endpoint: Endpoint, who: str, headers: Headers | None, owner: Headers, allowed: set[int] | None
    ) -> None:
        """``owner`` creates the resources in the path; ``allowed`` is the set of acceptable statuses, or
        None for 'authorized': anything but 401 and 403, and no server error."""
        path = await self.maker.path_for(endpoint, owner)
        answer = await self.client.request(
            endpoint.method, path, json=example_body(endpoint), params=query_params(endpoint), headers=headers
        )
        self.calls += 1
        status = answer.status_code
        ok = status in allowed if allowed is not None else status not in (401, 403) and status < 500
        if not ok:
            expected = sorted(allowed) if allowed is not None else "authorized (not 401/403, < 500)"
            self.failures.append(f"{endpoint} ({path}) as {who}: {status}, expected {expected}: {answer.text[:300]}")


async def test_permission_matrix(app: FastAPI, admin_headers: Headers, new_caller: CallerFactory) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is reported, not raised
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as calls:
        matrix = await run_matrix(Matrix(calls, app, new_caller), app, admin_headers)
    assert not matrix.failures, f"{len(matrix.failures)} of {matrix.calls} calls broke the rules:\n" + "\n".join(
        matrix.failures
    )


async def run_matrix(matrix: Matrix, app: FastAPI, admin_headers: Headers) -> Matrix:
    table = [e for e in endpoints(app) if len(e.guards) == 1]
    for endpoint in table:
        if endpoint.is_public:
            await matrix.call(endpoint, "no token", None, admin_headers, set(range(200, 500)) - {401})
            continue
        await matrix.call(endpoint, "no token", None, admin_headers, {401})
        permission = endpoint.permission
        if permission is None:
            nobody = await matrix.caller()
            await matrix.call(endpoint, "a role without permissions", nobody, nobody, None)
        else:
            others = await matrix.caller(*(p for p in NON_ADMIN if p != permission))
            await matrix.call(endpoint, f"every permission but {permission}", others, admin_headers, {403})
            just = await matrix.caller(permission)
            await matrix.call(endpoint, f"just {permission}", just, admin_headers, None)
        await matrix.call(endpoint, "admin", admin_headers, admin_headers, None)

    guarded = {e.permission for e in table if not e.is_public}
    assert {None, Permission.admin, Permission.manage_users} <= guarded, "the matrix lost its routes"
    return matrix
