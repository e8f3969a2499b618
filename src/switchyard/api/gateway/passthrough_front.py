"""``/v1/providers/{name}/{path}``: any method, forwarded raw to one provider and streamed back — governed.

The call is counted on one of the provider's routers (``passthrough.accounting_route``): its limits and budgets
are claimed before the call (a refusal is the same 429 as on ``/v1/chat/completions``), the answer's usage is
read as it streams by, and the call is settled and recorded with endpoint ``passthrough``. An answer whose usage
cannot be read is counted at its estimate (the prompt's size and the ``max_tokens`` it allowed); an upstream
error counts no tokens.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.types import Receive, Scope, Send

from switchyard.adapters.wire.base import Usage
from switchyard.api.gateway.errors import error_headers, openai_error
from switchyard.api.gateway.governance_http import CLIENT_CLOSED, ticket_headers
from switchyard.api.gateway.openai_front import authenticate
from switchyard.api.gateway.wire_http import (
    common_headers,
    end_stream,
    read_body,
    request_id,
    send_bytes,
    send_chunk,
)
from switchyard.domain.gateway import Operation
from switchyard.errors import BadRequest, RateLimited, SwitchyardError
from switchyard.services.gateway.dispatch import CallRecord
from switchyard.services.gateway.passthrough import RawAnswer, accounting_route, find_provider, open_raw
from switchyard.services.governance.governor import Ticket
from switchyard.services.governance.usage_sniff import UsageSniffer
from switchyard.services.platform import Platform

PREFIX = "/v1/providers/"
ENDPOINT = "passthrough"


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, for the token estimate; anything else estimates as nothing."""
    if not body:
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _settled_usage(ticket: Ticket, status: int, sniffed: Usage | None) -> Usage:
    """What the call is counted at: the answer's own usage; the estimate when it said nothing; nothing when the
    upstream refused or failed."""
    if status >= 400:
        return Usage()
    if sniffed is not None:
        return sniffed
    return Usage(ticket.reserved_prompt, ticket.reserved_tokens - ticket.reserved_prompt)


class PassthroughFront:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, rid = time.perf_counter(), request_id(scope)
        ticket: Ticket | None = None
        record: CallRecord | None = None
        governor = self.platform.governor
        try:
            principal = await authenticate(self.platform, scope)
            name, _, path = scope["path"][len(PREFIX) :].partition("/")
            if not name:
                raise BadRequest("Name a provider: /v1/providers/{name}/{path}.", param="name")
            entry = find_provider(self.platform.routing, principal, unquote(name))
            body = await read_body(receive, self.platform.settings.max_body_bytes)
            data = _json_object(body)
            route = accounting_route(self.platform.routing, principal, entry, data.get("model"))
            if route is not None:
                record = CallRecord(Operation.chat, route, started=started)  # the ticket says ``passthrough``
                record.target = entry.target
                try:
                    ticket = await governor.admit_call(principal, route, ENDPOINT, data, rid)
                except RateLimited as exc:
                    governor.refused(principal, route, ENDPOINT, rid, exc.status)
                    raise
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            query = scope.get("query_string", b"").decode("latin-1")
            opened = time.perf_counter()
            answer = await open_raw(self.platform.gateway.pool, entry, scope["method"], path, query, headers, body)
        except SwitchyardError as exc:
            if ticket is not None and record is not None:
                record.status, record.finished_at = exc.status, time.perf_counter()
                record.usage = Usage()
                governor.finish(ticket, record, record.overhead_ms())
            overhead = (time.perf_counter() - started) * 1000
            await send_bytes(send, exc.status, openai_error(exc), common_headers(rid, overhead, error_headers(exc)))
            return
        overhead = (opened - started) * 1000  # the gateway's own time: everything before the upstream's answer
        if record is not None:
            record.upstream_seconds = time.perf_counter() - opened
        await self._relay(send, answer, rid, overhead, ticket, record)

    async def _relay(
        self,
        send: Send,
        answer: RawAnswer,
        rid: str,
        overhead_ms: float,
        ticket: Ticket | None,
        record: CallRecord | None,
    ) -> None:
        sniffer = UsageSniffer(answer.content_type) if ticket is not None else None
        status = answer.status
        try:
            response_headers = common_headers(rid, overhead_ms, ticket_headers(ticket) if ticket else ())
            if answer.content_type:
                response_headers.append((b"content-type", answer.content_type.encode("latin-1")))
            await send({"type": "http.response.start", "status": answer.status, "headers": response_headers})
            try:
                async for chunk in answer.chunks():
                    if record is not None and record.first_token_at is None:
                        record.first_token_at = time.perf_counter()
                    if sniffer is not None:
                        sniffer.feed(chunk)
                    await send_chunk(send, chunk)
            except asyncio.CancelledError:
                status = CLIENT_CLOSED
                raise
            except SwitchyardError:
                pass  # headers are gone; ending the body is all that is left to say
            await end_stream(send)
        finally:
            await answer.aclose()
            if ticket is not None and record is not None and sniffer is not None:
                record.status, record.finished_at = status, time.perf_counter()
                if not sniffer.streamed:
                    record.first_token_at = None  # a whole answer has no time to first token
                record.usage = _settled_usage(ticket, status, sniffer.usage())
                self.platform.governor.finish(ticket, record, overhead_ms)
