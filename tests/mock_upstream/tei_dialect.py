"""Hugging Face text-embeddings-inference: ``POST /embed`` and ``POST /rerank``.

A TEI server serves one model and its requests name none, so each mock "server" lives under
``/tei/{model}/`` (a provider's base URL ends with it) and the shared faults follow that path segment. Like the
real router it answers bare JSON arrays — vectors (unit length unless ``normalize`` is false) and
``[{"index", "score", "text"?}]`` ranks, best first — and errors as ``{"error", "error_type"}`` with TEI's
statuses (400 empty, 413 validation, 422 tokenizer, 424 backend, 429 overloaded, 503 unhealthy).
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from tests.mock_upstream.openai_dialect import vector
from tests.mock_upstream.server import MockUpstream, common_faults

ERROR_TYPES = {400: "empty", 413: "validation", 422: "tokenizer", 424: "backend", 429: "overloaded", 503: "unhealthy"}


def tei_error(status: int, message: str | None = None) -> web.Response:
    body = {"error": message or f"mock failure {status}", "error_type": ERROR_TYPES.get(status, "backend")}
    return web.json_response(body, status=status)


def tei_vector(text: str, *, normalize: bool = True) -> list[float]:
    values = vector(text)
    if not normalize:
        return values
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def relevance(query: str, text: str) -> float:
    """A score in (0, 1): the share of the query's words found in the text, smoothed."""
    words = set(query.lower().split())
    found = words & set(text.lower().split())
    return (len(found) + 1) / (len(words) + 2)


async def embed(request: web.Request) -> web.StreamResponse:
    faulted = await common_faults(request, request.match_info["model"], tei_error)
    if faulted is not None:
        return faulted
    body = await request.json()
    inputs: Any = body.get("inputs")
    if inputs in (None, "", []):
        return tei_error(400, "`inputs` cannot be empty")
    if isinstance(inputs, str) or isinstance(inputs, list) and all(isinstance(x, int) for x in inputs):
        inputs = [inputs]
    normalize = body.get("normalize", True) is not False
    return web.json_response([tei_vector(str(item), normalize=normalize) for item in inputs])


async def rerank(request: web.Request) -> web.StreamResponse:
    faulted = await common_faults(request, request.match_info["model"], tei_error)
    if faulted is not None:
        return faulted
    body = await request.json()
    texts = body.get("texts")
    if not texts:
        return tei_error(400, "`texts` cannot be empty")
    if not isinstance(body.get("query"), str):
        return tei_error(422, "Failed to deserialize the JSON body: missing field `query`")
    ranks = []
    for index, text in enumerate(texts):
        rank: dict[str, Any] = {"index": index, "score": relevance(body["query"], text)}
        if body.get("return_text"):
            rank["text"] = text
        ranks.append(rank)
    ranks.sort(key=lambda r: r["score"], reverse=True)
    return web.json_response(ranks)


def install(server: MockUpstream, prefix: str = "/tei/{model}") -> None:
    server.route("POST", f"{prefix}/embed", embed)
    server.route("POST", f"{prefix}/rerank", rerank)
