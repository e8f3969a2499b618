"""TEI providers behind the OpenAI front door: the official openai SDK (embeddings) and httpx (rerank) against
the mock text-embeddings-inference servers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ModelFactory
from tests.mock_upstream.server import MockUpstream
from tests.mock_upstream.tei_dialect import relevance, tei_vector

H = dict[str, str]
DOCUMENTS = ["TEI serves embeddings fast", {"text": "Paris is in France"}, "TEI is text embeddings inference"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def tei_model(models: ModelFactory, name: str, *servers: str, model_type: str, **fields: Any) -> None:
    """A router over TEI servers, each its own base URL (``/tei/<server>`` on the mock)."""
    providers = [await models.provider(s, wire_format="tei", base_path=f"/tei/{s}", **fields) for s in servers]
    await models.router(name, providers, model_type=model_type, **({"mode": "fallback"} if len(servers) > 1 else {}))


async def test_embeddings(models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream) -> None:
    server = unique("tei-embed")
    await tei_model(models, "tei-embed", server, model_type="text-embeddings-inference")
    as_base64 = await openai_client.embeddings.create(model="tei-embed", input=["hello world", "hi"])
    as_float = await openai_client.embeddings.create(model="tei-embed", input="hello world", encoding_format="float")
    assert as_base64.data[0].embedding == pytest.approx(tei_vector("hello world"))
    assert as_base64.data[1].embedding == pytest.approx(tei_vector("hi"))
    assert as_float.data[0].embedding == pytest.approx(tei_vector("hello world"))
    assert as_base64.model == server
    assert (as_base64.usage.prompt_tokens, as_base64.usage.total_tokens) == (4, 4)  # estimated: ceil(11/4) + 1
    sent = mock_upstream.received(model=server)[0]
    assert sent.path == f"/tei/{server}/embed"
    assert sent.body == {"inputs": ["hello world", "hi"], "truncate": True, "normalize": True}


async def test_provider_defaults_reach_tei(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    server = unique("tei-raw")
    await tei_model(
        models, "tei-raw", server, model_type="text-embeddings-inference", default_options={"normalize": False}
    )
    answer = await openai_client.embeddings.create(model="tei-raw", input="hello", encoding_format="float")
    assert answer.data[0].embedding == pytest.approx(tei_vector("hello", normalize=False))
    assert mock_upstream.received(model=server)[0].body["normalize"] is False


async def test_rerank(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    server = unique("tei-rerank")
    await tei_model(models, "tei-rerank", server, model_type="text-classification")
    body = {
        "model": "tei-rerank",
        "query": "what is TEI",
        "documents": DOCUMENTS,
        "top_n": 2,
        "return_documents": True,
    }
    answer = await client.post("/v1/rerank", json=body, headers=admin_headers)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["model"] == server and data["id"].startswith("rerank-")
    assert data["results"] == [
        {
            "index": 2,
            "relevance_score": pytest.approx(relevance("what is TEI", DOCUMENTS[2])),
            "document": {"text": "TEI is text embeddings inference"},
        },
        {
            "index": 0,
            "relevance_score": pytest.approx(relevance("what is TEI", DOCUMENTS[0])),
            "document": {"text": "TEI serves embeddings fast"},
        },
    ]
    assert data["usage"]["prompt_tokens"] == data["usage"]["total_tokens"] > 0
    (sent,) = mock_upstream.received(model=server)
    assert sent.path == f"/tei/{server}/rerank"
    assert sent.body == {
        "query": "what is TEI",
        "texts": ["TEI serves embeddings fast", "Paris is in France", "TEI is text embeddings inference"],
        "raw_scores": False,
        "return_text": True,
        "truncate": True,
    }
    plain = await client.post(
        "/v1/rerank", json=body | {"top_n": None, "return_documents": False}, headers=admin_headers
    )
    assert [r["index"] for r in plain.json()["results"]] == [2, 0, 1]
    assert all(set(r) == {"index", "relevance_score"} for r in plain.json()["results"])


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [("fail-413", 413, "mock failure 413"), ("fail-422", 422, "mock failure 422")],
)
async def test_client_errors_pass_through(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, fault: str, status: int, message: str
) -> None:
    await tei_model(models, f"tei-{fault}", unique(f"tei-{fault}"), model_type="text-embeddings-inference")
    answer = await client.post("/v1/embeddings", json={"model": f"tei-{fault}", "input": "x"}, headers=admin_headers)
    assert answer.status_code == status and answer.json()["error"]["message"] == message


async def test_bad_rerank_input_is_400_before_any_upstream(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    server = unique("tei-bad")
    await tei_model(models, "tei-bad", server, model_type="text-embeddings-inference")
    body = {"model": "tei-bad", "query": "q", "documents": [{"title": "no text"}]}
    answer = await client.post("/v1/rerank", json=body, headers=admin_headers)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "documents"
    streamed = await client.post(
        "/v1/embeddings", json={"model": "tei-bad", "input": "x", "stream": True}, headers=admin_headers
    )
    assert streamed.status_code == 400 and streamed.json()["error"]["param"] == "stream"
    assert mock_upstream.received(model=server) == []


@pytest.mark.parametrize("fault", ["fail-424", "fail-503", "fail-429"])
async def test_failures_fail_over(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream, fault: str
) -> None:
    bad, good = unique(f"tei-{fault}"), unique("tei-healthy")
    await tei_model(models, f"tei-fo-{fault}", bad, good, model_type="text-embeddings-inference")
    answer = await openai_client.embeddings.create(model=f"tei-fo-{fault}", input="hello", encoding_format="float")
    assert answer.data[0].embedding == pytest.approx(tei_vector("hello")) and answer.model == good
    assert len(mock_upstream.received(model=bad)) == 1 and len(mock_upstream.received(model=good)) == 1


async def test_a_lone_failing_model_is_a_502(models: ModelFactory, client: httpx.AsyncClient, admin_headers: H) -> None:
    await tei_model(models, "tei-424", unique("tei-fail-424"), model_type="text-classification")
    answer = await client.post(
        "/v1/rerank", json={"model": "tei-424", "query": "q", "documents": ["d"]}, headers=admin_headers
    )
    assert answer.status_code == 502 and "mock failure 424" in answer.json()["error"]["message"]
