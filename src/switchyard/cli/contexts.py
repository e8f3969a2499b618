"""``switchyard context list|select|delete``: the servers the CLI knows and which one it talks to."""

from __future__ import annotations

from typing import Annotated

import typer

from switchyard.cli import config_store
from switchyard.cli.output import Column, print_json, print_success, print_table
from switchyard.cli.state import get_state

app = typer.Typer(help="Saved servers and credentials; one of them is current.", no_args_is_help=True)

COLUMNS = (
    Column("current", " ", format=str),
    Column("name"),
    Column("url", "URL"),
    Column("email", "USER"),
    Column("auth"),
    Column("expires_at", "EXPIRES"),
)
AUTH_LABELS = {"session": "session token", "api_key": "API key"}


@app.command("list")
def list_contexts(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (without credentials).")] = False,
) -> None:
    """List the contexts; the current one is marked with '*'. Credentials are never printed."""
    config = config_store.load(config_store.config_path())
    selected = get_state(ctx).context_name or config.current
    rows = [
        {
            "current": "*" if name == selected else "",
            "name": name,
            "url": context.url,
            "email": context.email,
            "auth": AUTH_LABELS[context.kind.value] if context.kind else "logged out",
            "expires_at": context.expires_at,
        }
        for name, context in sorted(config.contexts.items())
    ]
    if json_output:
        listed = [{**row, "current": bool(row["current"])} for row in rows]
        print_json({"current": selected, "contexts": listed})
    elif not rows:
        print_success("No contexts yet; create one with 'switchyard login URL'.")
    else:
        print_table(rows, COLUMNS)


@app.command("select")
def select_context(name: Annotated[str, typer.Argument(help="The context to make current.")]) -> None:
    """Make a context the current one."""
    path = config_store.config_path()
    config = config_store.load(path)
    context = config.get(name)
    config.current = name
    config_store.save(config, path)
    print_success(f"Current context is '{name}' ({context.url}).")


@app.command("delete")
def delete_context(name: Annotated[str, typer.Argument(help="The context to forget.")]) -> None:
    """Forget a context and its credential.

    A session stays valid on the server until it expires; 'switchyard logout' first revokes it.
    """
    path = config_store.config_path()
    config = config_store.load(path)
    was_current = config.current == name
    context = config.remove(name)
    config_store.save(config, path)
    suffix = " There is no current context now." if was_current else ""
    print_success(f"Deleted context '{name}' ({context.url}).{suffix}")
