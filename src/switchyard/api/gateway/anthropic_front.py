"""``POST /v1/messages``: Anthropic's Messages API in front of any backend.

The request is checked and rewritten as an OpenAI chat body (``services/gateway/anthropic_translation``), sent
through the same gateway as ``/v1/chat/completions``, and the answer — whole or streamed — is rewritten as
Anthropic's. Keys come as ``x-api-key`` (what the Anthropic SDK sends) or ``Authorization: Bearer``. Errors are
in Anthropic's shape, ``{"type": "error", "error": {"type", "message"}}``, also as an ``error`` event once a
stream has started.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from switchyard.adapters.wire.openai import parse_object
from switchyard.api.gateway.client_watch import relay_unless_gone, unless_gone
from switchyard.api.gateway.errors import anthropic_error, error_headers
from switchyard.api.gateway.governance_http import CLIENT_CLOSED, admit, ticket_headers
from switchyard.api.gateway.openai_front import authenticate, check_serves, parse_json_object, resolve_route
from switchyard.api.gateway.wire_http import (
    Headers,
    common_headers,
    end_stream,
    read_body,
    request_id,
    send_bytes,
    send_chunk,
    start_stream,
)
from switchyard.domain.gateway import Operation
from switchyard.errors import SwitchyardError
from switchyard.services.gateway.anthropic_translation import AnthropicEvents, anthropic_message, openai_request
from switchyard.services.gateway.dispatch import CallRecord, StreamingCall
from switchyard.services.governance.governor import Ticket
from switchyard.services.platform import Platform


def _headers(rid: str, overhead_ms: float, extra: Sequence[tuple[bytes, bytes]] = ()) -> Headers:
    return common_headers(rid, overhead_ms, [(b"request-id", rid.encode()), *extra])


class AnthropicFront:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def _fail(self, send: Send, rid: str, started: float, exc: SwitchyardError) -> None:
        overhead = (time.perf_counter() - started) * 1000
        await send_bytes(send, exc.status, anthropic_error(exc), _headers(rid, overhead, error_headers(exc)))

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = request_id(scope)
        try:
            principal = await authenticate(self.platform, scope)
            body = openai_request(parse_json_object(await read_body(receive, self.platform.settings.max_body_bytes)))
            route = resolve_route(self.platform, principal, body["model"])
            check_serves(route, Operation.chat)
            ticket = await admit(self.platform, principal, route, Operation.chat, body, rid)
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            return
        record = CallRecord(Operation.chat, route, started=started, priority=principal.priority)
        if body.get("stream"):
            try:
                await self._stream(ticket, record, body, rid, receive, send)
            finally:
                self.platform.governor.finish(ticket, record, record.overhead_ms())
            return
        try:
            answer = await unless_gone(receive, self.platform.gateway.call(record, body))
            if answer is None:  # the client went away: so did the upstream request
                record.status, record.finished_at = CLIENT_CLOSED, time.perf_counter()
                self.platform.governor.finish(ticket, record, record.overhead_ms())
                return
            completion = answer.data if answer.data is not None else parse_object(answer.body or b"")
        except SwitchyardError as exc:
            await self._fail(send, rid, started, exc)
            self.platform.governor.finish(ticket, record, record.overhead_ms())
            return
        message = orjson.dumps(anthropic_message(completion, answer.usage, body["model"]))
        overhead = record.overhead_ms()
        await send_bytes(send, 200, message, _headers(rid, overhead, ticket_headers(ticket)))
        self.platform.governor.finish(ticket, record, overhead)

    async def _stream(
        self, ticket: Ticket, record: CallRecord, body: dict[str, Any], rid: str, receive: Receive, send: Send
    ) -> None:
        try:
            stream = await self.platform.gateway.open_stream(record, body, include_usage=True)
        except SwitchyardError as exc:
            await self._fail(send, rid, record.started, exc)
            return
        await start_stream(send, _headers(rid, record.overhead_ms(), ticket_headers(ticket)))
        relay = self._relay(stream, AnthropicEvents(body["model"]), send)
        if not await relay_unless_gone(receive, relay, stream) and record.error is None:
            record.status = CLIENT_CLOSED

    async def _relay(self, stream: StreamingCall, events: AnthropicEvents, send: Send) -> None:
        """Sends the Anthropic events of each upstream read in one message; the last ones with the end."""
        state = stream.translator.state
        try:
            out = b""
            async for batch in stream.events():
                out = b"".join(events.feed(b"".join(batch), state.usage))
                if out and not stream.ended:
                    await send_chunk(send, out)
                    out = b""
            last = out + b"".join(events.finish(state.usage))
        except SwitchyardError as exc:  # headers are gone: the error travels as Anthropic's error event
            last = b"event: error\ndata: " + anthropic_error(exc) + b"\n\n"
        await end_stream(send, last)
