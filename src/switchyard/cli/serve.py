"""``switchyard serve``: migrate the store, create the first admin on a fresh install, then serve HTTP with
uvicorn (uvloop + httptools) in one event loop."""

from __future__ import annotations

import asyncio
import gc
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.output import print_secret
from switchyard.cli.settings_loader import describe_database_error, load_server_settings, safe_database_url

if TYPE_CHECKING:
    import uvicorn

    from switchyard.services.bootstrap import FirstStart
    from switchyard.services.platform import Platform
    from switchyard.settings import Settings

STARTUP_FAILURE = 3  # uvicorn's exit code when the application fails to start

GC_THRESHOLDS = (10_000, 10, 10)
"""The collector's thresholds once serving: a young collection every 10,000 allocations instead of Python's 700
(a request allocates hundreds of short-lived objects). Measured with ``gc.freeze()``, chat at c=16: ~300 µs of CPU
per request against ~350 with the default (bench/RESULTS.md, profiling step 5)."""


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on. Overrides SWITCHYARD_HOST.")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on. Overrides SWITCHYARD_PORT.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for the SQLite database and generated secrets. Overrides SWITCHYARD_DATA_DIR."),
    ] = None,
) -> None:
    """Run the server.

    Applies pending migrations, creates the admin on first start (printing its password and key once), serves.
    """
    import uvicorn

    from switchyard.api.app import create_app
    from switchyard.api.server_protocol import GatheringProtocol

    settings = load_server_settings(host=host, port=port, data_dir=data_dir)
    platform = build_platform(settings)
    config = uvicorn.Config(
        create_app(settings, platform),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=GatheringProtocol,  # uvicorn's httptools protocol, its writes gathered (api/server_protocol.py)
        lifespan="on",
        log_level=settings.log_level,
        access_log=settings.log_level in ("info", "debug"),  # above info, no per-request logging call at all
        server_header=False,  # no "server: uvicorn" on every answer: one header less to write, nothing to advertise
    )
    server = started_server(config)

    async def prepare_and_serve() -> None:
        try:
            first_start = await prepare_store(platform)
        except BaseException:
            await platform.engine.dispose()
            raise
        if first_start is not None:
            show_first_start(first_start, f"http://{settings.host}:{settings.port}")
        await server.serve()

    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(prepare_and_serve())
    except KeyboardInterrupt:
        return
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


def settle_heap() -> None:
    """Takes everything alive once the server has started — modules, schemas, tables, the platform's caches —
    out of the garbage collector's view (``gc.freeze``). Without it every generation-2 collection walks those
    ~220,000 objects: under load one every 2–3 s, each stopping the event loop for 20–170 ms (bench/RESULTS.md,
    profiling step 3)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def started_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that settles the heap once its startup (the application's lifespan included) is done."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                settle_heap()

    return Server(config)


def build_platform(settings: Settings) -> Platform:
    from switchyard.errors import ConfigurationError
    from switchyard.services.platform import Platform

    try:
        return Platform.build(settings)
    except ConfigurationError as exc:
        raise CliError(exc.message) from None


async def prepare_store(platform: Platform) -> FirstStart | None:
    """Migrates the store to the newest schema and bootstraps it; database failures become a ``CliError``."""
    from sqlalchemy.exc import SQLAlchemyError

    from switchyard.services.bootstrap import bootstrap
    from switchyard.store import migrate

    url = safe_database_url(platform.settings.resolved_database_url)
    try:
        await migrate.upgrade(platform.engine)
        return await bootstrap(platform)
    except (OSError, SQLAlchemyError) as exc:
        raise CliError(f"Cannot prepare the database at {url}: {describe_database_error(exc)}") from None


def show_first_start(first: FirstStart, url: str) -> None:
    password = first.admin_password or "(as set in SWITCHYARD_ADMIN_PASSWORD)"
    key = first.admin_key or "(as set in SWITCHYARD_ADMIN_KEY)"
    print_secret(
        "Switchyard is set up: the first admin",
        [
            ("URL", url),
            ("Admin email", first.admin_email),
            ("Admin password", password),
            ("Admin API key", key),
        ],
        "Store these now: they are shown only on this first start.\n"
        f"Log in with: switchyard login {url} --email {first.admin_email}",
    )
