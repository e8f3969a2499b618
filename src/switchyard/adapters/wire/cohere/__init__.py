"""Cohere's API v2: ``POST {base_url}/v2/chat``, ``/v2/embed`` and ``/v2/rerank`` (base URL
``https://api.cohere.com``).

Credentials: ``Authorization: Bearer <key>`` — the providers' default auth. Errors are ``{"message": …}`` and map
by status like every format's (``upstream_errors.from_status``); Cohere's 498 (invalid token) counts as a 401,
its 499 (request cancelled) as an upstream failure.

The translations live in ``chat_request.py``, ``chat_response.py``, ``stream.py`` and ``embed_rerank.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Answer, Target, provider_headers
from switchyard.adapters.wire.cohere import embed_rerank
from switchyard.adapters.wire.cohere.chat_request import chat_request
from switchyard.adapters.wire.cohere.chat_response import chat_completion
from switchyard.adapters.wire.cohere.stream import CohereStream
from switchyard.adapters.wire.openai import error_message, parse_object, upstream_url
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.domain.gateway import Operation
from switchyard.errors import BadRequest, SwitchyardError, UpstreamError

PATHS = {Operation.chat: "/v2/chat", Operation.embeddings: "/v2/embed", Operation.rerank: "/v2/rerank"}


def _not_streamed(operation: Operation) -> BadRequest:
    return BadRequest(f"{operation.value.capitalize()} cannot be streamed; omit 'stream'.", param="stream")


class CohereAdapter:
    name = "cohere"
    paths = PATHS

    def supports(self, operation: Operation) -> bool:
        return operation in self.paths

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        if operation == Operation.chat:
            payload = chat_request(body, stream=stream)
        elif stream:
            raise _not_streamed(operation)
        else:
            if operation == Operation.embeddings:
                payload = embed_rerank.embed_request(body)
            else:
                payload = embed_rerank.rerank_request(body)
        headers = provider_headers(target)
        headers["Content-Type"] = "application/json"
        if stream:
            headers["Accept"] = "text/event-stream"
        return UpstreamRequest("POST", upstream_url(target, operation, self.paths), headers, orjson.dumps(payload))

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        data = parse_object(payload)
        model = target.provider.upstream_model
        if operation == Operation.chat:
            completion, usage = chat_completion(data, model)
        elif operation == Operation.embeddings:
            completion, usage = embed_rerank.embeddings(data, sent, model)
        else:
            completion, usage = embed_rerank.ranks(data, sent, model)
        return Answer(data=completion, usage=usage)

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> CohereStream:
        if operation != Operation.chat:
            raise _not_streamed(operation)
        return CohereStream(target.provider.upstream_model, include_usage)

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        message = error_message(payload)[0]
        if status == 499:
            return UpstreamError(f"The upstream cancelled the request (499): {message}")
        return from_status(401 if status == 498 else status, message)
