"""``switchyard login`` and ``switchyard logout``: getting a credential for a server and giving it back."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from switchyard.cli import config_store
from switchyard.cli.config_store import Context, CredentialKind
from switchyard.cli.errors import ApiError, CliError, ServerUnreachable
from switchyard.cli.output import print_success, print_warning
from switchyard.cli.state import active_context, client_for, get_state

LOGIN_PATH = "/api/v1/auth/login"
LOGOUT_PATH = "/api/v1/auth/logout"
ME_PATH = "/api/v1/me"


def login(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8080.", show_default=False)],
    context_name: Annotated[
        str | None,
        typer.Option("--context", "-c", help="Name to save the context under. Default: the URL's host:port."),
    ] = None,
    email: Annotated[str | None, typer.Option("--email", "-e", help="Log in as this user.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", "-p", help="The password; asked for (hidden) if omitted.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", "-k", help="Use this API key instead of an email and password.")
    ] = None,
) -> None:
    """Log in to a server and make it the current context.

    With --email, trades the password for a session token; with --api-key, checks and stores the key.
    """
    state = get_state(ctx)
    url = config_store.normalize_url(url)
    if api_key is not None and (email is not None or password is not None):
        raise CliError("Give either --api-key or --email/--password, not both.")
    name = context_name or config_store.default_context_name(url)
    if api_key is not None:
        with client_for(state, url, api_key) as client:
            me = client.get(ME_PATH)
        context = Context(name, url, token=api_key, kind=CredentialKind.api_key, email=_email_of(me))
    else:
        if email is None:
            email = typer.prompt("Email")
        if password is None:
            password = typer.prompt("Password", hide_input=True)
        with client_for(state, url) as client:
            session = client.post(LOGIN_PATH, {"email": email, "password": password})
        token = session.get("token") if isinstance(session, dict) else None
        if not isinstance(token, str):
            raise CliError(f"{url} answered the login without a session token; is it a Switchyard server?")
        user = session.get("user")
        context = Context(
            name,
            url,
            token=token,
            kind=CredentialKind.session,
            email=_email_of(user) or email,
            expires_at=session.get("expires_at"),
        )
    path = config_store.config_path()
    config = config_store.load(path)
    config.put(context)
    config.current = name
    config_store.save(config, path)
    print_success(f"Logged in to {url} as {context.email or 'an API key'}; current context is '{name}'.")


def logout(ctx: typer.Context) -> None:
    """Forget the credential of the current context (or --context); a session is revoked on the server."""
    state = get_state(ctx)
    path = config_store.config_path()
    config = config_store.load(path)
    context = active_context(state, config)
    if context.kind is CredentialKind.session and context.token is not None:
        try:
            with client_for(state, context.url, context.token) as client:
                client.post(LOGOUT_PATH)
        except ApiError as exc:
            if exc.status != 401:  # 401: the token had already expired or been revoked
                raise
        except ServerUnreachable as exc:
            print_warning(f"Could not revoke the session on the server: {exc.message}")
    was_logged_in = context.logged_in
    context.forget_credential()
    config_store.save(config, path)
    if was_logged_in:
        print_success(f"Logged out of '{context.name}' ({context.url}).")
    else:
        print_success(f"Context '{context.name}' had no credential; nothing to do.")


def _email_of(user: Any) -> str | None:
    email = user.get("email") if isinstance(user, dict) else None
    return email if isinstance(email, str) else None
