"""Anthropic's Messages API (``POST {base_url}/messages``) — chat only.

Credentials: Anthropic authenticates with ``x-api-key: <key>``, and every request names the API version in
``anthropic-version``. Providers default to ``Authorization: Bearer <key>``; for this wire format that default
means "Anthropic's own way", so the key is sent as ``x-api-key``. A provider whose auth settings name any other
header or prefix (a proxy in front of Anthropic, say) gets exactly what it configured. ``anthropic-version`` is
the provider's ``api_version`` when set, else ``2023-06-01``; ``extra_headers`` (``anthropic-beta``…) are added.

The request and answer translations live in ``request.py``, ``response.py`` and ``stream.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.anthropic.request import messages_request
from switchyard.adapters.wire.anthropic.response import chat_completion, error_parts
from switchyard.adapters.wire.anthropic.stream import AnthropicStream
from switchyard.adapters.wire.base import Answer, Target
from switchyard.adapters.wire.openai import parse_object, upstream_url
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.domain.gateway import Operation, ProviderAuth
from switchyard.errors import SwitchyardError

API_VERSION = "2023-06-01"
PATHS = {Operation.chat: "/messages"}
DEFAULT_AUTH = ProviderAuth()


def request_headers(target: Target) -> dict[str, str]:
    provider = target.provider
    headers = {"content-type": "application/json", "anthropic-version": provider.api_version or API_VERSION}
    given = {name.lower(): name for name in headers}
    for name, value in provider.extra_headers.items():
        headers.pop(given.get(name.lower(), name), None)
        headers[name] = value
    if target.api_key:
        auth = provider.auth
        if auth.header_name.lower() == "authorization" and auth.header_prefix == DEFAULT_AUTH.header_prefix:
            headers["x-api-key"] = target.api_key
        else:
            headers[auth.header_name] = auth.header_value(target.api_key)
    return headers


class AnthropicAdapter:
    name = "anthropic"
    paths = PATHS

    def supports(self, operation: Operation) -> bool:
        return operation in self.paths

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        payload = orjson.dumps(messages_request(body, stream=stream))
        return UpstreamRequest("POST", upstream_url(target, operation, self.paths), request_headers(target), payload)

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        data, usage = chat_completion(parse_object(payload))
        return Answer(data=data, usage=usage)

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> AnthropicStream:
        return AnthropicStream(include_usage)

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        message, type_ = error_parts(payload)
        return from_status(status, message, type_=type_)
