"""The Python ceiling: a bare pass-through proxy — raw ASGI on uvicorn (uvloop + httptools), one pooled aiohttp
session to the upstream, no authentication, no parsing, no routing.

Run: ``.venv/bin/python -m bench.bare_proxy --port 9002 --upstream http://127.0.0.1:9001``. Every request is
forwarded with its method, path, query, body and ``content-type``/``authorization`` headers; the answer's status
and content type come back, and an SSE answer is relayed piece by piece as it arrives.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn
from starlette.types import Message, Receive, Scope, Send

FORWARDED = (b"content-type", b"authorization")


class BareProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {name.decode(): value.decode() for name, value in scope["headers"] if name in FORWARDED}
        url = self.upstream + scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        assert self.session is not None
        async with self.session.request(scope["method"], url, data=body, headers=headers) as response:
            content_type = response.headers.get("content-type", "application/octet-stream").encode()
            start: Message = {"type": "http.response.start", "status": response.status}
            start["headers"] = [(b"content-type", content_type)]
            if content_type.startswith(b"text/event-stream"):
                await send(start)
                async for piece in response.content.iter_any():
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            payload = await response.read()
            start["headers"].append((b"content-length", str(len(payload)).encode()))
            await send(start)
            await send({"type": "http.response.body", "body": payload})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=60)
                self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def config(upstream: str, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        BareProxy(upstream),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        **options,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9001")
    args = parser.parse_args()
    uvicorn.Server(config(args.upstream, args.host, args.port)).run()


if __name__ == "__main__":
    main()
