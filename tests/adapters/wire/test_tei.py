"""The tei wire format without a network: embed and rerank translations, estimated usage, errors."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.rerank import estimate_tokens
from switchyard.adapters.wire.tei import TEIAdapter
from switchyard.domain.gateway import Operation, WireFormat
from switchyard.errors import (
    BadRequest,
    RateLimited,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from tests.adapters.wire.provider_targets import target

TEI = target(WireFormat.tei, "BAAI/bge-small-en-v1.5", "http://tei:8080", api_key=None)


def embed(body: dict[str, Any], answer: Any) -> tuple[dict[str, Any], dict[str, Any], Usage | None]:
    adapter = TEIAdapter()
    request = adapter.build(Operation.embeddings, body, TEI, stream=False)
    assert request.url == "http://tei:8080/embed" and "Authorization" not in request.headers
    result = adapter.answer(Operation.embeddings, 200, orjson.dumps(answer), TEI, body)
    assert result.data is not None
    return orjson.loads(request.body or b""), result.data, result.usage


def test_embeddings_as_floats() -> None:
    sent, data, usage = embed(
        {"model": "BAAI/bge-small-en-v1.5", "input": ["hello world", "hi"], "encoding_format": "float"},
        [[0.6, 0.8], [1.0, 0.0]],
    )
    assert sent == {"inputs": ["hello world", "hi"], "truncate": True, "normalize": True}
    assert data == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.6, 0.8]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "BAAI/bge-small-en-v1.5",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},  # ceil(11 / 4) + ceil(2 / 4)
    }
    assert usage == Usage(prompt_tokens=4)


def test_embeddings_as_base64_and_tei_options() -> None:
    body = {"model": "m", "input": "one", "normalize": False, "prompt_name": "query", "dimensions": 2}
    sent, data, _ = embed(body | {"encoding_format": "base64"}, [[0.5, -2.0]])
    assert sent == {"inputs": "one", "truncate": True, "normalize": False, "prompt_name": "query", "dimensions": 2}
    raw = base64.b64decode(data["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -2.0)


def test_token_id_inputs_count_exactly() -> None:
    sent, data, _ = embed({"model": "m", "input": [[101, 2023, 102], [101, 102]]}, [[1.0], [0.0]])
    assert sent["inputs"] == [[101, 2023, 102], [101, 102]]
    assert data["usage"]["prompt_tokens"] == 5


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": [{"text": "x"}]},
        {"model": "m", "input": "x", "encoding_format": "int8"},
        {"model": "m", "input": [1, "x"]},
    ],
)
def test_inputs_tei_cannot_take_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        TEIAdapter().build(Operation.embeddings, body, TEI, stream=False)


@pytest.mark.parametrize("answer", [[[0.1]], {"embeddings": []}, [["x"]]])
def test_a_wrong_answer_is_a_502(answer: Any) -> None:
    adapter = TEIAdapter()
    body = {"model": "m", "input": ["a", "b"]}
    adapter.build(Operation.embeddings, body, TEI, stream=False)
    with pytest.raises(UpstreamError):
        adapter.answer(Operation.embeddings, 200, orjson.dumps(answer), TEI, body)


def test_rerank_round_trip() -> None:
    adapter = TEIAdapter()
    body = {
        "model": "BAAI/bge-reranker-base",
        "query": "What is TEI?",
        "documents": ["TEI serves embeddings", {"text": "Paris is in France"}, "TEI is fast"],
        "top_n": 2,
        "return_documents": True,
    }
    request = adapter.build(Operation.rerank, body, TEI, stream=False)
    assert request.url == "http://tei:8080/rerank"
    assert orjson.loads(request.body or b"") == {
        "query": "What is TEI?",
        "texts": ["TEI serves embeddings", "Paris is in France", "TEI is fast"],
        "raw_scores": False,
        "return_text": True,
        "truncate": True,
    }
    ranks = [
        {"index": 2, "score": 0.7, "text": "TEI is fast"},
        {"index": 0, "score": 0.9, "text": "TEI serves embeddings"},
        {"index": 1, "score": 0.01, "text": "Paris is in France"},
    ]
    result = adapter.answer(Operation.rerank, 200, orjson.dumps(ranks), TEI, body)
    assert result.data is not None and result.data["id"].startswith("rerank-")
    assert {k: v for k, v in result.data.items() if k != "id"} == {
        "model": "BAAI/bge-small-en-v1.5",
        "results": [
            {"index": 0, "relevance_score": 0.9, "document": {"text": "TEI serves embeddings"}},
            {"index": 2, "relevance_score": 0.7, "document": {"text": "TEI is fast"}},
        ],
        "usage": {"prompt_tokens": 23, "total_tokens": 23},  # 3 x ceil(12 / 4) + 6 + 5 + 3
    }
    assert result.usage == Usage(prompt_tokens=23)


def test_rerank_without_documents_and_top_n() -> None:
    adapter = TEIAdapter()
    body = {"model": "m", "query": "q", "documents": ["a", "b"]}
    assert orjson.loads(adapter.build(Operation.rerank, body, TEI, stream=False).body or b"")["return_text"] is False
    result = adapter.answer(Operation.rerank, 200, b'[{"index":1,"score":0.8},{"index":0,"score":0.2}]', TEI, body)
    assert result.data is not None
    assert result.data["results"] == [{"index": 1, "relevance_score": 0.8}, {"index": 0, "relevance_score": 0.2}]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"documents": []}, "documents"),
        ({"documents": [{"title": "x"}]}, "documents"),
        ({"query": 3}, "query"),
        ({"top_n": 0}, "top_n"),
        ({"return_documents": "yes"}, "return_documents"),
    ],
)
def test_bad_rerank_requests_are_400(change: dict[str, Any], param: str) -> None:
    body = {"model": "m", "query": "q", "documents": ["a"]} | change
    with pytest.raises(BadRequest) as refused:
        TEIAdapter().build(Operation.rerank, body, TEI, stream=False)
    assert refused.value.param == param


def test_nothing_streams() -> None:
    with pytest.raises(BadRequest):
        TEIAdapter().build(Operation.embeddings, {"model": "m", "input": "x", "stream": True}, TEI, stream=True)
    with pytest.raises(BadRequest):
        TEIAdapter().stream(Operation.embeddings, TEI, include_usage=False)


@pytest.mark.parametrize(
    ("status", "error_type", "error", "expected_status", "retryable"),
    [
        (400, "empty", UpstreamRejected, 400, False),
        (413, "validation", UpstreamRejected, 413, False),
        (422, "tokenizer", UpstreamRejected, 422, False),
        (424, "backend", UpstreamError, 502, True),
        (429, "overloaded", RateLimited, 429, True),
        (503, "unhealthy", UpstreamUnavailable, 503, True),
    ],
)
def test_errors(status: int, error_type: str, error: type[Exception], expected_status: int, retryable: bool) -> None:
    payload = orjson.dumps({"error": "batch size 64 > maximum allowed batch size 32", "error_type": error_type})
    mapped = TEIAdapter().error(status, payload)
    assert isinstance(mapped, error) and mapped.status == expected_status and mapped.retryable is retryable
    assert "batch size 64 > maximum allowed batch size 32" in mapped.message


def test_estimate_tokens() -> None:
    assert estimate_tokens(["", "abcd", "abcde", [1, 2, 3]]) == 0 + 1 + 2 + 3
