"""Reading requests and writing answers as raw ASGI messages."""

from __future__ import annotations

import random
from collections.abc import Iterable

from starlette.types import Receive, Scope, Send

from switchyard.errors import PayloadTooLarge

Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
EVENT_STREAM = b"text/event-stream; charset=utf-8"


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def request_id(scope: Scope) -> str:
    given = header(scope, b"x-request-id")
    if given and len(given) <= 200 and given.isascii():
        return given.decode()
    return f"{random.getrandbits(128):032x}"  # unique enough for an id, and no os.urandom syscall as uuid4 makes


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def common_headers(request_id_value: str, overhead_ms: float, extra: Iterable[tuple[bytes, bytes]] = ()) -> Headers:
    headers = [
        (b"x-request-id", request_id_value.encode()),
        (b"x-switchyard-overhead-ms", f"{overhead_ms:.3f}".encode()),
    ]
    headers.extend(extra)
    return headers


async def send_bytes(send: Send, status: int, body: bytes, headers: Headers, content_type: bytes = JSON) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, headers: Headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", EVENT_STREAM), (b"cache-control", b"no-cache"), *headers],
        }
    )


async def send_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def end_stream(send: Send, last: bytes = b"") -> None:
    """Ends a stream, with its ``last`` bytes in the same message (one write fewer)."""
    await send({"type": "http.response.body", "body": last, "more_body": False})
