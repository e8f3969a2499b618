"""``switchyard deployments`` against a real server (SQLite) with models in its MLflow store: create a
logged-model deployment, ``list --watch`` until it runs, infer with --data JSON and from standard input, roll it
over to another version with ``update``, tag, read its logs, delete; and the errors a user meets."""

from __future__ import annotations

import json

import numpy as np

from tests.cli.conftest import Invoke, LiveServer
from tests.deployment_registry import register
from tests.onnx_models import iris_classifier


def request_json(rows: np.ndarray) -> str:  # type: ignore[type-arg]
    tensor = {"name": "float_input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
    return json.dumps({"inputs": [tensor], "outputs": [{"name": "label"}]})


def test_deploy_watch_infer_roll_over_tag_and_delete(invoke: Invoke, logged_in: LiveServer) -> None:
    registered = register(logged_in.settings, [iris_classifier("logistic").model, iris_classifier("tree").model])
    samples = iris_classifier().samples

    created = invoke(
        "deployments", "create", "logged-model", "--model-id", registered.alias("champion"),
        "--name", "iris", "--description", "Iris classifier", "--serving-size", "large", "--tag", "team=ml",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Created deployment 1 (pending)." in created.output

    watched = invoke("deployments", "list", "--watch", "--interval", "0.2")
    assert watched.exit_code == 0, watched.output
    last_table = watched.output.rsplit("RUNNING/LATEST", 1)[1]
    assert "running" in last_table and "1/1" in last_table and "team=ml" in last_table and "large" in last_table

    answer = invoke("deployments", "infer", "iris", "--data", request_json(samples))
    assert answer.exit_code == 0, answer.output
    body = json.loads(answer.output)
    assert body["model_version"] == "1" and body["outputs"][0]["data"] == iris_classifier("logistic").labels.tolist()
    from_stdin = invoke("deployments", "infer", "1", "--data", "-", input=request_json(samples[:1]))
    assert from_stdin.exit_code == 0, from_stdin.output
    assert json.loads(from_stdin.output)["outputs"][0]["shape"] == [1]

    updated = invoke("deployments", "update", "iris", "--model-id", registered.version(2))
    assert updated.exit_code == 0 and "Updated deployment 1 (revision 2)." in updated.output, updated.output
    assert invoke("deployments", "list", "--watch", "--interval", "0.2").exit_code == 0
    rolled = json.loads(invoke("deployments", "infer", "iris", "--data", request_json(samples)).output)
    assert rolled["model_version"] == "2" and rolled["outputs"][0]["data"] == iris_classifier("tree").labels.tolist()

    assert invoke("deployments", "tag", "iris", "stage=prod", "owner=ada").exit_code == 0
    assert invoke("deployments", "untag", "iris", "owner").exit_code == 0
    shown = json.loads(invoke("deployments", "get", "iris", "--json").output)
    assert shown["tags"] == [{"key": "stage", "value": "prod"}, {"key": "team", "value": "ml"}]
    assert (shown["serving"], shown["revision"], shown["running_revision"]) == ({"size": "large"}, 2, 2)

    logs = invoke("deployments", "logs", "iris")
    assert logs.exit_code == 0 and "revision 2: serving after" in logs.output and "revision 1 dropped" in logs.output

    deleted = invoke("deployments", "delete", "iris", "--yes")
    assert deleted.exit_code == 0 and "Deleted deployment 1." in deleted.output
    gone = invoke("deployments", "infer", "iris", "--data", request_json(samples))
    assert gone.exit_code == 1 and "The model 'iris' does not exist" in gone.output


def test_what_a_user_gets_wrong(invoke: Invoke, logged_in: LiveServer) -> None:
    failed = invoke("deployments", "create", "logged-model", "--model-id", "models:/nothing@here", "--name", "x")
    assert failed.exit_code == 0 and "Created deployment 1 (failed)." in failed.output, failed.output
    assert invoke("deployments", "list", "--watch", "--interval", "0.2").exit_code == 0  # a failure has settled
    not_ready = invoke("deployments", "infer", "x", "--data", request_json(np.ones((1, 4), dtype=np.float32)))
    assert not_ready.exit_code == 1 and "is not ready" in not_ready.output

    bad_reference = invoke("deployments", "create", "logged-model", "--model-id", "iris", "--name", "y")
    assert bad_reference.exit_code == 1 and "model" in bad_reference.output
    not_json = invoke("deployments", "infer", "x", "--data", "{inputs")
    assert not_json.exit_code == 1 and "--data is not JSON" in not_json.output
    nothing = invoke("deployments", "update", "x")
    assert nothing.exit_code == 1 and "Nothing to update" in nothing.output
    unknown = invoke("deployments", "get", "nope")
    assert unknown.exit_code == 1 and "No deployment with name 'nope'" in unknown.output
