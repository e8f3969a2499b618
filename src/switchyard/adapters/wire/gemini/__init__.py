"""Google's Gemini API (``generativelanguage.googleapis.com/v1beta``): chat and embeddings.

The provider's ``base_url`` holds the API version (``https://generativelanguage.googleapis.com/v1beta``). Calls go
to ``{base_url}/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse``, ``:embedContent`` (one
input) and ``:batchEmbedContents`` (several). An upstream model named with its collection (``models/…``,
``tunedModels/…``) is used as it is. A ``paths`` override for ``chat`` or ``embeddings`` may use the placeholders
``{model}`` (the upstream model as configured) and ``{method}`` (``generateContent``…); ``?alt=sse`` is added for
streams.

Authentication: Gemini takes its key in the ``x-goog-api-key`` header. A provider with the default auth settings
(``Authorization: Bearer``) therefore sends ``x-goog-api-key: <key>``; any other header name or prefix is sent as
configured (``Authorization: Bearer <OAuth token>`` for a proxy or Vertex AI needs e.g. a prefix other than the
default, or an ``extra_headers`` entry).

Translation (see ``request.py``, ``response.py``, ``stream.py``): messages, images and audio, tools and
tool choice, tool calls and results, sampling options, stop sequences, ``n``, JSON output; answers, finish
reasons, usage with cached and thinking tokens; embeddings as floats or base64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Answer, Target, provider_headers
from switchyard.adapters.wire.gemini import request, response
from switchyard.adapters.wire.gemini.stream import GeminiStream
from switchyard.adapters.wire.openai import parse_object
from switchyard.domain.gateway import Operation, ProviderAuth
from switchyard.errors import SwitchyardError


def resource_name(model: str) -> str:
    return model if "/" in model else f"models/{model}"


def headers(target: Target) -> dict[str, str]:
    provider = target.provider
    if provider.auth != ProviderAuth():
        found = provider_headers(target)
    else:
        found = dict(provider.extra_headers)
        if target.api_key:
            found["x-goog-api-key"] = target.api_key
    found["Content-Type"] = "application/json"
    return found


def url(target: Target, operation: Operation, method: str) -> str:
    provider = target.provider
    template = provider.paths.get(operation.value)
    model = provider.upstream_model
    if template:
        path = template.replace("{model}", quote(model, safe="/")).replace("{method}", method)
    else:
        path = "/" + quote(resource_name(model), safe="/") + ":" + method
    return provider.base_url + path


class GeminiAdapter:
    name = "gemini"

    def supports(self, operation: Operation) -> bool:
        return operation in (Operation.chat, Operation.embeddings)

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        if operation == Operation.embeddings:
            inputs = request.embedding_inputs(body)
            method, payload = request.embed_request(body, resource_name(target.provider.upstream_model), inputs)
            return UpstreamRequest("POST", url(target, operation, method), headers(target), orjson.dumps(payload))
        method = "streamGenerateContent" if stream else "generateContent"
        address = url(target, operation, method) + ("?alt=sse" if stream else "")
        return UpstreamRequest("POST", address, headers(target), orjson.dumps(request.chat_request(body)))

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        data = parse_object(payload)
        model = target.provider.upstream_model
        if operation == Operation.embeddings:
            inputs = request.embedding_inputs(dict(sent))
            as_base64 = sent.get("encoding_format") == "base64"
            body, used = response.embeddings(data, model, inputs=inputs, as_base64=as_base64)
            return Answer(data=body, usage=used)
        completion = response.chat_completion(data, model)
        return Answer(data=completion, usage=response.usage(data.get("usageMetadata")))

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> GeminiStream:
        return GeminiStream(target.provider.upstream_model, include_usage)

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        return response.error(status, payload)
