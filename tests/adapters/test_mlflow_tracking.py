"""Where MLflow's tables and artifacts live, and that its migrations and Switchyard's share a database cleanly:
on a fresh store and on restart, on SQLite (a file of its own) and PostgreSQL (a schema of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from switchyard.adapters import mlflow_tracking
from switchyard.adapters.mlflow_tracking import TrackingLocation, local_artifact_path, tracking_location
from switchyard.errors import BadRequest, NotFound
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store import migrate
from tests.conftest import SECRET_KEY


def test_sqlite_keeps_mlflow_in_a_file_of_its_own(tmp_path: Path) -> None:
    location = tracking_location(Settings(data_dir=tmp_path, secret_key=SECRET_KEY))
    assert location.store_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert location.artifacts_dir == tmp_path / "mlflow-artifacts"


def test_postgres_gets_psycopg2_on_the_same_database_with_the_mlflow_schema(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secret_key=SECRET_KEY,
        database_url="postgresql+asyncpg://sy:p%40ss@db.example:5433/platform?ssl=require",
    )
    url = make_url(tracking_location(settings).store_uri)
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg2",
        "sy",
        "p@ss",
        "db.example",
        5433,
        "platform",
    )
    assert dict(url.query) == {"sslmode": "require", "options": "-csearch_path=mlflow"}


def test_an_explicit_store_uri_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SECRET_KEY, mlflow_backend_store_uri="sqlite:////srv/m.db")
    assert tracking_location(settings).store_uri == "sqlite:////srv/m.db"


def test_proxied_artifact_uris_map_into_the_artifact_directory(tmp_path: Path) -> None:
    location = TrackingLocation("sqlite:///unused", tmp_path / "artifacts")
    root = (tmp_path / "artifacts").resolve()
    assert local_artifact_path(location, "mlflow-artifacts:/3/models/m-1/artifacts") == root / "3/models/m-1/artifacts"
    assert local_artifact_path(location, "mlflow-artifacts://host:5000/3/x") == root / "3/x"
    assert local_artifact_path(location, "file:///data/models/x") == Path("/data/models/x")
    for outside in ("mlflow-artifacts:/../../etc", "s3://bucket/model", "runs:/abc/model"):
        with pytest.raises(BadRequest):
            local_artifact_path(location, outside)


def _tables(url: str, schema: str | None = None) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


async def test_switchyard_and_mlflow_migrate_side_by_side_and_again_on_restart(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = tracking_location(settings)
    platform = Platform.build(settings)
    try:
        for _start in range(2):  # a fresh store, then a restart of both
            monkeypatch.setattr(mlflow_tracking, "_prepared", set())
            await migrate.upgrade(platform.engine)
            mlflow_tracking.prepare_store(location)
            assert await migrate.current(platform.engine) == migrate.head()
    finally:
        await platform.engine.dispose()

    from mlflow.store.db.utils import _get_latest_schema_revision

    engine = create_engine(location.store_uri)
    try:
        with engine.connect() as connection:
            mlflow_revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            default = connection.execute(text("SELECT artifact_location FROM experiments WHERE name = 'Default'"))
            assert default.scalar_one() == "mlflow-artifacts:/0"
    finally:
        engine.dispose()
    assert mlflow_revision == _get_latest_schema_revision()
    mlflow_tables = _tables(location.store_uri)
    assert {"experiments", "runs", "metrics", "logged_models", "registered_models"} <= mlflow_tables
    if settings.is_sqlite:
        switchyard_tables = _tables(f"sqlite:///{settings.data_dir / 'switchyard.db'}")
    else:
        sync_url = make_url(location.store_uri).set(query={})
        switchyard_tables = _tables(sync_url.render_as_string(hide_password=False), schema="public")
    assert {"users", "api_keys", "alembic_version"} <= switchyard_tables
    assert not (mlflow_tables - {"alembic_version"}) & switchyard_tables


async def test_unknown_and_malformed_model_references(settings: Settings) -> None:
    for reference in ("models:/no-such-model@champion", "models:/no-such-model/3", "m-" + "0" * 32):
        with pytest.raises(NotFound):
            mlflow_tracking.model_directory(settings, reference)
    for reference in ("just-a-name", "models:/name/latest-ish", "models:/"):
        with pytest.raises(BadRequest):
            mlflow_tracking.model_directory(settings, reference)
