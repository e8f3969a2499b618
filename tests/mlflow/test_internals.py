"""The parts of MLflow's internals Switchyard relies on, pinned: when an MLflow upgrade moves one of them, this
fails first, with the name of what moved (``api/mlflow_mount.py`` and ``adapters/mlflow_tracking.py`` use them).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from pathlib import Path

from switchyard.adapters.mlflow_tracking import TrackingLocation
from switchyard.api.mlflow_mount import mlflow_environment

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pinned(package: str) -> str:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pins = [d.split("==", 1)[1] for d in dependencies if d.split("==", 1)[0].strip() == package]
    assert pins, f"{package} is not pinned with == in pyproject.toml"
    return pins[0]


def test_the_installed_mlflow_is_the_pinned_one() -> None:
    for package in ("mlflow", "mlflow-skinny"):
        assert importlib.metadata.version(package) == _pinned(package), package


def test_the_server_reads_the_environment_variables_we_set() -> None:
    from mlflow.environment_variables import MLFLOW_SERVER_ALLOWED_HOSTS, MLFLOW_SERVER_ENABLE_JOB_EXECUTION
    from mlflow.server import constants

    ours = mlflow_environment(TrackingLocation("sqlite:////tmp/x.db", Path("/tmp/artifacts")))
    theirs = {
        constants.BACKEND_STORE_URI_ENV_VAR,
        constants.REGISTRY_STORE_URI_ENV_VAR,
        constants.ARTIFACT_ROOT_ENV_VAR,
        constants.SERVE_ARTIFACTS_ENV_VAR,
        constants.ARTIFACTS_DESTINATION_ENV_VAR,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION.name,
    }
    assert set(ours) == theirs
    assert MLFLOW_SERVER_ALLOWED_HOSTS.name == "MLFLOW_SERVER_ALLOWED_HOSTS"


def test_the_fastapi_entry_point_takes_no_required_argument() -> None:
    from mlflow.server import fastapi_app

    signature = inspect.signature(fastapi_app.create_fastapi_app)
    assert all(p.default is not inspect.Parameter.empty for p in signature.parameters.values())


def test_the_flask_app_serves_the_rest_api_the_sdk_calls() -> None:
    from mlflow.server import app

    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for path in (
        "/api/2.0/mlflow/experiments/create",
        "/api/2.0/mlflow/runs/log-batch",
        "/api/2.0/mlflow/registered-models/create",
        "/api/2.0/mlflow/registered-models/alias",
        "/api/2.0/mlflow/logged-models",
    ):
        assert path in rules, path


def test_the_schema_helpers_we_call_exist() -> None:
    from mlflow.store.db import utils

    for name in (
        "create_sqlalchemy_engine_with_retry",
        "_all_tables_exist",
        "_get_schema_version",
        "_get_latest_schema_revision",
        "_upgrade_db",
    ):
        assert callable(getattr(utils, name, None)), name
    assert isinstance(utils._get_latest_schema_revision(), str)


def test_the_tracking_store_takes_a_uri_and_an_artifact_root() -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    parameters = list(inspect.signature(SqlAlchemyStore.__init__).parameters)
    assert parameters[1:3] == ["db_uri", "default_artifact_root"]
