"""Hugging Face text-embeddings-inference (TEI): ``POST {base_url}/embed`` and ``POST {base_url}/rerank``.

Embeddings: OpenAI's ``{"input", "encoding_format"?, "dimensions"?}`` becomes
``{"inputs": <input>, "truncate": true, "normalize": true}`` (TEI takes strings and token-id arrays alike); TEI's
own options pass on when the client or the provider's ``default_options`` set them (``truncate``, ``normalize``,
``truncation_direction``, ``prompt_name``, ``dimensions``). TEI's answer, an array of float arrays, becomes
OpenAI's embeddings list (floats or base64).

Rerank: our shape (``rerank.py``) becomes ``{"query", "texts", "raw_scores": false, "return_text", "truncate":
true}``; TEI's ``[{"index", "score", "text"?}]`` becomes our answer, cut to ``top_n`` here (TEI has no such
option).

Usage: TEI reports none, so it is estimated from the request (``rerank.estimate_tokens``: a token per four
characters, token-id inputs exactly; for rerank, each document with the query, as a cross-encoder reads them).

Errors: TEI answers ``{"error", "error_type"}``. Its 400 (empty input), 413 (batch too large) and 422
(tokenizer) are the client's and reach it as they are; 429 (overloaded) and 503 (unhealthy) let another
provider be tried; 424 (``backend``: the model itself failed) is the upstream's fault — 502, retryable.

Credentials: TEI started with ``--api-key`` checks ``Authorization: Bearer`` — the providers' default auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Answer, StreamTranslator, Target, Usage, provider_headers
from switchyard.adapters.wire.embedding_list import checked_vectors, embeddings_answer, encoding_format
from switchyard.adapters.wire.openai import error_message, upstream_url
from switchyard.adapters.wire.rerank import estimate_tokens, parse_request, rerank_answer
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.domain.gateway import Operation
from switchyard.errors import BadRequest, SwitchyardError, UpstreamError

PATHS = {Operation.embeddings: "/embed", Operation.rerank: "/rerank"}
EMBED_OPTIONS = ("truncate", "normalize", "truncation_direction", "prompt_name", "dimensions")


def embed_inputs(value: Any) -> list[str | list[int]]:
    """OpenAI's ``input`` as a list of inputs: strings or token-id arrays."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            return [value]
        if all(isinstance(x, str) for x in value):
            return list(value)
        if all(isinstance(x, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in x) for x in value):
            return list(value)
    raise BadRequest(
        "'input' must be a string, an array of strings, or token-id arrays.", param="input", code="invalid_type"
    )


def embed_request(body: Mapping[str, Any]) -> dict[str, Any]:
    encoding_format(body)
    embed_inputs(body.get("input"))
    payload: dict[str, Any] = {"inputs": body["input"], "truncate": True, "normalize": True}
    for name in EMBED_OPTIONS:
        if body.get(name) is not None:
            payload[name] = body[name]
    return payload


def rerank_request(body: Mapping[str, Any]) -> dict[str, Any]:
    request = parse_request(body)
    return {
        "query": request.query,
        "texts": request.documents,
        "raw_scores": False,
        "return_text": request.return_documents,
        "truncate": True,
    }


def _parse(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream's answer is not valid JSON.", code="upstream_invalid_json") from None


def embeddings(payload: bytes, body: Mapping[str, Any], model: str) -> dict[str, Any]:
    inputs = embed_inputs(body.get("input"))
    vectors = checked_vectors(_parse(payload), len(inputs))
    tokens = estimate_tokens(inputs)
    return embeddings_answer(vectors, model=model, usage=Usage(prompt_tokens=tokens), encoding=encoding_format(body))


def ranks(payload: bytes, body: Mapping[str, Any], model: str) -> dict[str, Any]:
    request = parse_request(body)
    data = _parse(payload)
    if not isinstance(data, list) or not all(
        isinstance(r, dict) and isinstance(r.get("index"), int) and isinstance(r.get("score"), int | float)
        for r in data
    ):
        raise UpstreamError("The upstream's ranks are not [{index, score}] objects.", code="upstream_invalid_json")
    texts = {r["index"]: r["text"] for r in data if isinstance(r.get("text"), str)}
    usage = Usage(prompt_tokens=estimate_tokens([request.query] * len(request.documents) + request.documents))
    return rerank_answer(
        ((r["index"], float(r["score"])) for r in data), request, model=model, usage=usage, texts=texts
    )


class TEIAdapter:
    name = "tei"
    paths = PATHS

    def supports(self, operation: Operation) -> bool:
        return operation in self.paths

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        if stream:
            raise BadRequest(f"{operation.value.capitalize()} cannot be streamed; omit 'stream'.", param="stream")
        payload = embed_request(body) if operation == Operation.embeddings else rerank_request(body)
        headers = provider_headers(target)
        headers["Content-Type"] = "application/json"
        return UpstreamRequest("POST", upstream_url(target, operation, self.paths), headers, orjson.dumps(payload))

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        body = dict(sent)
        model = target.provider.upstream_model
        data = embeddings(payload, body, model) if operation == Operation.embeddings else ranks(payload, body, model)
        usage = data["usage"]
        return Answer(data=data, usage=Usage(prompt_tokens=usage["prompt_tokens"]))

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> StreamTranslator:
        raise BadRequest(f"{operation.value.capitalize()} cannot be streamed; omit 'stream'.", param="stream")

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        message, _type, _code, _param = error_message(payload)
        error_type = _error_type(payload)
        if status == 424:
            return UpstreamError(f"The upstream's model failed (424): {message or 'backend error'}")
        return from_status(status, message, code=f"tei_{error_type}" if error_type else None)


def _error_type(payload: bytes) -> str | None:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    value = data.get("error_type") if isinstance(data, dict) else None
    return value.lower() if isinstance(value, str) else None
