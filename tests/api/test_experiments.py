"""The MLflow views under ``/api/v1`` (experiments, their runs, runs, logged models) over a real MLflow store on
both backends, filled in-process through ``MlflowClient``. The stock SDK against a real server is in
``tests/e2e/test_mlflow_e2e.py``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from switchyard.adapters import mlflow_tracking
from switchyard.api.app import create_app
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from tests.api.route_table import assert_error_shape
from tests.conftest import CallerFactory

Headers = dict[str, str]


def _fill(settings: Settings) -> dict[str, Any]:
    """Two experiments (one deleted) and, in the live one, two runs (one deleted) and a pending logged model."""
    client = mlflow_tracking.tracking_client(settings)
    suffix = uuid.uuid4().hex[:8]
    live = client.create_experiment(f"churn-{suffix}", tags={"team": "growth"})
    gone = client.create_experiment(f"old-{suffix}")
    client.delete_experiment(gone)
    good = client.create_run(live, run_name="good", tags={"stage": "dev"})
    client.log_param(good.info.run_id, "depth", "4")
    for step, loss in enumerate([0.8, 0.4]):
        client.log_metric(good.info.run_id, "loss", loss, step=step)
    client.set_terminated(good.info.run_id)
    bad = client.create_run(live, run_name="bad")
    client.log_metric(bad.info.run_id, "loss", 2.0)
    client.set_terminated(bad.info.run_id, status="FAILED")
    dropped = client.create_run(live, run_name="dropped")
    client.delete_run(dropped.info.run_id)
    model = client.create_logged_model(live, name="churn-model", source_run_id=good.info.run_id)
    return {
        "suffix": suffix,
        "live": live,
        "gone": gone,
        "good": good.info.run_id,
        "bad": bad.info.run_id,
        "model": model.model_id,
    }


async def test_experiments_runs_and_logged_models(
    client: httpx.AsyncClient, settings: Settings, new_caller: CallerFactory
) -> None:
    made = _fill(settings)
    reader = (await new_caller())["headers"]  # no permission: any authenticated caller reads, as on /mlflow

    listed = await client.get("/api/v1/experiments", params={"tags.team": "growth"}, headers=reader)
    assert listed.status_code == 200, listed.text
    names = [e["name"] for e in listed.json()["data"]]
    assert f"churn-{made['suffix']}" in names and f"old-{made['suffix']}" not in names
    deleted = await client.post(
        "/api/v1/experiments/search",
        json={"filters": [{"field": "name", "op": "contains", "values": [made["suffix"]]},
                          {"field": "lifecycle_stage", "op": "eq", "values": ["deleted"]}]},
        headers=reader,
    )  # fmt: skip
    assert [e["id"] for e in deleted.json()["data"]] == [made["gone"]]
    one = (await client.get(f"/api/v1/experiments/{made['live']}", headers=reader)).json()
    assert one["object"] == "experiment" and one["tags"] == [{"key": "team", "value": "growth"}]

    runs = (await client.get(f"/api/v1/experiments/{made['live']}/runs", headers=reader)).json()
    assert runs["total"] == 2 and [r["name"] for r in runs["data"]] == ["bad", "good"]  # newest first
    by_status = await client.get(
        f"/api/v1/experiments/{made['live']}/runs", params={"status": "failed"}, headers=reader
    )
    assert [r["id"] for r in by_status.json()["data"]] == [made["bad"]]
    low_loss = await client.post(
        f"/api/v1/experiments/{made['live']}/runs/search",
        json={"filters": [{"field": "metrics.loss", "op": "lt", "values": [1]}], "sort": [{"field": "name"}]},
        headers=reader,
    )
    assert [r["id"] for r in low_loss.json()["data"]] == [made["good"]]
    run = (await client.get(f"/api/v1/runs/{made['good']}", headers=reader)).json()
    assert (run["status"], run["metrics"], run["parameters"]) == ("finished", {"loss": 0.4}, {"depth": "4"})
    assert {"key": "stage", "value": "dev"} in run["tags"]

    models = await client.get("/api/v1/logged-models", params={"experiment_id": made["live"]}, headers=reader)
    assert models.status_code == 200, models.text
    [model] = models.json()["data"]
    assert (model["id"], model["status"], model["run_id"]) == (made["model"], "pending", made["good"])
    assert (model["kind"], model["schema"], model["input_example"]) == ("unknown", None, None)
    assert (await client.get(f"/api/v1/logged-models/{made['model']}", headers=reader)).json()["name"] == "churn-model"
    no_example = await client.get(f"/api/v1/logged-models/{made['model']}/input-example", headers=reader)
    assert no_example.status_code == 404
    assert_error_shape(no_example, "a model without an input example")


async def test_unknown_ids_and_bad_filters(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    for path in (
        "/api/v1/experiments/424242",
        "/api/v1/experiments/not-a-number",
        "/api/v1/experiments/424242/runs",
        "/api/v1/runs/0123456789abcdef0123456789abcdef",
        "/api/v1/runs/..%2F..",
        "/api/v1/logged-models/m-0123456789abcdef0123456789abcdef",
        "/api/v1/logged-models/987654321",
    ):
        answer = await client.get(path, headers=admin_headers)
        assert answer.status_code == 404, f"{path}: {answer.text}"
        assert_error_shape(answer, path)
    for body, param in (
        ({"filters": [{"field": "metrics", "op": "eq", "values": [1]}]}, "metrics"),
        ({"filters": [{"field": "created_at", "op": "gt", "values": ["last week"]}]}, "created_at"),
        ({"sort": [{"field": "colour", "order": "asc"}]}, "colour"),
    ):
        answer = await client.post("/api/v1/logged-models/search", json=body, headers=admin_headers)
        assert answer.status_code == 400, answer.text
        assert assert_error_shape(answer, str(body))["param"] == param


async def test_mlflow_needs_a_key_before_anything_is_built(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer sy-wrong"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = await client.get("/mlflow/api/2.0/mlflow/experiments/search", headers=headers)
        assert answer.status_code == 401
        assert assert_error_shape(answer, "/mlflow")["type"] == "authentication_error"
    listed = await client.get("/api/v1/experiments")
    assert listed.status_code == 401


async def test_mlflow_switched_off(settings: Settings, platform: Platform, admin_headers: Headers) -> None:
    off = settings.model_copy(update={"mlflow_enabled": False})
    platform.settings = off
    app: FastAPI = create_app(off, platform)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for path in ("/mlflow/api/2.0/mlflow/experiments/search", "/api/v1/experiments", "/api/v1/logged-models"):
                answer = await http.get(path, headers=admin_headers)
                assert answer.status_code == 404, path
                assert "SWITCHYARD_MLFLOW_ENABLED" in assert_error_shape(answer, path)["message"]
