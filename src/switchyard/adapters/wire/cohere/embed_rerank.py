"""Cohere v2 embed and rerank, to and from OpenAI's embeddings and our rerank shape (``wire/rerank.py``).

Embed: ``{"input", "dimensions"?}`` → ``{"model", "texts", "input_type": "search_document", "embedding_types":
["float"]}`` (``dimensions`` → ``output_dimension``; the client's own ``input_type``, ``truncate``,
``max_tokens``, ``output_dimension`` win). Cohere embeds text, so token-id inputs are refused. The answer's
``embeddings.float`` becomes OpenAI's list (floats or base64, encoded here); usage is ``meta.tokens`` (else
``meta.billed_units``) input tokens, as for chat.

Rerank: ``{"model", "query", "documents": [text…], "top_n"?}`` (``max_tokens_per_doc`` passes when sent). Cohere
v2 never echoes documents, so ``return_documents`` is served from the request. Cohere bills searches, not
tokens: ``meta`` (with ``billed_units.search_units``) is passed on as it is, and usage is ``meta``'s input tokens
when it reports them, else the gateway's estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.embedding_list import checked_vectors, embeddings_answer, encoding_format
from switchyard.adapters.wire.rerank import estimate_tokens, parse_request, rerank_answer
from switchyard.errors import BadRequest, UpstreamError

EMBED_FIELDS = ("input_type", "truncate", "max_tokens", "output_dimension")


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        return list(value)
    raise BadRequest(
        "Cohere embeds text: 'input' must be a string or an array of strings.", param="input", code="invalid_type"
    )


def embed_request(body: Mapping[str, Any]) -> dict[str, Any]:
    encoding_format(body)
    payload: dict[str, Any] = {
        "model": body["model"],
        "texts": _texts(body.get("input")),
        "input_type": "search_document",
        "embedding_types": ["float"],
    }
    if body.get("dimensions") is not None:
        payload["output_dimension"] = body["dimensions"]
    for name in EMBED_FIELDS:
        if body.get(name) is not None:
            payload[name] = body[name]
    return payload


def _meta_input_tokens(meta: Any) -> int | None:
    if not isinstance(meta, Mapping):
        return None
    for section in ("tokens", "billed_units"):
        counts = meta.get(section)
        if isinstance(counts, Mapping) and counts.get("input_tokens") is not None:
            return int(counts["input_tokens"])
    return None


def embeddings(data: Mapping[str, Any], body: Mapping[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
    texts = _texts(body.get("input"))
    by_type = data.get("embeddings")
    if not isinstance(by_type, Mapping):
        raise UpstreamError("The upstream's answer has no 'embeddings'.", code="upstream_invalid_json")
    vectors = checked_vectors(by_type.get("float"), len(texts))
    tokens = _meta_input_tokens(data.get("meta"))
    usage = Usage(prompt_tokens=tokens if tokens is not None else estimate_tokens(texts))
    return embeddings_answer(vectors, model=model, usage=usage, encoding=encoding_format(body)), usage


def rerank_request(body: Mapping[str, Any]) -> dict[str, Any]:
    request = parse_request(body)
    payload: dict[str, Any] = {"model": body["model"], "query": request.query, "documents": request.documents}
    if request.top_n is not None:
        payload["top_n"] = request.top_n
    if body.get("max_tokens_per_doc") is not None:
        payload["max_tokens_per_doc"] = body["max_tokens_per_doc"]
    return payload


def ranks(data: Mapping[str, Any], body: Mapping[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
    request = parse_request(body)
    results = data.get("results")
    if not isinstance(results, list) or not all(
        isinstance(r, Mapping) and isinstance(r.get("index"), int) and isinstance(r.get("relevance_score"), int | float)
        for r in results
    ):
        raise UpstreamError(
            "The upstream's results are not [{index, relevance_score}] objects.", code="upstream_invalid_json"
        )
    tokens = _meta_input_tokens(data.get("meta"))
    if tokens is None:
        tokens = estimate_tokens([request.query] * len(request.documents) + request.documents)
    usage = Usage(prompt_tokens=tokens)
    extra = {"meta": data["meta"]} if isinstance(data.get("meta"), Mapping) else None
    answer = rerank_answer(
        ((r["index"], float(r["relevance_score"])) for r in results),
        request,
        model=model,
        usage=usage,
        answer_id=str(data["id"]) if data.get("id") else None,
        extra=extra,
    )
    return answer, usage
