"""Deployments through the HTTP API and the V2 front door, in-process, on SQLite and PostgreSQL, with models
logged in the platform's real MLflow store: deploy, infer with JSON and binary tensors (encoded and decoded by
the official tritonclient and kserve clients), key scope, every V2 error, tags, logs, search, rollover, delete."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from sqlalchemy import select
from tritonclient.http import InferenceServerClient, InferRequestedOutput, InferResult
from tritonclient.http import InferInput as TritonInput

from switchyard import __version__
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import UsageRecordRow
from tests.conftest import CallerFactory
from tests.deployment_registry import Registered, register
from tests.onnx_models import iris_classifier

Headers = dict[str, str]


@pytest.fixture
async def registered(settings: Settings) -> Registered:
    models = [iris_classifier("logistic").model, iris_classifier("tree").model]
    return await asyncio.to_thread(register, settings, models)


async def deploy(client: httpx.AsyncClient, headers: Headers, model: str, name: str = "iris", **fields: Any) -> Any:
    body = {"kind": "logged-model", "model": model, "name": name, **fields}
    answer = await client.post("/api/v1/deployments", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def settled(client: httpx.AsyncClient, headers: Headers, deployment_id: int, revision: int = 1) -> Any:
    deadline = time.monotonic() + 30
    while True:
        item = (await client.get(f"/api/v1/deployments/{deployment_id}", headers=headers)).json()
        if item["status"] != "pending" and (item["running_revision"] == revision or item["error"]):
            return item
        assert time.monotonic() < deadline, item
        await asyncio.sleep(0.05)


def samples() -> np.ndarray[Any, Any]:
    return iris_classifier().samples


def json_request(rows: np.ndarray[Any, Any], **fields: Any) -> dict[str, Any]:
    tensor = {"name": "float_input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
    return {"inputs": [tensor], **fields}


def v2_error(answer: httpx.Response, status: int, *fragments: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    for fragment in fragments:
        assert fragment in body["error"], body


async def test_deploy_then_infer_with_json_and_binary_tensors(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, registered: Registered
) -> None:
    created = await deploy(client, admin_headers, registered.alias("champion"), tags={"team": "ml"})
    assert (created["status"], created["revision"], created["running_revision"]) == ("pending", 1, None)
    assert created["serving"] == {"size": "small"} and created["tags"] == [{"key": "team", "value": "ml"}]
    item = await settled(client, admin_headers, created["id"])
    assert (item["status"], item["error"], item["model_data"]["platform"]) == ("running", None, "onnxruntime_onnx")

    server = (await client.get("/v2")).json()
    assert server == {"name": "switchyard", "version": __version__, "extensions": ["binary_tensor_data"]}
    assert (await client.get("/v2/health/live")).json() == {"live": True}
    assert (await client.get("/v2/health/ready")).json() == {"ready": True}
    metadata = (await client.get("/v2/models/iris", headers=admin_headers)).json()
    assert metadata == {
        "name": "iris",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        ],
    }
    ready = await client.get("/v2/models/iris/versions/1/ready", headers=admin_headers)
    assert (ready.status_code, ready.json()) == (200, {"name": "iris", "ready": True})

    expected = iris_classifier().labels.tolist()
    answer = await client.post("/v2/models/iris/infer", json=json_request(samples(), id="r1"), headers=admin_headers)
    body = answer.json()
    assert (answer.status_code, body["model_name"], body["model_version"], body["id"]) == (200, "iris", "1", "r1")
    assert body["outputs"][0] == {"name": "label", "datatype": "INT64", "shape": [len(expected)], "data": expected}

    # tritonclient's encoder and decoder: binary inputs, binary outputs (what it asks for by default)
    triton_input = TritonInput("float_input", list(samples().shape), "FP32")
    triton_input.set_data_from_numpy(samples())
    request_body, json_size = InferenceServerClient.generate_request_body([triton_input])
    headers = {**admin_headers, "Inference-Header-Content-Length": str(json_size)}
    for path in ("/v2/models/iris/infer", f"/api/v1/deployments/{created['id']}/v2/models/default/infer"):
        answer = await client.post(path, content=request_body, headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/octet-stream", answer.text
        result = InferResult.from_response_body(
            answer.content, False, answer.headers["inference-header-content-length"]
        )
        assert result.as_numpy("label").tolist() == expected
        assert result.as_numpy("probabilities").shape == (len(expected), 3)

    json_output = [InferRequestedOutput("probabilities", binary_data=False), InferRequestedOutput("label")]
    request_body, json_size = InferenceServerClient.generate_request_body([triton_input], outputs=json_output)
    answer = await client.post(
        "/v2/models/iris/versions/1/infer",
        content=request_body,
        headers={**admin_headers, "Inference-Header-Content-Length": str(json_size)},
    )
    result = InferResult.from_response_body(answer.content, False, answer.headers["inference-header-content-length"])
    assert "data" in result.get_output("probabilities") and result.as_numpy("label").tolist() == expected

    # every inference is a usage record, as on /v1 (router: the deployment's name)
    platform: Platform = app.state.platform
    await platform.governor.writer.flush()
    async with platform.sessions() as session:
        recorded = (
            (await session.execute(select(UsageRecordRow).where(UsageRecordRow.endpoint == "v2_infer"))).scalars().all()
        )
    assert len(recorded) == 4 and {(r.router, r.status) for r in recorded} == {("iris", 200)}
    assert all(r.latency_ms > 0 and r.user_id is not None for r in recorded)

    # kserve's REST client, binary and JSON
    kserve = InferenceRESTClient(RESTConfig(transport=httpx.ASGITransport(app=app), protocol="v2"))
    try:
        base = "http://testserver"
        assert await kserve.is_server_live(base) and await kserve.is_server_ready(base)
        assert await kserve.is_model_ready(base, "iris", headers=admin_headers)
        for binary in (True, False):
            kserve_input = InferInput("float_input", list(samples().shape), "FP32")
            kserve_input.set_data_from_numpy(samples(), binary_data=binary)
            response = await kserve.infer(
                base, InferRequest("iris", [kserve_input]), model_name="iris", headers=dict(admin_headers)
            )
            assert response.outputs[0].as_numpy().tolist() == expected
    finally:
        await kserve.close()


async def test_every_v2_error_in_the_protocols_shape(
    client: httpx.AsyncClient, admin_headers: Headers, registered: Registered, new_caller: CallerFactory
) -> None:
    created = await deploy(client, admin_headers, registered.alias("champion"))
    await settled(client, admin_headers, created["id"])
    missing = await deploy(client, admin_headers, "models:/no-such-model@champion", name="missing")
    assert missing["status"] == "failed" and "no-such-model" in missing["error"]

    good = json_request(samples())
    v2_error(await client.post("/v2/models/iris/infer", json=good), 401, "No API key")
    v2_error(await client.post("/v2/models/nope/infer", json=good, headers=admin_headers), 404, "'nope' does not")
    v2_error(await client.get("/v2/models/nope", headers=admin_headers), 404)
    v2_error(await client.post("/v2/models/iris/versions/5/infer", json=good, headers=admin_headers), 404, "Version 5")
    v2_error(await client.post("/v2/models/missing/infer", json=good, headers=admin_headers), 503, "not ready")
    v2_error(await client.get("/v2/models/missing/ready", headers=admin_headers), 503, "could not be loaded")
    v2_error(await client.get("/v2/models/iris/infer", headers=admin_headers), 405, "use POST")
    v2_error(await client.get("/v2/repository/index", headers=admin_headers), 404, "No V2 route")
    v2_error(
        await client.post("/api/v1/deployments/987654/v2/models/default/infer", json=good, headers=admin_headers), 404
    )
    wrong_name = f"/api/v1/deployments/{created['id']}/v2/models/other/infer"
    v2_error(await client.post(wrong_name, json=good, headers=admin_headers), 404, "use 'default'")

    three = json_request(samples()[:, :3])
    v2_error(await client.post("/v2/models/iris/infer", json=three, headers=admin_headers), 400, "shape [-1, 4]")
    as_doubles = {"inputs": [{**good["inputs"][0], "datatype": "FP64"}]}
    v2_error(await client.post("/v2/models/iris/infer", json=as_doubles, headers=admin_headers), 400, "FP32, not FP64")
    v2_error(await client.post("/v2/models/iris/infer", content=b"{", headers=admin_headers), 400, "not valid JSON")
    v2_error(await client.post("/v2/models/iris/infer", headers=admin_headers), 400, "missing")
    head = orjson.dumps(
        {
            "inputs": [
                {"name": "float_input", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
            ]
        }
    )
    truncated = head + np.ones(3, dtype=np.float32).tobytes()
    headers = {**admin_headers, "Inference-Header-Content-Length": str(len(head))}
    v2_error(await client.post("/v2/models/iris/infer", content=truncated, headers=headers), 400, "ends before")
    oversize = {"inputs": [{"name": "float_input", "shape": [1, 4], "datatype": "FP32", "data": [0.0] * 3_000_000}]}
    v2_error(await client.post("/v2/models/iris/infer", json=oversize, headers=admin_headers), 413, "larger than")

    outsider = await new_caller()
    keys = outsider["headers"]
    scoped = await client.post(
        "/api/v1/keys",
        json={"name": "scoped", "user_id": outsider["user"]["id"], "allowed_routers": ["other"]},
        headers=admin_headers,
    )
    scoped_headers = {"Authorization": f"Bearer {scoped.json()['key']}"}
    v2_error(await client.post("/v2/models/iris/infer", json=good, headers=scoped_headers), 404, "do not have access")
    by_id = f"/api/v1/deployments/{created['id']}/v2/models/default/infer"
    v2_error(await client.post(by_id, json=good, headers=scoped_headers), 404)
    unscoped = await client.post("/v2/models/iris/infer", json=good, headers=keys)  # a role without permissions
    assert unscoped.status_code == 200


async def test_manage_tag_search_log_roll_over_and_delete(
    client: httpx.AsyncClient, admin_headers: Headers, registered: Registered
) -> None:
    created = await deploy(client, admin_headers, registered.model_ids[0], description="first", tags={"a": "1"})
    await settled(client, admin_headers, created["id"])
    path = f"/api/v1/deployments/{created['id']}"

    tagged = await client.post(f"{path}/tags", json={"tags": {"a": "2", "stage": ""}}, headers=admin_headers)
    assert tagged.json()["tags"] == [{"key": "a", "value": "2"}, {"key": "stage", "value": ""}]
    untagged = await client.delete(f"{path}/tags/a", headers=admin_headers)
    assert untagged.json()["tags"] == [{"key": "stage", "value": ""}]
    assert (await client.delete(f"{path}/tags/a", headers=admin_headers)).status_code == 404

    listed = await client.get("/api/v1/deployments", params={"status": "running"}, headers=admin_headers)
    assert [d["name"] for d in listed.json()["data"]] == ["iris"]
    search = {"filters": [{"field": "serving.size", "op": "eq", "values": ["large"]}]}
    assert (await client.post("/api/v1/deployments/search", json=search, headers=admin_headers)).json()["total"] == 0
    bad = await client.patch(path, json={"model": "iris"}, headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "model"

    rolled = await client.patch(
        path, json={"model": registered.version(2), "serving": {"size": "large"}}, headers=admin_headers
    )
    assert (rolled.json()["revision"], rolled.json()["running_revision"], rolled.json()["status"]) == (2, 1, "running")
    await settled(client, admin_headers, created["id"], revision=2)
    answer = await client.post("/v2/models/iris/infer", json=json_request(samples()), headers=admin_headers)
    assert answer.json()["model_version"] == "2"
    assert answer.json()["outputs"][0]["data"] == iris_classifier("tree").labels.tolist()

    logs = (await client.get(f"{path}/logs", params={"limit": 2}, headers=admin_headers)).json()
    assert logs["total"] >= 4 and len(logs["data"]) == 2 and logs["data"][-1]["message"] == "revision 1 dropped"
    audit = (await client.get("/api/v1/audit-logs", params={"entity_type": "deployment"}, headers=admin_headers)).json()
    assert {"deployment.create", "deployment.tag", "deployment.untag", "deployment.update"} <= {
        entry["action"] for entry in audit["data"]
    }

    deleted = await client.delete(path, headers=admin_headers)
    assert deleted.json() == {"id": created["id"], "object": "deployment", "deleted": True}
    v2_error(await client.post("/v2/models/iris/infer", json=json_request(samples()), headers=admin_headers), 404)
    assert (await client.get(path, headers=admin_headers)).status_code == 404


async def test_v2_inferences_count_against_the_callers_request_limits(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: Headers,
    registered: Registered,
    new_caller: CallerFactory,
) -> None:
    created = await deploy(client, admin_headers, registered.alias("champion"), name="limited-iris")
    await settled(client, admin_headers, created["id"])
    caller = await new_caller()
    limits = [{"router": "limited-iris", "type": "rpm", "value": 2}, {"router": "*", "type": "tpm", "value": 1}]
    answer = await client.patch(f"/api/v1/roles/{caller['role']['id']}", json={"limits": limits}, headers=admin_headers)
    assert answer.status_code == 200, answer.text
    paths = ["/v2/models/limited-iris/infer", f"/api/v1/deployments/{created['id']}/v2/models/default/infer"]
    first, second = [await client.post(path, json=json_request(samples()), headers=caller["headers"]) for path in paths]
    # Both doors count on the same deployment; a token limit does not hold tensors.
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["x-ratelimit-remaining-requests"] == "1" and "x-ratelimit-limit-tokens" not in first.headers
    refused = await client.post(paths[0], json=json_request(samples()), headers=caller["headers"])
    v2_error(refused, 429, "Rate limit reached", "rpm")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    mine = (await client.get("/api/v1/me/limits", headers=caller["headers"])).json()
    (shown,) = [d for d in mine["deployments"] if d["deployment"] == "limited-iris"]
    assert shown["id"] == created["id"]
    assert [(x["type"], x["value"], x["used"], x["remaining"]) for x in shown["limits"]] == [("rpm", 2, 2, 0)]
    # Metadata and readiness are not inferences: not counted, not refused.
    assert (await client.get("/v2/models/limited-iris", headers=caller["headers"])).status_code == 200
    assert (await client.post(paths[0], json=json_request(samples()), headers=admin_headers)).status_code == 200

    platform: Platform = app.state.platform
    await platform.governor.writer.flush()
    async with platform.sessions() as session:
        statuses = (
            (
                await session.execute(
                    select(UsageRecordRow.status)
                    .where(UsageRecordRow.router == "limited-iris", UsageRecordRow.user_id == caller["user"]["id"])
                    .order_by(UsageRecordRow.id)
                )
            )
            .scalars()
            .all()
        )
    assert list(statuses) == [200, 200, 429]
    exposition = (await client.get("/metrics")).text  # counted in the metrics like routed requests
    provider = f"deployment:{created['id']}"
    for status, count in ((200, 3), (429, 1)):
        line = (
            f'switchyard_requests_total{{endpoint="v2_infer",provider="{provider}",router="limited-iris",'
            f'status="{status}"}} {count}.0'
        )
        assert line in exposition, exposition
