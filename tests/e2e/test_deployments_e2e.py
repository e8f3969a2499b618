"""Logged models deployed and served end to end, on SQLite and PostgreSQL: a real ``switchyard serve``; a
training script run by ``switchyard mlflow run`` logs two skl2onnx classifiers with the stock ``mlflow`` SDK and
registers them; they are deployed through the API and through the CLI, and called with the official V2 clients
(``tritonclient.http``, binary — its default — and JSON; kserve's ``InferenceRESTClient``) at ``/v2`` and under
``/api/v1/deployments/{id}/v2``; bad input gets the protocol's errors; a rollover under concurrent requests fails
none of them; and a second server process on the same PostgreSQL follows every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY
from tests.e2e.conftest import ServerProcess, StartServer, server_environment, switchyard_executable

SCRIPT = Path(__file__).with_name("deployment_training_script.py")
COMMAND_LIMIT = 240.0
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def auth() -> dict[str, str]:
    """A fresh copy per call: tritonclient and kserve add Inference-Header-Content-Length to the dict given."""
    return dict(AUTH)


Switchyard = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"SWITCHYARD_DATABASE_URL": request.getfixturevalue("postgres_url"), "SWITCHYARD_SECRET_KEY": SECRET_KEY}


def _environment(**variables: str) -> dict[str, str]:
    env = server_environment(**variables)
    return {name: value for name, value in env.items() if not name.startswith("MLFLOW_")}


@pytest.fixture
def switchyard(tmp_path: Path) -> Switchyard:
    """``switchyard(*args, input=None, check=True)``: the CLI as a subprocess, with its own configuration."""
    env = _environment(SWITCHYARD_CLI_CONFIG=str(tmp_path / "cli.json"))

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(switchyard_executable()), *args], env=env, input=input, capture_output=True, text=True,
            timeout=COMMAND_LIMIT,
        )  # fmt: skip
        if check:
            assert result.returncode == 0, f"switchyard {' '.join(args)}:\n{result.stdout}\n{result.stderr[-4000:]}"
        return result

    return run


def train(switchyard: Switchyard, server: ServerProcess, tmp_path: Path) -> dict[str, Any]:
    switchyard("login", server.url, "--api-key", ADMIN_KEY)
    out = tmp_path / f"logged-{uuid.uuid4().hex[:6]}.json"
    name = f"iris-{uuid.uuid4().hex[:8]}"
    switchyard("mlflow", "run", "-e", f"deployments-{name}", "--", sys.executable, str(SCRIPT), str(out), name)
    logged: dict[str, Any] = json.loads(out.read_text())
    return logged


def api(server: ServerProcess, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = httpx.request(method, f"{server.url}{path}", json=body, headers=auth(), timeout=30)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def until_settled(server: ServerProcess, deployment_id: int, revision: int, limit: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        item: dict[str, Any] = api(server, "GET", f"/api/v1/deployments/{deployment_id}")
        if item["running_revision"] == revision or item["error"]:
            return item
        assert time.monotonic() < deadline, item
        time.sleep(0.1)


def triton_input(rows: np.ndarray[Any, Any], *, binary: bool = True, datatype: str = "FP32") -> triton.InferInput:
    tensor = triton.InferInput("float_input", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows, binary_data=binary)
    return tensor


def host_of(server: ServerProcess) -> str:
    return server.url.removeprefix("http://")


def test_logged_models_deployed_and_served_over_v2(
    switchyard_server_factory: StartServer, store_env: dict[str, str], switchyard: Switchyard, tmp_path: Path
) -> None:
    env = _environment(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD, **store_env)
    server = switchyard_server_factory(tmp_path / "data", env)
    logged = train(switchyard, server, tmp_path)
    samples = np.array(logged["samples"], dtype=np.float32)
    first, second = (version["labels"] for version in logged["versions"])

    created = api(
        server, "POST", "/api/v1/deployments",
        {"kind": "logged-model", "model": f"models:/{logged['name']}@champion", "name": "iris", "tags": {"t": "e2e"}},
    )  # fmt: skip
    assert created["status"] == "pending"
    running = until_settled(server, created["id"], 1)
    assert running["status"] == "running" and running["error"] is None
    switchyard(
        "deployments", "create", "logged-model", "--model-id", logged["versions"][1]["model_id"],
        "--name", "iris-cli", "--serving-size", "large",
    )  # fmt: skip
    watched = switchyard("deployments", "list", "--watch", "--interval", "0.3").stdout
    assert watched.rsplit("RUNNING/LATEST", 1)[1].count("running") == 2, watched
    request = {
        "inputs": [{"name": "float_input", "shape": [len(samples), 4], "datatype": "FP32", "data": samples.tolist()}]
    }
    answered = json.loads(
        switchyard("deployments", "infer", "iris-cli", "--data", "-", input=json.dumps(request)).stdout
    )
    assert answered["outputs"][0]["name"] == "label" and answered["outputs"][0]["data"] == second

    # tritonclient: health, metadata from the ONNX graph, binary (its default) and JSON tensors
    client = triton.InferenceServerClient(host_of(server))
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.is_model_ready("iris", headers=auth()) and not client.is_model_ready("iris")  # a key is needed
    metadata = client.get_model_metadata("iris", headers=auth())
    assert metadata["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("label", "INT64", [-1]),
        ("probabilities", "FP32", [-1, 3]),
    ]
    result = client.infer("iris", [triton_input(samples)], headers=auth())
    assert result.as_numpy("label").tolist() == first and result.get_response()["model_version"] == "1"
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    as_json = client.infer(
        "iris",
        [triton_input(samples, binary=False)],
        outputs=[triton.InferRequestedOutput("label", binary_data=False)],
        headers=auth(),
    )
    assert as_json.get_output("label")["data"] == first and as_json.as_numpy("probabilities") is None
    scoped = triton.InferenceServerClient(f"{host_of(server)}/api/v1/deployments/{created['id']}")
    assert scoped.infer("default", [triton_input(samples)], headers=auth()).as_numpy("label").tolist() == first

    # kserve's REST client
    async def kserve_calls() -> list[list[int]]:
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=30)) as rest:
            assert await rest.is_server_live(server.url) and await rest.is_server_ready(server.url)
            assert await rest.is_model_ready(server.url, "iris-cli", headers=auth())
            answers = []
            for binary in (True, False):
                tensor = InferInput("float_input", list(samples.shape), "FP32")
                tensor.set_data_from_numpy(samples, binary_data=binary)
                response = await rest.infer(
                    server.url, InferRequest("iris-cli", [tensor]), model_name="iris-cli", headers=auth()
                )
                answers.append(response.outputs[0].as_numpy().tolist())
            return answers

    assert asyncio.run(kserve_calls()) == [second, second]

    # bad input: the protocol's errors with the right statuses
    def refused(call: Callable[[], Any]) -> InferenceServerException:
        with pytest.raises(InferenceServerException) as caught:
            call()
        return caught.value

    wrong_shape = refused(lambda: client.infer("iris", [triton_input(samples[:, :3])], headers=auth()))
    assert wrong_shape.status() == "400" and "shape [-1, 4]" in wrong_shape.message()
    doubles = refused(
        lambda: client.infer("iris", [triton_input(samples.astype(np.float64), datatype="FP64")], headers=auth())
    )
    assert doubles.status() == "400" and "FP32, not FP64" in doubles.message()
    unknown = refused(lambda: client.infer("no-such-model", [triton_input(samples)], headers=auth()))
    assert unknown.status() == "404"
    head = orjson.dumps(
        {
            "inputs": [
                {"name": "float_input", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}}
            ]
        }
    )
    truncated = httpx.post(
        f"{server.url}/v2/models/iris/infer",
        content=head + samples[:1].tobytes(),
        headers={**AUTH, "Inference-Header-Content-Length": str(len(head))},
    )
    assert truncated.status_code == 400 and "ends before the binary data" in truncated.json()["error"]

    # a new model version rolls out under load: no request fails
    rollout = RolloutLoad(host_of(server), "iris", samples)
    with rollout.running(threads=4):
        time.sleep(0.5)
        switchyard("mlflow", "run", "--", sys.executable, "-c", ALIAS_TO_2.format(name=logged["name"]))
        patched = api(
            server, "PATCH", f"/api/v1/deployments/{created['id']}", {"model": f"models:/{logged['name']}@champion"}
        )
        assert (patched["revision"], patched["running_revision"]) == (2, 1)
        until_settled(server, created["id"], 2)
        time.sleep(0.5)
    assert rollout.failures == [], rollout.failures[:3]
    assert rollout.versions == {"1", "2"} and rollout.last == ("2", second), (rollout.versions, rollout.last)
    logs = api(server, "GET", f"/api/v1/deployments/{created['id']}/logs")
    assert "revision 1 dropped" in [line["message"] for line in logs["data"]]

    # the CLI rolls the other one back, then deletes it
    switchyard("deployments", "update", "iris-cli", "--model-id", f"models:/{logged['name']}/1")
    switchyard("deployments", "list", "--watch", "--interval", "0.3")
    assert client.infer("iris-cli", [triton_input(samples)], headers=auth()).as_numpy("label").tolist() == first
    switchyard("deployments", "delete", "iris-cli", "--yes")
    assert not client.is_model_ready("iris-cli", headers=auth())
    client.close()


ALIAS_TO_2 = "from mlflow import MlflowClient; MlflowClient().set_registered_model_alias('{name}', 'champion', '2')"


class RolloutLoad:
    """Threads calling a model with tritonclient (binary) until stopped; every answer and failure is kept."""

    def __init__(self, host: str, model: str, samples: np.ndarray[Any, Any]) -> None:
        self.host, self.model, self.samples = host, model, samples
        self.failures: list[str] = []
        self.versions: set[str] = set()
        self.last: tuple[str, list[int]] | None = None
        self.calls = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _work(self) -> None:
        client = triton.InferenceServerClient(self.host)
        try:
            while not self._stop.is_set():
                try:
                    result = client.infer(self.model, [triton_input(self.samples)], headers=auth())
                    answer = (result.get_response()["model_version"], result.as_numpy("label").tolist())
                except Exception as exc:  # every kind of failure counts
                    with self._lock:
                        self.failures.append(repr(exc))
                    continue
                with self._lock:
                    self.calls += 1
                    self.versions.add(answer[0])
                    self.last = answer
        finally:
            client.close()

    @contextlib.contextmanager
    def running(self, threads: int) -> Iterator[None]:
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            self._stop.set()
            for worker in workers:
                worker.join(timeout=30)
        assert self.calls > 20, f"only {self.calls} calls were made"


def test_a_second_server_process_follows_the_deployments(
    switchyard_server_factory: StartServer, postgres_url: str, switchyard: Switchyard, tmp_path: Path
) -> None:
    """Two servers on one PostgreSQL (and one data directory for MLflow's artifacts): what is changed through
    one is served by the other after its next poll, each with its own session."""
    env = _environment(
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
        SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SWITCHYARD_DATABASE_URL=postgres_url,
        SWITCHYARD_SECRET_KEY=SECRET_KEY,
        SWITCHYARD_DEPLOYMENTS_POLL_INTERVAL_SECONDS="0.3",
    )
    first = switchyard_server_factory(tmp_path / "data", env)
    second = switchyard_server_factory(tmp_path / "data", env)
    logged = train(switchyard, first, tmp_path)
    samples = np.array(logged["samples"], dtype=np.float32)
    name = f"shared-{uuid.uuid4().hex[:6]}"
    created = api(first, "POST", "/api/v1/deployments", {"model": f"models:/{logged['name']}/1", "name": name})
    client = triton.InferenceServerClient(host_of(second))
    try:
        deadline = time.monotonic() + 30
        while not client.is_model_ready(name, headers=auth()):
            assert time.monotonic() < deadline, "the second process never served the deployment"
            time.sleep(0.1)
        result = client.infer(name, [triton_input(samples)], headers=auth())
        assert result.as_numpy("label").tolist() == logged["versions"][0]["labels"]

        api(first, "PATCH", f"/api/v1/deployments/{created['id']}", {"model": f"models:/{logged['name']}/2"})
        while client.infer(name, [triton_input(samples)], headers=auth()).get_response()["model_version"] != "2":
            assert time.monotonic() < deadline + 30, "the second process never rolled over"
            time.sleep(0.1)
        answer = client.infer(name, [triton_input(samples)], headers=auth())
        assert answer.as_numpy("label").tolist() == logged["versions"][1]["labels"]

        api(first, "DELETE", f"/api/v1/deployments/{created['id']}")
        while client.is_model_ready(name, headers=auth()):
            assert time.monotonic() < deadline + 60, "the second process kept serving a deleted deployment"
            time.sleep(0.1)
    finally:
        client.close()
