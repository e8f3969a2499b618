"""``switchyard db upgrade|downgrade|current``: the schema migrations of the configured store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.output import print_success
from switchyard.cli.settings_loader import describe_database_error, load_server_settings, safe_database_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from switchyard.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="Schema migrations of the configured database (SWITCHYARD_DATABASE_URL, else SQLite in DATA_DIR).",
    no_args_is_help=True,
)


def _run(action: Callable[[AsyncEngine], Awaitable[T]]) -> tuple[T, str]:
    """Runs ``action`` against the configured database; returns its result and the URL (without password)."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from switchyard.store.engine import create_engine

    settings = load_server_settings()
    url = settings.resolved_database_url
    shown = safe_database_url(url)

    async def main() -> T:
        engine = create_engine(url)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main()), shown
    except CommandError as exc:
        raise CliError(str(exc)) from None
    except (OSError, SQLAlchemyError) as exc:
        raise CliError(f"Cannot use the database at {shown}: {describe_database_error(exc)}") from None


def _describe(revision: str | None) -> str:
    from switchyard.store import migrate

    if revision is None:
        return "base (no migrations applied)"
    return f"{revision} (head)" if revision == migrate.head() else f"{revision} (head is {migrate.head()})"


@app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'head' is the newest.")] = "head",
    mlflow: Annotated[
        bool,
        typer.Option(
            "--mlflow/--no-mlflow",
            help="Upgrading to head also creates or migrates MLflow's tracking tables (when MLflow is enabled), "
            "as the first MLflow request would.",
        ),
    ] = True,
) -> None:
    """Apply migrations up to REVISION."""
    from switchyard.store import migrate

    async def action(engine: AsyncEngine) -> str | None:
        await migrate.upgrade(engine, revision)
        return await migrate.current(engine)

    current, url = _run(action)
    print_success(f"Database {url} is at {_describe(current)}.")
    settings = load_server_settings()
    if mlflow and revision == "head" and settings.mlflow_enabled:
        _upgrade_mlflow(settings)


def _upgrade_mlflow(settings: Settings) -> None:
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from switchyard.adapters import mlflow_tracking

    location = mlflow_tracking.tracking_location(settings)
    shown = safe_database_url(location.store_uri)
    try:
        mlflow_tracking.prepare_store(location)
    except (OSError, SQLAlchemyError, MlflowException) as exc:
        raise CliError(f"Cannot prepare MLflow's store at {shown}: {describe_database_error(exc)}") from None
    print_success(f"MLflow's store {shown} is at MLflow {mlflow_tracking.mlflow_version()}'s schema.")


@app.command("downgrade", context_settings={"ignore_unknown_options": True})  # so that "-1" is a REVISION
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, a relative step such as -1, or 'base' (empty).")
    ],
) -> None:
    """Revert migrations down to REVISION. Data in dropped tables is lost."""
    from switchyard.store import migrate

    async def action(engine: AsyncEngine) -> str | None:
        await migrate.downgrade(engine, revision)
        return await migrate.current(engine)

    current, url = _run(action)
    print_success(f"Database {url} is at {_describe(current)}.")


@app.command("current")
def current() -> None:
    """Print the revision the database is at."""
    from switchyard.store import migrate

    revision, url = _run(migrate.current)
    typer.echo(f"{url}: {_describe(revision)}")
