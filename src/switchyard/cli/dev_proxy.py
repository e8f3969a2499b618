"""``switchyard proxy``: a local development proxy (as Fathom's dev proxy).

Local tools point at ``http://127.0.0.1:8787/v1`` with any API key (or none); the proxy forwards every request
to the active context's server, replacing whatever credential the tool sent with the context's own
(``Authorization: Bearer …``), and relays answers chunk by chunk as they arrive, so streams stay streams.
A client that goes away cancels its request to the server. Ctrl-C (or SIGTERM) stops it within a few seconds.

aiohttp on both sides: the server side relays without buffering and cancels handlers of vanished clients, the
client side pools connections to the server (as the gateway does to upstreams).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import aiohttp
import orjson
import typer
from aiohttp import web

from switchyard.cli.errors import CliError
from switchyard.cli.inference_client import logged_in_context
from switchyard.cli.output import print_success

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
"""Headers about one connection, not the message; never relayed (the length is recomputed or chunked)."""
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "x-api-key"}
"""The local client's own credential is dropped: the context's replaces it."""

SHUTDOWN_LIMIT = 2.0
"""Seconds in-flight requests get to finish once asked to stop."""
CONNECT_LIMIT = 10.0
MAX_BODY = 512 * 1024 * 1024


class DevProxy:
    def __init__(self, server_url: str, token: str) -> None:
        self.server_url = server_url.rstrip("/")
        self._authorization = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, _: web.Application) -> None:
        self._session = aiohttp.ClientSession(
            auto_decompress=False,  # bytes pass through as the server encoded them
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_LIMIT),
            skip_auto_headers=("User-Agent",),
        )

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, request: web.Request) -> list[tuple[str, str]]:
        kept = [(name, value) for name, value in request.headers.items() if name.lower() not in NOT_FORWARDED]
        return [*kept, ("Authorization", self._authorization)]

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read() if request.body_exists else None
        url = self.server_url + request.raw_path
        response: web.StreamResponse | None = None
        try:
            async with self._session.request(
                request.method, url, headers=self._headers(request), data=body, allow_redirects=False
            ) as answer:
                response = web.StreamResponse(status=answer.status, reason=answer.reason)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        response.headers.add(name, value)
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if response is None or not response.prepared:
                return _unreachable(self.server_url, exc)
            if request.transport is not None:  # the answer broke off midway: so does the relay
                request.transport.close()
            return response


def _unreachable(server_url: str, exc: BaseException) -> web.Response:
    error = {
        "message": f"The dev proxy could not reach {server_url} ({type(exc).__name__}).",
        "type": "upstream_error",
        "code": "server_unreachable",
        "param": None,
    }
    return web.Response(status=502, body=orjson.dumps({"error": error}), content_type="application/json")


async def _serve(proxy: DevProxy, host: str, port: int, context_name: str) -> None:
    runner = web.AppRunner(proxy.app(), handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_LIMIT)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise CliError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}).") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print_success(
            f"Proxying http://{host}:{port} to {proxy.server_url} as context '{context_name}'. "
            f"Point clients at http://{host}:{port}/v1 with any API key; Ctrl-C stops."
        )
        await stop.wait()
    finally:
        await runner.cleanup()


def proxy(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8787,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (keep it local).")] = "127.0.0.1",
) -> None:
    """Run a local proxy that adds your credential: local tools need no API key of their own."""
    context = logged_in_context(ctx)
    asyncio.run(_serve(DevProxy(context.url, context.token or ""), host, port, context.name))
