"""What one invocation of the CLI carries from the root command to the subcommand: the ``--context`` override
and, in tests, the HTTP transport to use instead of the network."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import typer

from switchyard.cli import config_store
from switchyard.cli.config_store import CliConfig, Context
from switchyard.cli.errors import NotLoggedIn
from switchyard.cli.http_client import ApiClient


@dataclass
class CliState:
    context_name: str | None = None
    """``--context NAME`` (or ``SWITCHYARD_CONTEXT``): this invocation's context, not the current."""
    transport: httpx.BaseTransport | None = None
    """Set by tests (``CliRunner.invoke(..., obj=CliState(transport=...))``); None means the network."""


def get_state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    state: CliState = root.obj
    return state


def active_context(state: CliState, config: CliConfig) -> Context:
    """The context named by ``--context``, else the current one."""
    if state.context_name is not None:
        return config.get(state.context_name)
    if config.current is None:
        raise NotLoggedIn(
            "No current context.",
            hint="Run 'switchyard login URL' first, or pick one with 'switchyard context select NAME'.",
        )
    return config.get(config.current)


def client_for(state: CliState, url: str, token: str | None = None, hint: str | None = None) -> ApiClient:
    return ApiClient(url, token, transport=state.transport, unauthorized_hint=hint)


def open_client(ctx: typer.Context) -> ApiClient:
    """A client for the active context, authenticated with its credential."""
    state = get_state(ctx)
    context = active_context(state, config_store.load(config_store.config_path()))
    login_hint = f"Log in again with 'switchyard login {context.url} --context {context.name}'."
    if not context.logged_in:
        raise NotLoggedIn(f"Context '{context.name}' ({context.url}) has no credential.", hint=login_hint)
    return client_for(state, context.url, context.token, hint=login_hint)
