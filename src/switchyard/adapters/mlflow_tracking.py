"""MLflow's tracking store and model registry, used in-process.

The MLflow server mounted at ``/mlflow`` and the code below share one backend store and one artifact directory:

- **store** (``TrackingLocation.store_uri``, a synchronous SQLAlchemy URL): ``SWITCHYARD_MLFLOW_BACKEND_STORE_URI``,
  else SQLite at ``DATA_DIR/mlflow.db``, else — when Switchyard runs on PostgreSQL — the schema ``mlflow`` of the
  same database, reached through psycopg2. MLflow keeps its own tables and its own ``alembic_version`` there.
- **artifacts** (``TrackingLocation.artifacts_dir``): ``DATA_DIR/mlflow-artifacts``. The server proxies artifacts
  (``mlflow server --serve-artifacts``), so experiments record ``mlflow-artifacts:/<experiment id>/…`` and the
  files live under this directory.

Use from another service (every call here blocks on the database: run it in a thread, ``asyncio.to_thread``)::

    from switchyard.adapters import mlflow_tracking

    directory = mlflow_tracking.model_directory(settings, "models:/iris@champion")   # or "models:/iris/3", "m-…"
    onnx_file = directory / "model.onnx"          # the flavor's file name is in directory / "MLmodel"

    client = mlflow_tracking.tracking_client(settings)   # an mlflow.tracking.MlflowClient on the store

``model_directory`` raises ``NotFound`` for an unknown model, version, alias or logged model and ``BadRequest``
for a reference it cannot parse. The client is meant for reading; create experiments through ``/mlflow`` (the
server gives them the proxied artifact root). MLflow is imported on first use (it takes seconds), not on import.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from switchyard.errors import BadRequest, NotFound
from switchyard.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MLFLOW_SCHEMA = "mlflow"
PROXIED_ARTIFACT_ROOT = "mlflow-artifacts:/"
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")

_prepared: set[str] = set()
_prepare_lock = threading.Lock()


@dataclass(frozen=True)
class TrackingLocation:
    store_uri: str
    artifacts_dir: Path
    default_artifact_root: str = PROXIED_ARTIFACT_ROOT


def tracking_location(settings: Settings) -> TrackingLocation:
    """Where MLflow's tables and artifacts live for these settings."""
    artifacts_dir = settings.data_dir / "mlflow-artifacts"
    if settings.mlflow_backend_store_uri:
        return TrackingLocation(settings.mlflow_backend_store_uri, artifacts_dir)
    if settings.is_sqlite:
        return TrackingLocation(f"sqlite:///{settings.data_dir / 'mlflow.db'}", artifacts_dir)
    return TrackingLocation(_postgres_schema_uri(settings.resolved_database_url), artifacts_dir)


def _postgres_schema_uri(async_url: str) -> str:
    """Switchyard's asyncpg URL → psycopg2 on the same database, with ``search_path`` set to MLflow's schema."""
    url = make_url(async_url)
    query = {
        name: value
        for name, value in url.query.items()
        if name not in ("ssl", "options", "prepared_statement_cache_size")
    }
    ssl = url.query.get("ssl")
    if isinstance(ssl, str) and "sslmode" not in query:
        query["sslmode"] = "require" if ssl in ("true", "on", "1") else ssl
    options = url.query.get("options")
    existing = options if isinstance(options, str) else ""
    query["options"] = f"{existing} -csearch_path={MLFLOW_SCHEMA}".strip()
    sync = url.set(drivername="postgresql+psycopg2", query=query)
    return sync.render_as_string(hide_password=False)


def prepare_store(location: TrackingLocation) -> None:
    """Create MLflow's schema (PostgreSQL) or directory (SQLite) and bring its tables to the pinned MLflow's head.

    Idempotent, once per process and store; safe when several processes start at once (MLflow's own lock and
    Alembic's transaction). Blocking.
    """
    with _prepare_lock:
        if location.store_uri in _prepared:
            return
        location.artifacts_dir.mkdir(parents=True, exist_ok=True)
        _create_schema(location.store_uri)
        from mlflow.store.db import utils
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        db_utils: Any = utils  # MLflow's own schema helpers (untyped); tests/mlflow/test_internals.py pins them
        engine = db_utils.create_sqlalchemy_engine_with_retry(location.store_uri)
        try:
            outdated = db_utils._all_tables_exist(engine) and (
                db_utils._get_schema_version(engine) != db_utils._get_latest_schema_revision()
            )
            if outdated:  # a newer pinned MLflow: migrate its tables, as `mlflow db upgrade` would
                db_utils._upgrade_db(engine)
        finally:
            engine.dispose()
        # Creates the tables on an empty store, checks the schema, and creates the "Default" experiment with the
        # proxied artifact root, as `mlflow server --serve-artifacts` does.
        store: Any = SqlAlchemyStore
        store(location.store_uri, location.default_artifact_root).engine.dispose()
        _prepared.add(location.store_uri)


def mlflow_version() -> str:
    from mlflow import __version__

    return str(__version__)


def _create_schema(store_uri: str) -> None:
    url = make_url(store_uri)
    if url.get_backend_name() != "postgresql":
        return
    options = url.query.get("options")
    if not isinstance(options, str) or f"search_path={MLFLOW_SCHEMA}" not in options:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url.set(query={k: v for k, v in url.query.items() if k != "options"}))
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{MLFLOW_SCHEMA}"'))
    finally:
        engine.dispose()


def tracking_client(settings: Settings) -> MlflowClient:
    """An ``MlflowClient`` straight on the store (no HTTP): experiments, runs, logged models, the registry."""
    location = tracking_location(settings)
    prepare_store(location)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=location.store_uri, registry_uri=location.store_uri)


@contextmanager
def mlflow_errors(what: str, param: str | None = None) -> Iterator[None]:
    """MLflow's "does not exist" and "invalid parameter" errors → ``NotFound`` and ``BadRequest``."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise NotFound(f"No {what}: {exc.message}", param=param) from exc
        if exc.error_code == "INVALID_PARAMETER_VALUE":
            raise BadRequest(f"Bad {what}: {exc.message}", param=param) from exc
        raise


def model_directory(settings: Settings, reference: str) -> Path:
    """The local directory holding a model's files (``MLmodel``, ``model.onnx``, ``input_example.json``…).

    ``reference``: ``models:/<name>@<alias>``, ``models:/<name>/<version>``, ``models:/m-…`` or a logged model id
    ``m-…``. Blocking.
    """
    client = tracking_client(settings)
    with mlflow_errors(f"model '{reference}'", param="model"):
        artifact_uri = _artifact_uri(client, reference.strip())
    directory = local_artifact_path(tracking_location(settings), artifact_uri)
    if not directory.is_dir():
        raise NotFound(f"The files of model '{reference}' are missing from {directory}.", param="model")
    return directory


def _artifact_uri(client: MlflowClient, reference: str) -> str:
    target = reference.removeprefix("models:/")
    if LOGGED_MODEL_ID.fullmatch(target):
        return client.get_logged_model(target).artifact_location
    if reference == target or not target:
        raise BadRequest(
            f"Bad model reference '{reference}': use models:/<name>@<alias>, models:/<name>/<version> or m-<id>.",
            param="model",
        )
    if "@" in target:
        from mlflow.exceptions import MlflowException

        name, _, alias = target.rpartition("@")
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:  # MLflow answers INVALID_PARAMETER_VALUE for an unknown alias
            if exc.error_code != "INVALID_PARAMETER_VALUE":
                raise
            raise NotFound(f"No model '{reference}': {exc.message}", param="model") from exc
    else:
        name, _, number = target.rpartition("/")
        if not name or not number.isdigit():
            raise BadRequest(
                f"Bad model reference '{reference}': use models:/<name>@<alias> or models:/<name>/<version>.",
                param="model",
            )
        version = client.get_model_version(name, number)
    if version.model_id:
        return client.get_logged_model(version.model_id).artifact_location
    source = version.source or ""
    if source.startswith("models:/"):
        return _artifact_uri(client, source)
    return client.get_model_version_download_uri(name, version.version)


def local_artifact_path(location: TrackingLocation, artifact_uri: str) -> Path:
    """``mlflow-artifacts:/x/y`` → ``<artifacts dir>/x/y``; ``file:`` URIs and plain paths as they are."""
    if artifact_uri.startswith("mlflow-artifacts:"):
        relative = re.sub(r"^mlflow-artifacts:(//[^/]*)?/*", "", artifact_uri)
        root = location.artifacts_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise BadRequest(f"The artifact location {artifact_uri} leaves the artifact directory.")
        return path
    if artifact_uri.startswith("file:"):
        return Path(re.sub(r"^file:(//)?", "", artifact_uri))
    if "://" not in artifact_uri and ":" not in artifact_uri.split("/", 1)[0]:
        return Path(artifact_uri)
    raise BadRequest(f"The artifact location {artifact_uri} is not on this server's disk.")
