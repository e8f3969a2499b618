"""The ``switchyard`` command: the server (``serve``, ``db``) and a client of its management API (``login``,
``context``, and one command group per resource)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from switchyard import __version__
from switchyard.cli import (
    auth_commands,
    contexts,
    db,
    deployments_commands,
    dev_proxy,
    gateway_resources,
    inference_commands,
    mlflow_commands,
    serve,
    usage_commands,
)
from switchyard.cli.errors import CliError
from switchyard.cli.identity_resources import RESOURCES
from switchyard.cli.output import print_error
from switchyard.cli.resources import build_resource_app
from switchyard.cli.state import get_state


class SwitchyardGroup(TyperGroup):
    """The root group: any ``CliError`` a command raises is printed as one line and exits with 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            print_error(exc)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=SwitchyardGroup,
    help="Switchyard: run the AI gateway, and manage it from the command line.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"switchyard {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            "-c",
            envvar="SWITCHYARD_CONTEXT",
            help="Use this saved context for this command instead of the current one.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    get_state(ctx).context_name = context


app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.command("login")(auth_commands.login)
app.command("logout")(auth_commands.logout)
app.add_typer(contexts.app, name="context")
for resource in (*RESOURCES, *gateway_resources.RESOURCES):
    app.add_typer(build_resource_app(resource), name=resource.command)
app.add_typer(inference_commands.models_app, name="models")
app.command("chat")(inference_commands.chat)
app.command("embed")(inference_commands.embed)
app.command("proxy")(dev_proxy.proxy)
app.add_typer(mlflow_commands.app, name="mlflow")
app.add_typer(usage_commands.app, name="usage")
app.command("limits")(usage_commands.limits)
app.add_typer(deployments_commands.app, name="deployments")


def run() -> None:
    app(prog_name="switchyard")
