"""The CLI as a client of ``/v1``: the management client plus a streamed POST whose Server-Sent Events are
handed over one by one, as they arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import typer

from switchyard.cli import config_store
from switchyard.cli.config_store import Context
from switchyard.cli.errors import CliError, NotLoggedIn, ServerUnreachable
from switchyard.cli.http_client import ApiClient
from switchyard.cli.state import active_context, get_state

INFERENCE_TIMEOUT = httpx.Timeout(30.0, read=300.0)
"""Models may think for a while before their first token, and between two."""


def logged_in_context(ctx: typer.Context) -> Context:
    """The active context (``--context``, else the current one), which must hold a credential."""
    context = active_context(get_state(ctx), config_store.load(config_store.config_path()))
    if not context.logged_in:
        raise NotLoggedIn(
            f"Context '{context.name}' ({context.url}) has no credential.",
            hint=f"Log in again with 'switchyard login {context.url} --context {context.name}'.",
        )
    return context


class InferenceClient(ApiClient):
    def __enter__(self) -> InferenceClient:
        return self

    def stream_events(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POSTs ``body`` and yields each ``data:`` event of the answer, decoded, until ``[DONE]``. An error
        answer raises ``ApiError``; an error event in the stream (the headers were already sent) ``CliError``."""
        try:
            with self._http.stream("POST", path, json=body, timeout=INFERENCE_TIMEOUT) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._api_error(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[len("data:") :].strip()
                    if payload == "[DONE]":
                        return
                    event = _decode(payload)
                    error = event.get("error")
                    if isinstance(error, dict):
                        raise CliError(f"The stream broke off: {error.get('message') or 'unknown error'}")
                    yield event
        except httpx.TimeoutException:
            raise ServerUnreachable(f"{self.base_url} stopped answering (no data for 300 s).") from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"The connection to {self.base_url} failed ({type(exc).__name__}).") from None


def _decode(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise CliError("The server sent a stream event that is not JSON; is it an OpenAI-compatible server?") from None
    if not isinstance(event, dict):
        raise CliError("The server sent a stream event that is not a JSON object.")
    return event


def open_inference_client(ctx: typer.Context, *, timeout: float = 300.0) -> InferenceClient:
    """A client of the active context's server, authenticated with its credential."""
    context = logged_in_context(ctx)
    return InferenceClient(
        context.url,
        context.token,
        transport=get_state(ctx).transport,
        timeout=timeout,
        unauthorized_hint=f"Log in again with 'switchyard login {context.url} --context {context.name}'.",
    )
