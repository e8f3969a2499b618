"""Local models behind the OpenAI front door: the built-in ``all-minilm-l6-v2`` router created at start, its
answers (as the official openai SDK reads them) against sentence-transformers, bad input, and providers of wire
format ``local`` naming their model folder."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from switchyard.services.bootstrap import bootstrap
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from tests.adapters.runtimes.reference import (
    BUILTIN_URL,
    DIMENSION,
    TEXTS,
    assert_matches,
    folder_copy,
    reference_tokens,
)

H = dict[str, str]
MODEL = "all-minilm-l6-v2"


@pytest.fixture
def settings(settings: Settings, local_models_dir: Path) -> Settings:
    return settings.model_copy(update={"builtin_embeddings": True, "models_dir": local_models_dir})


async def local_model(client: httpx.AsyncClient, headers: H, name: str, base_url: str) -> dict[str, Any]:
    provider = await client.post(
        "/api/v1/providers",
        json={"name": name, "wire_format": "local", "base_url": base_url, "upstream_model": name},
        headers=headers,
    )
    assert provider.status_code == 201, provider.text
    router = await client.post(
        "/api/v1/routers",
        json={
            "name": name,
            "model_type": "text-embeddings-inference",
            "providers": [{"provider_id": provider.json()["id"]}],
        },
        headers=headers,
    )
    assert router.status_code == 201, router.text
    return dict(provider.json())


async def test_the_builtin_model_is_created_once(
    client: httpx.AsyncClient, admin_headers: H, platform: Platform, openai_client: openai.AsyncOpenAI
) -> None:
    await bootstrap(platform)  # a second start changes nothing
    providers = (await client.get("/api/v1/providers", headers=admin_headers)).json()["data"]
    routers = (await client.get("/api/v1/routers", headers=admin_headers)).json()["data"]
    assert [(p["name"], p["wire_format"], p["base_url"], p["vector_size"]) for p in providers] == [
        (MODEL, "local", BUILTIN_URL, DIMENSION)
    ]
    assert [(r["name"], r["model_type"], r["providers"][0]["provider_id"]) for r in routers] == [
        (MODEL, "text-embeddings-inference", providers[0]["id"])
    ]
    assert [m.id for m in (await openai_client.models.list()).data] == [MODEL]


async def test_embeddings_match_sentence_transformers(openai_client: openai.AsyncOpenAI) -> None:
    as_base64 = await openai_client.embeddings.create(model=MODEL, input=TEXTS)  # the SDK asks for base64
    as_float = await openai_client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
    vectors = np.array([d.embedding for d in as_base64.data], dtype=np.float32)
    assert_matches(vectors, TEXTS)
    assert np.array_equal(vectors, np.array([d.embedding for d in as_float.data], dtype=np.float32))
    assert [d.index for d in as_float.data] == list(range(len(TEXTS))) and as_float.model == MODEL
    tokens = sum(reference_tokens(text) for text in TEXTS)
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens == tokens
    single = await openai_client.embeddings.create(model=MODEL, input="x", dimensions=DIMENSION)
    assert len(single.data) == 1 and single.usage.prompt_tokens == 3  # [CLS] x [SEP]


async def test_base64_on_the_wire(client: httpx.AsyncClient, admin_headers: H) -> None:
    answer = await client.post(
        "/v1/embeddings", json={"model": MODEL, "input": "hello", "encoding_format": "base64"}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    packed = answer.json()["data"][0]["embedding"]
    vector = np.frombuffer(base64.b64decode(packed), dtype="<f4")
    assert vector.shape == (DIMENSION,)
    assert_matches(vector.reshape(1, -1), ["hello"])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [101, 7592, 102]}, "input"),
        ({"input": [[101, 102]]}, "input"),
        ({"input": ""}, "input"),
        ({"input": ["fine", ""]}, "input"),
        ({"input": [{"text": "no"}]}, "input"),
        ({"input": "hi", "dimensions": 128}, "dimensions"),
        ({"input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "hi", "stream": True}, "stream"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    client: httpx.AsyncClient, admin_headers: H, body: dict[str, Any], param: str
) -> None:
    answer = await client.post("/v1/embeddings", json={"model": MODEL, **body}, headers=admin_headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize(
    ("wire_format", "base_url", "words"),
    [
        ("local", "local://no-such-model", "local://no-such-model is not a built-in model"),
        ("local", "file:///no/such/folder", "not a folder"),
        ("local", "file://relative/path", "names a folder on this server"),
        ("local", "https://example.com/v1", "local://<name> or file:///<folder>"),
        ("openai", BUILTIN_URL, "for providers of wire_format local"),
        ("local", "local://all-minilm-l6-v2?x=1", "no query or fragment"),
    ],
)
async def test_local_base_urls_are_checked_when_saved(
    client: httpx.AsyncClient, admin_headers: H, wire_format: str, base_url: str, words: str
) -> None:
    body = {"name": "bad", "wire_format": wire_format, "base_url": base_url, "upstream_model": "m"}
    answer = await client.post("/api/v1/providers", json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["param"] == "base_url" and words in error["message"]


async def test_a_folder_that_is_not_sentence_transformers_is_refused(
    client: httpx.AsyncClient, admin_headers: H, tmp_path: Path
) -> None:
    body = {"name": "plain", "wire_format": "local", "base_url": f"file://{tmp_path}", "upstream_model": "m"}
    answer = await client.post("/api/v1/providers", json=body, headers=admin_headers)
    assert answer.status_code == 422 and "has no modules.json" in answer.json()["error"]["message"]
    endpoint = {"name": "parts", "wire_format": "local", "endpoint": {"host": "example.com"}, "upstream_model": "m"}
    answer = await client.post("/api/v1/providers", json=endpoint, headers=admin_headers)
    assert answer.status_code == 422 and "base_url" in answer.json()["error"]["message"]


async def test_any_sentence_transformers_folder_is_served(
    client: httpx.AsyncClient, admin_headers: H, openai_client: openai.AsyncOpenAI, tmp_path: Path
) -> None:
    folder = folder_copy(tmp_path, MODEL)
    provider = await local_model(client, admin_headers, "my-minilm", f"file://{folder}")
    mine = await openai_client.embeddings.create(model="my-minilm", input=TEXTS[:3])
    builtin = await openai_client.embeddings.create(model=MODEL, input=TEXTS[:3])
    assert [d.embedding for d in mine.data] == [d.embedding for d in builtin.data] and mine.model == "my-minilm"
    # `providers test` invokes it in process (there is no HTTP to send)
    tested = (await client.post(f"/api/v1/providers/{provider['id']}/test", headers=admin_headers)).json()
    assert (tested["ok"], tested["status"], tested["operation"], tested["error"]) == (True, 200, "embeddings", None)
    # a PATCH keeps the wire format's kind of base_url: no HTTP upstream for a local provider, and back
    for base_url in ("https://example.com/v1", None):
        body = {"base_url": base_url} if base_url else {"endpoint": {"host": "example.com"}}
        patched = await client.patch(f"/api/v1/providers/{provider['id']}", json=body, headers=admin_headers)
        assert patched.status_code == 422 and patched.json()["error"]["param"] == "base_url", patched.text
    remote = await client.post(
        "/api/v1/providers",
        json={"name": "remote", "wire_format": "openai", "base_url": "https://example.com/v1", "upstream_model": "m"},
        headers=admin_headers,
    )
    assert remote.status_code == 201, remote.text
    patched = await client.patch(
        f"/api/v1/providers/{remote.json()['id']}", json={"base_url": f"file://{folder}"}, headers=admin_headers
    )
    assert patched.status_code == 422 and "for providers of wire_format local" in patched.json()["error"]["message"]
    unchanged = (await client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers)).json()
    assert unchanged["base_url"] == f"file://{folder}"
    # and there is nothing to pass through to
    raw = await client.post(f"/v1/providers/{provider['name']}/embeddings", json={"input": "x"}, headers=admin_headers)
    assert raw.status_code == 400 and "served in this process" in raw.json()["error"]["message"]


async def test_a_model_that_cannot_load_answers_503(
    client: httpx.AsyncClient, admin_headers: H, openai_client: openai.AsyncOpenAI, tmp_path: Path
) -> None:
    folder = tmp_path / "sneaky"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "os.system"}]))
    await local_model(client, admin_headers, "sneaky", f"file://{folder}")
    with pytest.raises(openai.InternalServerError) as caught:
        await openai_client.embeddings.create(model="sneaky", input="hi")
    assert caught.value.status_code == 503
    assert "only sentence-transformers' own modules" in str(caught.value.body)
    provider = (await client.get("/api/v1/providers", params={"name": "sneaky"}, headers=admin_headers)).json()
    tested = await client.post(f"/api/v1/providers/{provider['data'][0]['id']}/test", headers=admin_headers)
    assert tested.status_code == 200
    assert (
        tested.json()["ok"] is False and "only sentence-transformers' own modules" in tested.json()["error"]["message"]
    )
