"""Rerank: the shape ``POST /v1/rerank`` speaks, and the translation the ``tei`` and ``cohere`` formats share.

The request is Cohere's and Jina's shape (vLLM's ``/rerank`` speaks it too)::

    {"model": "my-reranker",
     "query": "what sorts trains?",
     "documents": ["a railway yard", {"text": "a switchyard sorts trains"}],   # strings or {"text": ...}
     "top_n": 1,                 # optional: at most this many results (default: all of them)
     "return_documents": true}   # optional: echo each document's text (default false, as Cohere's;
                                 # Jina's default is true, so say it when it matters)

The answer lists results best first; ``index`` points into the request's ``documents``, ``relevance_score``
is in [0, 1] (higher is more relevant), ``document`` is there only when asked for::

    {"id": "rerank-…", "model": "bge-reranker-base",
     "results": [{"index": 1, "relevance_score": 0.98, "document": {"text": "a switchyard sorts trains"}}],
     "usage": {"prompt_tokens": 12, "total_tokens": 12}}

Upstream extras ride along untouched (Cohere's ``meta``, with its billed search units). Where an upstream
reports no token count (TEI; Cohere bills searches, not tokens) ``usage`` is the gateway's estimate
(``estimate_tokens``). The ``openai`` wire format sends the request to a vLLM-style ``/rerank`` unchanged and
relays the answer as it comes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from switchyard.adapters.wire.base import Usage
from switchyard.errors import BadRequest


@dataclass(frozen=True, slots=True)
class RerankRequest:
    query: str
    documents: list[str]
    top_n: int | None = None
    return_documents: bool = False


def estimate_tokens(inputs: Iterable[str | list[int]]) -> int:
    """The gateway's token estimate for upstreams that report none: a token per four characters of text (the
    usual rule of thumb for English with BPE tokenizers), rounded up per input; token-id inputs count exactly."""
    total = 0
    for item in inputs:
        total += len(item) if isinstance(item, list) else -(-len(item) // 4)
    return total


def _document_texts(documents: Any) -> list[str]:
    if not isinstance(documents, list) or not documents:
        raise BadRequest(
            "'documents' must be a non-empty array of strings or {\"text\": ...} objects.",
            param="documents",
            code="invalid_type",
        )
    texts = []
    for document in documents:
        if isinstance(document, str):
            texts.append(document)
        elif isinstance(document, Mapping) and isinstance(document.get("text"), str):
            texts.append(document["text"])
        else:
            raise BadRequest(
                "Each document must be a string or an object with a 'text' string.",
                param="documents",
                code="invalid_type",
            )
    return texts


def parse_request(body: Mapping[str, Any]) -> RerankRequest:
    """Our rerank request, checked; 400 naming the field for what no upstream could serve."""
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise BadRequest("'query' must be a non-empty string.", param="query", code="invalid_type")
    top_n = body.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise BadRequest("'top_n' must be a positive integer.", param="top_n", code="invalid_type")
    return_documents = body.get("return_documents", False)
    if not isinstance(return_documents, bool):
        raise BadRequest("'return_documents' must be a boolean.", param="return_documents", code="invalid_type")
    return RerankRequest(query, _document_texts(body.get("documents")), top_n, return_documents)


def rerank_answer(
    scores: Iterable[tuple[int, float]],
    request: RerankRequest,
    *,
    model: str,
    usage: Usage,
    answer_id: str | None = None,
    texts: Mapping[int, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Our answer from ``(index, score)`` pairs in any order: sorted best first, cut to ``top_n``, documents
    attached when asked for (``texts`` the upstream echoed win over the request's own)."""
    ranked = sorted(scores, key=lambda pair: pair[1], reverse=True)
    if request.top_n is not None:
        ranked = ranked[: request.top_n]
    results = []
    for index, score in ranked:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if request.return_documents:
            text = (texts or {}).get(index)
            if text is None and 0 <= index < len(request.documents):
                text = request.documents[index]
            if text is not None:
                result["document"] = {"text": text}
        results.append(result)
    answer: dict[str, Any] = {
        "id": answer_id or f"rerank-{uuid.uuid4().hex}",
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
    }
    if extra:
        answer.update(extra)
    return answer
