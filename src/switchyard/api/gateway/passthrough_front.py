"""``/v1/providers/{name}/{path}``: any method, forwarded raw to one provider and streamed back."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from switchyard.api.gateway.errors import error_headers, openai_error
from switchyard.api.gateway.openai_front import authenticate
from switchyard.api.gateway.wire_http import common_headers, read_body, request_id, send_bytes
from switchyard.errors import BadRequest, SwitchyardError
from switchyard.services.gateway.passthrough import find_provider, open_raw
from switchyard.services.platform import Platform

PREFIX = "/v1/providers/"


class PassthroughFront:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, rid = time.perf_counter(), request_id(scope)
        try:
            principal = await authenticate(self.platform, scope)
            name, _, path = scope["path"][len(PREFIX) :].partition("/")
            if not name:
                raise BadRequest("Name a provider: /v1/providers/{name}/{path}.", param="name")
            entry = find_provider(self.platform.routing, principal, unquote(name))
            body = await read_body(receive, self.platform.settings.max_body_bytes)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            query = scope.get("query_string", b"").decode("latin-1")
            answer = await open_raw(self.platform.gateway.pool, entry, scope["method"], path, query, headers, body)
        except SwitchyardError as exc:
            overhead = (time.perf_counter() - started) * 1000
            await send_bytes(send, exc.status, openai_error(exc), common_headers(rid, overhead, error_headers(exc)))
            return
        try:
            response_headers = common_headers(rid, (time.perf_counter() - started) * 1000)
            if answer.content_type:
                response_headers.append((b"content-type", answer.content_type.encode("latin-1")))
            await send({"type": "http.response.start", "status": answer.status, "headers": response_headers})
            try:
                async for chunk in answer.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (SwitchyardError, asyncio.CancelledError):
                pass  # headers are gone; ending the body is all that is left to say
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await answer.aclose()
