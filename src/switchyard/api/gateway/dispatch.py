"""Sends ``/v1`` requests to the raw inference handlers; everything else goes on to the FastAPI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from switchyard.api.gateway.anthropic_front import AnthropicFront
from switchyard.api.gateway.errors import anthropic_error, openai_error
from switchyard.api.gateway.openai_front import OpenAIFront
from switchyard.api.gateway.passthrough_front import PREFIX as PASSTHROUGH_PREFIX
from switchyard.api.gateway.passthrough_front import PassthroughFront
from switchyard.api.gateway.wire_http import common_headers, request_id, send_bytes
from switchyard.domain.gateway import Operation
from switchyard.errors import MethodNotAllowed, NotFound, SwitchyardError
from switchyard.services.platform import Platform

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class InferenceDispatch:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        openai = OpenAIFront(platform)
        anthropic = AnthropicFront(platform)
        self.routes: dict[str, dict[str, Handler]] = {
            "/v1/chat/completions": {"POST": openai.handler(Operation.chat)},
            "/v1/completions": {"POST": openai.handler(Operation.completions)},
            "/v1/embeddings": {"POST": openai.handler(Operation.embeddings)},
            "/v1/rerank": {"POST": openai.handler(Operation.rerank)},
            "/v1/images/generations": {"POST": openai.handler(Operation.images)},
            "/v1/audio/speech": {"POST": openai.handler(Operation.audio_speech)},
            "/v1/audio/transcriptions": {"POST": openai.handler(Operation.audio_transcriptions)},
            "/v1/models": {"GET": openai.list_models},
            "/v1/messages": {"POST": anthropic.messages},
        }
        passthrough = PassthroughFront(platform)
        any_method: dict[str, Handler] = dict.fromkeys(
            ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), passthrough
        )
        self.prefixes: list[tuple[str, dict[str, Handler]]] = [
            ("/v1/models/", {"GET": openai.get_model}),
            (PASSTHROUGH_PREFIX, any_method),
        ]

    def _find(self, path: str) -> dict[str, Handler] | None:
        methods = self.routes.get(path)
        if methods is not None:
            return methods
        for prefix, prefixed in self.prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return prefixed
        return None

    def handler(self, scope: Scope) -> Handler:
        """The handler of a ``/v1`` request: its route's, or one that answers 404 or 405."""
        methods = self._find(scope["path"])
        handler = methods.get(scope["method"]) if methods is not None else None
        return handler if handler is not None else self._unrouted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        await self.handler(scope)(scope, receive, send)

    async def _unrouted(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self._find(scope["path"])
        error: SwitchyardError
        if methods is None:
            error = NotFound(f"No inference route {scope['path']}. See /docs for the API reference.")
        else:
            error = MethodNotAllowed(f"{scope['method']} is not allowed here; use {', '.join(methods)}.")
        headers = common_headers(request_id(scope), 0.0)
        if methods is not None:
            headers.append((b"allow", ", ".join(methods).encode()))
        dialect = anthropic_error if scope["path"].startswith("/v1/messages") else openai_error
        await send_bytes(send, error.status, dialect(error), headers)
