"""MLflow inside the platform, end to end, on SQLite and on PostgreSQL: a real ``switchyard serve``; a training
script run by ``switchyard mlflow run`` that tracks with the stock ``mlflow`` SDK (experiment, run, params,
metrics, tags, an artifact, a skl2onnx model logged with an input example, registered, aliased, loaded back);
the management views over what it logged; the in-process resolver the deployments use; 401 without a key; and a
restart (``switchyard db upgrade``, then ``serve`` again) that keeps everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.exceptions import MlflowException
from sqlalchemy import text

import mlflow
from switchyard.adapters import mlflow_tracking
from switchyard.settings import Settings
from switchyard.store.engine import create_engine
from tests.api.route_table import assert_error_shape
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY
from tests.e2e.conftest import ServerProcess, StartServer, server_environment, switchyard_executable

SCRIPT = Path(__file__).with_name("mlflow_training_script.py")
COMMAND_LIMIT = 240.0
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _empty_switchyard_tables(url: str) -> None:
    """Switchyard's rows go (a first start follows); MLflow's schema stays, as names here are unique."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                tables = [f'"{name}"' for (name,) in rows if name not in ("alembic_version", "cache_epochs")]
                if tables:
                    await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    url = request.getfixturevalue("postgres_url")
    _empty_switchyard_tables(url)
    return {"SWITCHYARD_DATABASE_URL": url, "SWITCHYARD_SECRET_KEY": SECRET_KEY}


def _environment(**variables: str) -> dict[str, str]:
    env = server_environment(**variables)
    return {name: value for name, value in env.items() if not name.startswith("MLFLOW_")}


def _switchyard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(switchyard_executable()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"switchyard {' '.join(args)}:\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


def _get(server: ServerProcess, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{server.url}{path}", params=params, headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _post(server: ServerProcess, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=AUTH, timeout=30)


def test_the_mlflow_sdk_tracks_registers_and_loads_through_the_platform(
    switchyard_server_factory: StartServer,
    store_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "data"
    env = _environment(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD, **store_env)
    server = switchyard_server_factory(data_dir, env)
    suffix = uuid.uuid4().hex[:8]
    experiment_name, model_name = f"fraud-{suffix}", f"fraud-clf-{suffix}"

    cli_env = _environment(SWITCHYARD_CLI_CONFIG=str(tmp_path / "cli.json"))
    _switchyard(cli_env, "login", server.url, "--api-key", ADMIN_KEY)
    out = tmp_path / "logged.json"
    _switchyard(
        cli_env, "mlflow", "run", "-e", experiment_name, "--", sys.executable, str(SCRIPT), str(out), model_name
    )
    logged = json.loads(out.read_text())
    assert logged["version"] == logged["alias_version"] == "1"
    assert logged["max_difference"] < 1e-5  # the model loaded back through models:/name@alias predicts the same
    assert logged["same_graph_by_version"] and logged["note"] == "trained on 60 rows"

    # the management views
    experiments = _get(server, "/api/v1/experiments", name=experiment_name)
    assert experiments["object"] == "list" and experiments["total"] == 1
    experiment = experiments["data"][0]
    assert experiment["id"] == logged["experiment_id"] and {"key": "team", "value": "fraud"} in experiment["tags"]
    assert _get(server, f"/api/v1/experiments/{experiment['id']}")["name"] == experiment_name
    runs = _get(server, f"/api/v1/experiments/{experiment['id']}/runs")
    assert [r["id"] for r in runs["data"]] == [logged["run_id"]]
    run = _get(server, f"/api/v1/runs/{logged['run_id']}")
    assert run["status"] == "finished" and run["name"] == "train"
    assert run["metrics"]["loss"] == 0.3 and 0.5 < run["metrics"]["accuracy"] <= 1.0
    assert run["parameters"] == {"C": "0.5", "max_iter": "200"}
    assert {"key": "stage", "value": "e2e"} in run["tags"]
    found = _post(
        server,
        f"/api/v1/experiments/{experiment['id']}/runs/search",
        {"filters": [{"field": "metrics.loss", "op": "lt", "values": [0.5]}]},
    )
    assert found.status_code == 200 and found.json()["total"] == 1
    models = _post(
        server,
        "/api/v1/logged-models/search",
        {"filters": [{"field": "id", "op": "eq", "values": [logged["model_id"]]}]},
    )
    assert models.status_code == 200 and models.json()["total"] == 1
    model = models.json()["data"][0]
    assert (model["kind"], model["status"], model["run_id"]) == ("onnx", "ready", logged["run_id"])
    assert model["input_example"] == logged["example"]
    assert model["schema"]["input"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    listed = _get(server, "/api/v1/logged-models", experiment_id=experiment["id"])
    assert [m["id"] for m in listed["data"]] == [logged["model_id"]]
    example = _get(server, f"/api/v1/logged-models/{logged['model_id']}/input-example")
    assert example["inputs"][0]["shape"] == [2, 4] and example["inputs"][0]["datatype"] == "FP32"
    assert example["inputs"][0]["data"] == pytest.approx([x for row in logged["example"] for x in row])

    # bad input on the views
    missing = httpx.get(f"{server.url}/api/v1/experiments/999999", headers=AUTH, timeout=30)
    assert missing.status_code == 404 and assert_error_shape(missing, "unknown experiment")["type"] == "not_found_error"
    bad = _post(server, "/api/v1/experiments/search", {"filters": [{"field": "colour", "op": "eq", "values": ["x"]}]})
    assert bad.status_code == 400 and assert_error_shape(bad, "bad filter")["param"] == "colour"

    # the resolver the deployments use, in this process, on the server's store and artifacts
    settings = Settings(data_dir=data_dir, database_url=store_env.get("SWITCHYARD_DATABASE_URL"), secret_key=SECRET_KEY)
    for reference in (f"models:/{model_name}@champion", f"models:/{model_name}/1", logged["model_id"]):
        directory = mlflow_tracking.model_directory(settings, reference)
        assert (directory / "model.onnx").is_file() and (directory / "MLmodel").is_file(), reference

    # no key, or a wrong one: 401 in Switchyard's shape, and the SDK fails
    for headers in ({}, {"Authorization": "Bearer sy-not-a-key"}):
        refused = httpx.get(f"{server.url}/mlflow/api/2.0/mlflow/experiments/search", headers=headers, timeout=30)
        assert refused.status_code == 401
        assert assert_error_shape(refused, "mlflow without a key")["type"] == "authentication_error"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    with pytest.raises(MlflowException, match="No API key provided"):
        mlflow.MlflowClient(tracking_uri=f"{server.url}/mlflow").search_experiments()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ADMIN_KEY)
    sdk = mlflow.MlflowClient(tracking_uri=f"{server.url}/mlflow", registry_uri=f"{server.url}/mlflow")
    assert sdk.get_experiment_by_name(experiment_name) is not None
    assert "/mlflow" not in json.dumps(_get(server, "/openapi.json")["paths"])

    # a restart: Switchyard's migrations, then MLflow's own start, on the same store
    server.stop()
    _switchyard({**env, "SWITCHYARD_DATA_DIR": str(data_dir)}, "db", "upgrade")
    again = switchyard_server_factory(data_dir, env)
    assert _get(again, "/api/v1/experiments", name=experiment_name)["total"] == 1
    sdk = mlflow.MlflowClient(tracking_uri=f"{again.url}/mlflow", registry_uri=f"{again.url}/mlflow")
    assert sdk.get_model_version_by_alias(model_name, "champion").version == "1"
    assert sdk.get_run(logged["run_id"]).data.metrics["accuracy"] == run["metrics"]["accuracy"]
    assert os.path.isdir(data_dir / "mlflow-artifacts")
