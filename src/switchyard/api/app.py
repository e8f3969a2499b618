"""Builds the ASGI application: routes, error handling, body limit, and the platform's start and stop."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from switchyard import __version__
from switchyard.api import error_handlers
from switchyard.api.body_limit import BodyLimitMiddleware
from switchyard.api.gateway.dispatch import InferenceDispatch
from switchyard.api.gateway.errors import anthropic_error, openai_error
from switchyard.api.gateway.openapi_doc import add_inference_paths
from switchyard.api.gateway.wire_http import common_headers, request_id, send_bytes
from switchyard.api.mlflow_mount import MlflowMount
from switchyard.api.responses import OrjsonResponse
from switchyard.api.routes import ROUTERS
from switchyard.api.v2.front import V2Dispatch
from switchyard.errors import SwitchyardError
from switchyard.services.deployments_host import DeploymentHost
from switchyard.services.platform import Platform
from switchyard.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """Switchyard's management and inference API.

Authenticate with `Authorization: Bearer <API key or session token>`. Errors always have the shape
`{"error": {"message", "type", "code", "param"}}`.
"""


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the route function's name (unique across the app)."""
    return route.name


class SwitchyardApp(FastAPI):
    """The FastAPI application (management API, OpenAPI document, lifespan) with the inference front door in
    front of it: ``/v1`` requests go straight to the raw handlers, never through FastAPI's and Starlette's
    middleware stack (``ServerErrorMiddleware``, FastAPI's telemetry and body-limit layers, our own middleware
    and their ``send`` wrappers: ~27 µs of CPU per chat request, ~55 per stream; bench/RESULTS.md, profiling
    step 2). An unexpected error there is still logged and answered 500 in the error shape."""

    inference: InferenceDispatch
    """``InferenceDispatch`` over FastAPI's own stack (set by ``create_app``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            try:  # the handler itself, not InferenceDispatch's __call__: one coroutine frame less per wake-up
                await self.inference.handler(scope)(scope, receive, send)
            except Exception as exc:
                await inference_failed(scope, send, exc)
            return
        await super().__call__(scope, receive, send)

    async def fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handling, middleware stack included."""
        await super().__call__(scope, receive, send)


async def inference_failed(scope: Scope, send: Send, exc: Exception) -> None:
    """A bug, not a user's error: logged, and answered 500 in the front door's dialect. When the answer had
    already begun (a stream), the error goes on to the server, which ends the connection."""
    log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
    error = SwitchyardError("Internal server error.", code="internal_error")
    dialect = anthropic_error if scope["path"].startswith("/v1/messages") else openai_error
    try:
        await send_bytes(send, error.status, dialect(error), common_headers(request_id(scope), 0.0))
    except Exception:  # the answer had begun: nothing more can be said in it
        raise exc from None


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> SwitchyardApp:
    settings = settings or Settings()
    platform = platform or Platform.build(settings)
    deployments = DeploymentHost(platform)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        await deployments.start()
        try:
            yield
        finally:
            await deployments.close()
            await platform.close()

    app = SwitchyardApp(
        title="Switchyard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        generate_unique_id_function=operation_id,
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            add_inference_paths(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.platform = platform
    app.state.settings = settings
    app.state.deployments = deployments
    for router in ROUTERS:
        app.include_router(router)
    error_handlers.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MlflowMount, platform=platform)  # /mlflow: MLflow's own server, not in the OpenAPI document
    app.add_middleware(V2Dispatch, platform=platform, host=deployments)  # /v2 answers in its own dialect
    app.inference = InferenceDispatch(app.fastapi, platform=platform)  # in front of it all: see SwitchyardApp
    return app
