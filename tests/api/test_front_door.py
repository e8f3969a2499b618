"""The application's front door: ``/v1`` goes straight to the inference handlers, past FastAPI's middleware stack,
yet a bug there still answers 500 in the error shape; everything else goes through the FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.api.app import SwitchyardApp, create_app
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from tests.conftest import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


class Seen:
    """A middleware that notes the paths that pass through FastAPI's stack."""

    paths: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
async def front(settings: Settings, platform: Platform) -> AsyncIterator[tuple[SwitchyardApp, httpx.AsyncClient]]:
    app = create_app(settings, platform)
    app.add_middleware(Seen)
    Seen.paths = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def test_v1_skips_the_fastapi_stack_and_the_rest_goes_through_it(
    front: tuple[SwitchyardApp, httpx.AsyncClient],
) -> None:
    _, client = front
    models = await client.get("/v1/models", headers=AUTH)
    missing = await client.get("/v1/nothing-here", headers=AUTH)
    roles = await client.get("/api/v1/roles", headers=AUTH)

    assert models.status_code == 200 and models.json()["object"] == "list"
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert roles.status_code == 200
    assert Seen.paths == ["/api/v1/roles"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"error": {"message": "Internal server error.", "type": "api_error",
                                            "code": "internal_error", "param": None}}),
        ("/v1/messages", {"type": "error", "error": {"type": "api_error", "message": "Internal server error."}}),
    ],
)  # fmt: skip
async def test_an_unexpected_error_in_v1_is_a_500_in_the_front_doors_shape(
    front: tuple[SwitchyardApp, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: dict[str, object],
) -> None:
    app, client = front

    async def broken(token: str) -> None:
        raise RuntimeError("a bug in key resolution")

    monkeypatch.setattr(app.state.platform.principals, "resolve", broken)
    answer = await client.post(path, json={"model": "m", "messages": []}, headers={**AUTH, "x-request-id": "rid-1"})

    assert answer.status_code == 500
    assert answer.json() == body
    assert answer.headers["x-request-id"] == "rid-1"
    assert "a bug in key resolution" not in answer.text
    assert any("unexpected error on POST " + path in r.getMessage() for r in caplog.records)
    assert Seen.paths == []
