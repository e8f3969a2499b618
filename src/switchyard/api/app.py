"""Builds the ASGI application: routes, error handling, body limit, and the platform's start and stop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from switchyard import __version__
from switchyard.api import error_handlers
from switchyard.api.body_limit import BodyLimitMiddleware
from switchyard.api.gateway.dispatch import InferenceDispatch
from switchyard.api.gateway.openapi_doc import add_inference_paths
from switchyard.api.mlflow_mount import MlflowMount
from switchyard.api.responses import OrjsonResponse
from switchyard.api.routes import ROUTERS
from switchyard.api.v2.front import V2Dispatch
from switchyard.services.deployments_host import DeploymentHost
from switchyard.services.platform import Platform
from switchyard.settings import Settings

DESCRIPTION = """Switchyard's management and inference API.

Authenticate with `Authorization: Bearer <API key or session token>`. Errors always have the shape
`{"error": {"message", "type", "code", "param"}}`.
"""


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the route function's name (unique across the app)."""
    return route.name


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
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

    app = FastAPI(
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
    app.add_middleware(InferenceDispatch, platform=platform)  # outermost: /v1 never reaches the router
    return app
