"""``/v1`` in OpenAI's dialect: models, chat completions, completions, embeddings, rerank, images, speech."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from switchyard.adapters.wire.sse import DONE
from switchyard.api.gateway.client_watch import relay_unless_gone, unless_gone
from switchyard.api.gateway.errors import error_headers, openai_error
from switchyard.api.gateway.governance_http import (
    CLIENT_CLOSED,
    USAGE_EXTRA_OPERATIONS,
    admit,
    body_with_usage_extras,
    event_with_usage_extras,
    ticket_headers,
)
from switchyard.api.gateway.multipart_form import parse_form
from switchyard.api.gateway.wire_http import (
    common_headers,
    end_stream,
    header,
    read_body,
    request_id,
    send_bytes,
    send_chunk,
    start_stream,
)
from switchyard.domain.gateway import ModelType, Operation
from switchyard.errors import BadRequest, NotFound, SwitchyardError, Unauthenticated
from switchyard.services.gateway.dispatch import CallRecord, StreamingCall
from switchyard.services.gateway.routing_table import Route
from switchyard.services.governance.governor import Ticket
from switchyard.services.platform import Platform
from switchyard.services.principal import Principal

log = logging.getLogger(__name__)

SERVES: dict[Operation, frozenset[ModelType]] = {
    Operation.chat: frozenset({ModelType.text_generation, ModelType.image_text_to_text}),
    Operation.completions: frozenset({ModelType.text_generation}),
    Operation.embeddings: frozenset({ModelType.text_embeddings_inference}),
    Operation.rerank: frozenset({ModelType.text_classification, ModelType.text_embeddings_inference}),
    Operation.images: frozenset({ModelType.image_generation}),
    Operation.audio_speech: frozenset({ModelType.text_to_speech}),
    Operation.audio_transcriptions: frozenset({ModelType.automatic_speech_recognition}),
}
REQUIRED: dict[Operation, tuple[str, ...]] = {
    Operation.chat: ("messages",),
    Operation.completions: ("prompt",),
    Operation.embeddings: ("input",),
    Operation.rerank: ("query", "documents"),
    Operation.images: ("prompt",),
    Operation.audio_speech: ("input",),
}


async def authenticate(platform: Platform, scope: Scope) -> Principal:
    raw = header(scope, b"authorization")
    token: str | None = None
    if raw is not None:
        scheme, _, value = raw.decode(errors="replace").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if token is None:
        api_key = header(scope, b"x-api-key")
        token = api_key.decode(errors="replace").strip() if api_key else None
    if not token:
        raise Unauthenticated("No API key provided. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key")
    principal = await platform.principals.resolve(token)
    if principal is None:
        raise Unauthenticated("Invalid, revoked or expired API key.")
    if principal.key_id is not None:
        platform.key_activity.touch(principal.key_id)
    return principal


def resolve_route(platform: Platform, principal: Principal, model: str) -> Route:
    route = platform.routing.get(model)
    if route is None or not principal.may_use_router(route.router.name):
        raise NotFound(
            f"The model '{model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return route


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise BadRequest("The request body is missing; send a JSON object.", code="missing_body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    return data


def check_request(operation: Operation, data: dict[str, Any]) -> str:
    """The model name; raises 400 naming the field for what no upstream could serve."""
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("You must provide a model parameter.", param="model", code="missing_model")
    for name in REQUIRED.get(operation, ()):
        if data.get(name) in (None, "", []):
            raise BadRequest(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if operation == Operation.chat and not isinstance(data["messages"], list):
        raise BadRequest("'messages' must be an array of message objects.", param="messages", code="invalid_type")
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean.", param="stream", code="invalid_type")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object.", param="stream_options", code="invalid_type")
    return model


def check_serves(route: Route, operation: Operation) -> None:
    if route.router.model_type not in SERVES[operation]:
        raise BadRequest(
            f"The model '{route.router.name}' is a {route.router.model_type.value} model; "
            f"it does not serve {operation.value.replace('_', ' ')}.",
            param="model",
            code="model_not_supported",
        )


class OpenAIFront:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def _fail(self, send: Send, rid: str, started: float, exc: SwitchyardError) -> None:
        overhead = (time.perf_counter() - started) * 1000
        await send_bytes(send, exc.status, openai_error(exc), common_headers(rid, overhead, error_headers(exc)))

    def handler(self, operation: Operation) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        return functools.partial(self.inference, operation)  # no coroutine of its own: one frame less per await

    async def inference(self, operation: Operation, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = request_id(scope)
        try:
            principal = await authenticate(self.platform, scope)
            raw = await read_body(receive, self.platform.settings.max_body_bytes)
            if operation == Operation.audio_transcriptions:
                data = parse_form((header(scope, b"content-type") or b"").decode("latin-1"), raw)
                if data.get("stream") in ("true", "True", "1"):
                    raise BadRequest("Streamed transcriptions are not supported; omit 'stream'.", param="stream")
                data.pop("stream", None)
            else:
                data = parse_json_object(raw)
            route = resolve_route(self.platform, principal, check_request(operation, data))
            check_serves(route, operation)
            ticket = await admit(self.platform, principal, route, operation, data, rid)
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            return
        record = CallRecord(operation, route, started=started, priority=principal.priority)
        if data.get("stream") is True:
            options = data.get("stream_options") or {}
            try:
                await self._stream(ticket, record, data, bool(options.get("include_usage")), rid, receive, send)
            finally:
                self.platform.governor.finish(ticket, record, record.overhead_ms())
            return
        try:
            answer = await unless_gone(receive, self.platform.gateway.call(record, data))
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            self.platform.governor.finish(ticket, record, record.overhead_ms())
            return
        if answer is None:  # the client went away: so did the upstream request
            record.status, record.finished_at = CLIENT_CLOSED, time.perf_counter()
            self.platform.governor.finish(ticket, record, record.overhead_ms())
            return
        body = answer.body if answer.body is not None else orjson.dumps(answer.data)
        if route.router.usage_extras and operation in USAGE_EXTRA_OPERATIONS:
            body = body_with_usage_extras(self.platform, ticket, record, body)
        content_type = answer.content_type.encode("latin-1")
        overhead = record.overhead_ms()
        await send_bytes(send, 200, body, common_headers(rid, overhead, ticket_headers(ticket)), content_type)
        self.platform.governor.finish(ticket, record, overhead)

    async def _stream(
        self,
        ticket: Ticket,
        record: CallRecord,
        data: dict[str, Any],
        include_usage: bool,
        rid: str,
        receive: Receive,
        send: Send,
    ) -> None:
        try:
            stream = await self.platform.gateway.open_stream(record, data, include_usage=include_usage)
        except SwitchyardError as exc:
            await self._fail(send, rid, record.started, exc)
            return
        await start_stream(send, common_headers(rid, record.overhead_ms(), ticket_headers(ticket)))
        extras = ticket if record.route.router.usage_extras and include_usage else None
        if not await relay_unless_gone(receive, self._relay(stream, send, record, extras), stream):
            if record.error is None:
                record.status = CLIENT_CLOSED

    async def _relay(self, stream: StreamingCall, send: Send, record: CallRecord, extras: Ticket | None) -> None:
        """Sends the events of each upstream read in one message; the last ones with ``[DONE]`` and the end."""
        last = b""
        try:
            async for events in stream.events():
                if extras is not None:
                    events = [event_with_usage_extras(self.platform, extras, record, event) for event in events]
                chunk = b"".join(events)  # one event: that same object, not a copy
                if stream.ended:
                    last = chunk
                else:
                    await send_chunk(send, chunk)
        except SwitchyardError as exc:  # headers are gone: the error travels as an event, as vLLM does
            last = b"data: " + openai_error(exc) + b"\n\n"
        await end_stream(send, last + DONE)

    async def list_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, rid = time.perf_counter(), request_id(scope)
        try:
            principal = await authenticate(self.platform, scope)
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            return
        data = [model_object(r) for r in self.platform.routing.routes if principal.may_use_router(r.router.name)]
        body = orjson.dumps({"object": "list", "data": data})
        await send_bytes(send, 200, body, common_headers(rid, (time.perf_counter() - started) * 1000))

    async def get_model(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, rid = time.perf_counter(), request_id(scope)
        try:
            principal = await authenticate(self.platform, scope)
            route = resolve_route(self.platform, principal, scope["path"][len("/v1/models/") :])
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            return
        body = orjson.dumps(model_object(route))
        await send_bytes(send, 200, body, common_headers(rid, (time.perf_counter() - started) * 1000))


def model_object(route: Route) -> dict[str, Any]:
    router = route.router
    lengths = [t.provider.context_length for t in route.targets if t.provider.context_length]
    sizes = [t.provider.vector_size for t in route.targets if t.provider.vector_size]
    return {
        "id": router.name,
        "object": "model",
        "created": int(router.created_at.timestamp()) if router.created_at else 0,
        "owned_by": "switchyard",
        "type": router.model_type.value,
        "aliases": router.aliases,
        "context_length": min(lengths) if lengths else None,
        "vector_size": sizes[0] if sizes else None,
    }
