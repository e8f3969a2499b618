"""The Open Inference Protocol (V2) front door, as raw ASGI ahead of the FastAPI app.

Served at ``/v2`` (the model name is the deployment's name) and under ``/api/v1/deployments/{id}/v2`` (the
model name is ``default`` or the deployment's name), so that a V2 client pointed at either base URL works::

    GET  /v2                                          server metadata (extensions: binary_tensor_data)
    GET  /v2/health/live | /v2/health/ready           {"live": true} | {"ready": true}
    GET  /v2/models/{name}[/versions/{v}]             model metadata, from the ONNX graph
    GET  /v2/models/{name}[/versions/{v}]/ready       200 when it serves, 503 while it loads or failed
    POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors, or JSON + binary tensor data

Health and server metadata are public; models need an API key or session token, and a key scoped to routers
reaches only the deployments named in its scope. An inference counts against the caller's request limits (rpm,
rpd) set on the deployment's name (or ``*``), like a router's: over a limit it is a 429 with ``Retry-After``.
Errors are the protocol's ``{"error": "…"}`` with the status of the error tree (400 bad input, 401, 404 unknown
model, 413, 429, 503 not ready). A finished inference is handed to ``inference_finished``, the one place that
knows its deployment, caller, status and latency.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard import __version__
from switchyard.api.gateway.openai_front import authenticate
from switchyard.api.gateway.wire_http import header, read_body, request_id, send_bytes
from switchyard.api.v2.codec import encode_infer_response, parse_infer_request
from switchyard.domain.governance import UsageRecord
from switchyard.domain.tensors import TensorSpec
from switchyard.errors import BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge, SwitchyardError
from switchyard.services import deployments_inference
from switchyard.services.deployments_host import DeploymentHost, Hosted
from switchyard.services.governance.rate_limits import metered_deployment
from switchyard.services.platform import Platform
from switchyard.services.principal import Principal

log = logging.getLogger(__name__)

SERVER_NAME = "switchyard"
EXTENSIONS = ["binary_tensor_data"]
HEADER_LENGTH = b"inference-header-content-length"
DEFAULT_MODEL = "default"
SCOPED = re.compile(r"^/api/v1/deployments/(\d{1,10})/v2(/.*)?$")
JSON = b"application/json"
OCTETS = b"application/octet-stream"


@dataclass(frozen=True, slots=True)
class Target:
    action: str
    """server, live, ready, model, model_ready, infer"""
    name: str | None = None
    version: str | None = None
    deployment_id: int | None = None
    """Set on ``/api/v1/deployments/{id}/v2``: the model name must be ``default`` or the deployment's."""


@dataclass
class InferenceCall:
    """A finished V2 inference, for usage records."""

    request_id: str
    started: float
    infer: bool = False
    """An inference (not a metadata or readiness question)."""
    principal: Principal | None = None
    deployment_id: int | None = None
    deployment: str | None = None
    version: str | None = None
    status: int = 200
    latency_ms: float = 0.0
    model_ms: float = 0.0
    """Time spent in the model itself; the rest of the latency is the gateway's overhead."""
    error: str | None = field(default=None, repr=False)


def match(path: str) -> tuple[str, int | None] | None:
    """The part after ``/v2`` and the deployment id of a scoped path; None for paths that are not V2."""
    if path == "/v2" or path.startswith("/v2/"):
        return path[3:], None
    if path.startswith("/api/v1/deployments/"):
        found = SCOPED.match(path)
        if found:
            return found.group(2) or "", int(found.group(1))
    return None


def route(rest: str, method: str, deployment_id: int | None) -> Target:
    parts = [part for part in rest.split("/") if part]
    target: Target | None = None
    if not parts:
        target = Target("server")
    elif parts == ["health", "live"]:
        target = Target("live")
    elif parts == ["health", "ready"]:
        target = Target("ready")
    elif parts[0] == "models" and len(parts) >= 2:
        name, tail, version = parts[1], parts[2:], None
        if tail[:1] == ["versions"] and len(tail) >= 2:
            version, tail = tail[1], tail[2:]
        action = {(): "model", ("ready",): "model_ready", ("infer",): "infer"}.get(tuple(tail))
        if action is not None:
            target = Target(action, name, version, deployment_id)
    if target is None:
        raise NotFound(f"No V2 route {rest or '/'}; see the Open Inference Protocol's REST paths.")
    allowed = "POST" if target.action == "infer" else "GET"
    if method != allowed:
        raise MethodNotAllowed(f"{method} is not allowed here; use {allowed}.", headers={"Allow": allowed})
    return target


def v2_error(exc: SwitchyardError) -> bytes:
    return orjson.dumps({"error": exc.message})


def _metadata_tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
    return [spec.as_dict() for spec in specs]


def _decompressed(body: bytes, encoding: bytes | None, limit: int) -> bytes:
    if encoding is None or encoding.strip().lower() in (b"", b"identity"):
        return body
    codings = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}
    wbits = codings.get(encoding.strip().lower())
    if wbits is None:
        raise BadRequest(f"Content-Encoding {encoding.decode('latin-1')!r} is not supported; use gzip or deflate.")
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"The body is not valid {encoding.decode('latin-1')} data: {exc}.") from None
    if len(inflated) > limit:
        raise PayloadTooLarge(f"The decompressed request body is larger than the limit of {limit} bytes.")
    if not inflater.eof:
        raise BadRequest("The compressed body is truncated.")
    return inflated


class V2Dispatch:
    def __init__(self, app: ASGIApp, platform: Platform, host: DeploymentHost) -> None:
        self.app = app
        self.platform = platform
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = match(scope["path"]) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        call = InferenceCall(request_id(scope), time.perf_counter())
        headers = [(b"x-request-id", call.request_id.encode())]
        try:
            target = route(matched[0], scope["method"], matched[1])
            call.infer = target.action == "infer"
            status, body, content_type, extra = await self._answer(target, scope, receive, call)
        except SwitchyardError as exc:
            status, body, content_type = exc.status, v2_error(exc), JSON
            extra = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
            call.error = exc.message
        except Exception:  # a bug: still the protocol's shape, never a traceback
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            status, body, content_type, extra = 500, orjson.dumps({"error": "Internal server error."}), JSON, []
            call.error = "internal error"
        call.status = status
        await send_bytes(send, status, body, headers + extra, content_type)
        if call.infer:
            call.latency_ms = (time.perf_counter() - call.started) * 1000
            self.inference_finished(call)

    def inference_finished(self, call: InferenceCall) -> None:
        """The one place a finished V2 inference is known: deployment, caller, status, latency. Recorded as a
        usage record (router: the deployment's name, endpoint ``v2_infer``) when the caller and the deployment
        are known."""
        if call.principal is None or call.deployment is None:
            return
        principal = call.principal
        self.platform.governor.record(
            UsageRecord(
                request_id=call.request_id,
                created_at=datetime.now(UTC),
                user_id=principal.user_id,
                key_id=principal.key_id,
                organization_id=principal.organization_id,
                router=call.deployment,
                provider=f"deployment:{call.deployment_id}" if call.deployment_id is not None else None,
                endpoint="v2_infer",
                status=call.status,
                prompt_tokens=0,
                completion_tokens=0,
                cached_tokens=0,
                cost=0.0,
                latency_ms=call.latency_ms,
                ttft_ms=None,
                kwh=None,
                kgco2eq=None,
            ),
            None,
            max(0.0, call.latency_ms - call.model_ms),
        )

    async def _answer(
        self, target: Target, scope: Scope, receive: Receive, call: InferenceCall
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        if target.action == "server":
            server = {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}
            return 200, orjson.dumps(server), JSON, []
        if target.action == "live":
            return 200, orjson.dumps({"live": True}), JSON, []
        if target.action == "ready":
            return 200, orjson.dumps({"ready": True}), JSON, []
        principal = await authenticate(self.platform, scope)
        call.principal = principal
        hosted = self._deployment(target, principal)
        call.deployment_id, call.deployment = hosted.id, hosted.name
        if target.action == "model_ready":
            deployments_inference.ready(hosted, target.version)
            return 200, orjson.dumps({"name": hosted.name, "ready": True}), JSON, []
        ready = deployments_inference.ready(hosted, target.version)
        call.version = ready.version
        if target.action == "model":
            model = ready.serving.model
            metadata = {
                "name": hosted.name,
                "versions": [ready.version],
                "platform": model.platform,
                "inputs": _metadata_tensors(model.inputs),
                "outputs": _metadata_tensors(model.outputs),
            }
            return 200, orjson.dumps(metadata), JSON, []
        limited = await self.platform.governor.admit_requests(principal, metered_deployment(hosted.id, hosted.name))
        rate = [(name.encode(), value.encode()) for name, value in limited.items()]
        limit = self.platform.settings.max_body_bytes
        raw = await read_body(receive, limit)
        if not raw:
            raise BadRequest("The inference request body is missing.")
        raw = _decompressed(raw, header(scope, b"content-encoding"), limit)
        parsed = parse_infer_request(raw, header(scope, HEADER_LENGTH))
        inferring = time.perf_counter()
        response = await deployments_inference.infer(self.host, ready, parsed.request)
        call.model_ms = (time.perf_counter() - inferring) * 1000
        body, json_length = encode_infer_response(response, parsed.wants_binary)
        if json_length is None:
            return 200, body, JSON, rate
        return 200, body, OCTETS, [(HEADER_LENGTH, str(json_length).encode()), *rate]

    def _deployment(self, target: Target, principal: Principal) -> Hosted:
        name = target.name or ""
        if target.deployment_id is None:
            return deployments_inference.find(self.host, principal, name)
        hosted = self.host.get(target.deployment_id)
        if hosted is None or not principal.may_use_router(hosted.name):
            raise NotFound(
                f"Deployment {target.deployment_id} does not exist or you do not have access to it.",
                code="model_not_found",
            )
        if name not in (DEFAULT_MODEL, hosted.name):
            raise NotFound(f"Deployment {target.deployment_id} has no model '{name}'; use '{DEFAULT_MODEL}'.")
        return hosted
