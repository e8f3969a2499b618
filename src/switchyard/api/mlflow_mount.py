"""``/mlflow``: MLflow's own tracking server and model registry, behind Switchyard's authentication.

A raw ASGI layer in front of the FastAPI app (so none of MLflow's routes reach Switchyard's router or its OpenAPI
document). Every request needs ``Authorization: Bearer <API key or session token>`` — the stock SDK sends
``MLFLOW_TRACKING_TOKEN`` that way — and any authenticated caller may track; without one the answer is 401 in
Switchyard's error shape. The MLflow app (``mlflow.server.fastapi_app.create_fastapi_app``) is built on the
first authenticated request, in a thread: importing ``mlflow.server`` takes seconds and ~125 MB, which a server
that never sees an MLflow client does not pay.

MLflow's server reads its configuration from environment variables when ``mlflow.server`` is imported, so a
process serves one MLflow store: the first settings that build the app win (see ``mlflow_environment``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.adapters import mlflow_tracking
from switchyard.api.body_limit import BodyLimitMiddleware
from switchyard.api.error_handlers import error_response
from switchyard.api.gateway.openai_front import authenticate
from switchyard.errors import ConfigurationError, NotFound, SwitchyardError, UpstreamUnavailable
from switchyard.services.platform import Platform

log = logging.getLogger(__name__)

PREFIX = "/mlflow"
# Artifact uploads stream to disk and may be larger than SWITCHYARD_MAX_BODY_BYTES; every other body is limited.
ARTIFACT_PATHS = ("/api/2.0/mlflow-artifacts/artifacts/", "/ajax-api/2.0/mlflow-artifacts/artifacts/")


def mlflow_environment(location: mlflow_tracking.TrackingLocation) -> dict[str, str]:
    """The variables ``mlflow server --serve-artifacts --workers 1`` would hand its worker."""
    return {
        "_MLFLOW_SERVER_FILE_STORE": location.store_uri,
        "_MLFLOW_SERVER_REGISTRY_STORE": location.store_uri,
        "_MLFLOW_SERVER_ARTIFACT_ROOT": location.default_artifact_root,
        "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION": str(location.artifacts_dir),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


def build_mlflow_app(location: mlflow_tracking.TrackingLocation) -> ASGIApp:
    """Configure the process for ``location`` and build MLflow's server app. Blocking (seconds)."""
    wanted = mlflow_environment(location)
    current = os.environ.get("_MLFLOW_SERVER_FILE_STORE")
    if current is not None and current != location.store_uri:
        raise ConfigurationError("This process already serves another MLflow store; one store per process.")
    os.environ.update(wanted)
    # Switchyard checks the caller; MLflow's Host allow-list (localhost by default) would refuse every other name
    # the server is reached by. An operator's own MLFLOW_SERVER_ALLOWED_HOSTS still wins.
    os.environ.setdefault("MLFLOW_SERVER_ALLOWED_HOSTS", "*")
    mlflow_tracking.prepare_store(location)
    with warnings.catch_warnings():
        # MLflow 3.17 wraps Flask with starlette.middleware.wsgi, which Starlette marks deprecated.
        warnings.filterwarnings("ignore", message="starlette.middleware.wsgi is deprecated")
        from mlflow.server.fastapi_app import create_fastapi_app

    app: ASGIApp = create_fastapi_app()
    return app


class MlflowMount:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform
        self._mlflow: ASGIApp | None = None
        self._limited: ASGIApp | None = None
        self._building: asyncio.Lock | None = None

    async def _built(self) -> tuple[ASGIApp, ASGIApp]:
        if self._mlflow is None or self._limited is None:
            if self._building is None:
                self._building = asyncio.Lock()
            async with self._building:
                if self._mlflow is None:
                    location = mlflow_tracking.tracking_location(self.platform.settings)
                    try:
                        mlflow_app = await asyncio.to_thread(build_mlflow_app, location)
                    except SwitchyardError:
                        raise
                    except Exception as exc:  # the store is unreachable, a migration failed…: tried again next time
                        log.exception("MLflow could not start")
                        raise UpstreamUnavailable(f"MLflow could not start: {type(exc).__name__}.") from exc
                    self._limited = BodyLimitMiddleware(mlflow_app, self.platform.settings.max_body_bytes)
                    self._mlflow = mlflow_app
        assert self._mlflow is not None and self._limited is not None
        return self._mlflow, self._limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        try:
            if not self.platform.settings.mlflow_enabled:
                raise NotFound("MLflow is not enabled on this server (SWITCHYARD_MLFLOW_ENABLED=false).")
            await authenticate(self.platform, scope)
            mlflow_app, limited = await self._built()
        except SwitchyardError as exc:
            response = error_response(exc.status, exc.message, exc.type, exc.code, exc.param, exc.headers)
            await response(scope, receive, send)
            return
        inner = path[len(PREFIX) :] or "/"
        child: dict[str, Any] = dict(scope)
        child["path"] = inner
        raw_path = scope.get("raw_path") or path.encode()
        child["raw_path"] = (
            (raw_path[len(PREFIX) :] or b"/") if raw_path.startswith(PREFIX.encode()) else inner.encode()
        )
        child["root_path"] = scope.get("root_path", "") + PREFIX
        target = mlflow_app if inner.startswith(ARTIFACT_PATHS) else limited
        await target(child, receive, send)
