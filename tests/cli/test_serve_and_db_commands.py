"""``serve`` refusing bad settings, and ``db`` driving the migrations (the server itself runs in
tests/e2e/test_cli_against_server.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import mlflow
from switchyard.store import migrate
from tests.cli.conftest import Invoke


@pytest.fixture(autouse=True)
def clean_server_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("SWITCHYARD_") and name != "SWITCHYARD_CLI_CONFIG":
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SWITCHYARD_DATA_DIR", str(data_dir))
    return data_dir


def test_serve_with_an_invalid_setting_is_one_line_and_exit_1(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_LOG_LEVEL", "loud")
    monkeypatch.setenv("SWITCHYARD_ADMIN_PASSWORD", "changeme")
    result = invoke("serve")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: Invalid settings: SWITCHYARD_ADMIN_PASSWORD: is a placeholder value; set a real secret; "
        "SWITCHYARD_LOG_LEVEL: Input should be 'critical', 'error', 'warning', 'info' or 'debug'."
    ]
    assert "Traceback" not in result.output


def test_serve_on_postgresql_without_a_secret_key_is_refused(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    result = invoke("serve", "--port", "1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: SWITCHYARD_SECRET_KEY must be set (32+ characters) when the store is not the embedded SQLite."
    )


def test_serve_options_are_validated(invoke: Invoke) -> None:
    assert invoke("serve", "--port", "70000").exit_code == 2


def test_db_upgrade_current_downgrade(invoke: Invoke, clean_server_environment: Path) -> None:
    database = clean_server_environment / "switchyard.db"
    url = f"sqlite+aiosqlite:///{database}"
    head = migrate.head()

    empty = invoke("db", "current")
    assert empty.exit_code == 0, empty.output
    assert empty.stdout.strip() == f"{url}: base (no migrations applied)"

    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    ours, theirs = upgraded.stdout.strip().splitlines()
    assert ours == f"Database {url} is at {head} (head)."
    # MLflow's tables too, so that the first /mlflow request after a deploy does not have to make them
    store = f"sqlite:///{clean_server_environment / 'mlflow.db'}"
    assert theirs == f"MLflow's store {store} is at MLflow {mlflow.__version__}'s schema."
    with sqlite3.connect(clean_server_environment / "mlflow.db") as db:
        assert db.execute("SELECT name FROM experiments").fetchall() == [("Default",)]
    skipped = invoke("db", "upgrade", "--no-mlflow")
    assert skipped.stdout.strip() == f"Database {url} is at {head} (head)."
    assert invoke("db", "current").stdout.strip() == f"{url}: {head} (head)"

    previous = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(head).down_revision
    down = invoke("db", "downgrade", "-1")
    assert down.exit_code == 0, down.output
    expected = "base (no migrations applied)" if previous is None else f"{previous} (head is {head})"
    assert invoke("db", "current").stdout.strip() == f"{url}: {expected}"

    assert invoke("db", "upgrade", head).exit_code == 0
    assert invoke("db", "downgrade", "base").exit_code == 0
    assert invoke("db", "current").stdout.strip() == f"{url}: base (no migrations applied)"
    unknown = invoke("db", "upgrade", "nope")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error: Can't locate revision")


def test_db_on_an_unreachable_database_is_a_clear_error(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_DATABASE_URL", "postgresql+asyncpg://postgres:hunter22@127.0.0.1:9/none")
    result = invoke("db", "current")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("Error: Cannot use the database at postgresql+asyncpg://postgres:***@127.0.0.1:9/none: ")
    assert "hunter22" not in result.output and "Traceback" not in result.output
