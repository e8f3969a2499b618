"""A fast mock of an OpenAI upstream for the benchmark: canned answers over raw asyncio + httptools on uvloop.

Run: ``.venv/bin/python -m bench.mock_upstream --port 9001``. It serves, on HTTP/1.1 keep-alive:

- ``POST /v1/chat/completions`` — JSON with ``usage``; with ``"stream": true`` an SSE stream of ``STREAM_CHUNKS``
  content chunks, a final chunk, a usage chunk when ``stream_options.include_usage`` is set, then ``[DONE]``;
- ``POST /v1/embeddings`` — one 384-float vector per input (the size of all-MiniLM-L6-v2) and ``usage``;
- ``GET /v1/models``; anything else answers 404.

Answers are built once, so a request costs one JSON parse of its body and one or a few socket writes. A stream is
written one event per ``write`` by default (``--stream-writes event``, as a token-by-token upstream sends it, so
a proxy receives it in pieces), or all at once (``single``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, cast

import httptools
import orjson
import uvloop

STREAM_CHUNKS = 20
EMBEDDING_SIZE = 384
PROMPT_TOKENS = 12
WORDS = [f" token{i}" for i in range(STREAM_CHUNKS)]
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": STREAM_CHUNKS,
    "total_tokens": PROMPT_TOKENS + STREAM_CHUNKS,
}


def _head(status: str, content_type: bytes, length: int | None) -> bytes:
    framing = b"transfer-encoding: chunked" if length is None else b"content-length: %d" % length
    return b"HTTP/1.1 %s\r\ncontent-type: %s\r\n%s\r\n\r\n" % (status.encode(), content_type, framing)


def _json_answer(payload: Any, status: str = "200 OK") -> bytes:
    body = orjson.dumps(payload)
    return _head(status, b"application/json", len(body)) + body


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse_event(payload: Any) -> bytes:
    return _http_chunk(b"data: " + orjson.dumps(payload) + b"\n\n")


def _chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "mock-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


class Canned:
    """Every answer, as the bytes written to the socket."""

    def __init__(self) -> None:
        created = int(time.time())
        self.chat = _json_answer(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": created,
                "model": "mock-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(WORDS).strip()},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": USAGE,
                "system_fingerprint": "fp_bench",
            }
        )
        events = [_sse_event(_chat_chunk({"role": "assistant", "content": ""}))]
        events += [_sse_event(_chat_chunk({"content": word})) for word in WORDS]
        events.append(_sse_event(_chat_chunk({}, "stop")))
        self.stream_events = events
        self.stream_head = _head("200 OK", b"text/event-stream", None)
        self.stream_usage = _sse_event({**_chat_chunk({}), "choices": [], "usage": USAGE})
        self.stream_done = _http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        vector = [round(((i * 7919) % 1000) / 1000.0 - 0.5, 6) for i in range(EMBEDDING_SIZE)]
        self.vector = vector
        self.embedding_one = self.embeddings(1)
        self.models = _json_answer(
            {"object": "list", "data": [{"id": "mock-model", "object": "model", "created": created, "owned_by": "b"}]}
        )
        self.not_found = _json_answer(
            {"error": {"message": "not found", "type": "invalid_request_error", "code": None, "param": None}},
            "404 Not Found",
        )
        self.bad_request = _json_answer(
            {"error": {"message": "invalid JSON", "type": "invalid_request_error", "code": None, "param": None}},
            "400 Bad Request",
        )

    def embeddings(self, count: int) -> bytes:
        data = [{"object": "embedding", "index": i, "embedding": self.vector} for i in range(count)]
        tokens = 8 * count
        return _json_answer(
            {
                "object": "list",
                "data": data,
                "model": "mock-embed",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


class MockProtocol(asyncio.Protocol):
    """One connection: parses requests with httptools and writes canned answers."""

    def __init__(self, canned: Canned, event_writes: bool) -> None:
        self.canned = canned
        self.event_writes = event_writes
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        path = self.url.split(b"?", 1)[0]
        method = self.parser.get_method()
        if method == b"GET" and path == b"/v1/models":
            transport.write(self.canned.models)
        elif method == b"POST" and path == b"/v1/chat/completions":
            self.chat(transport)
        elif method == b"POST" and path == b"/v1/embeddings":
            self.embeddings(transport)
        else:
            transport.write(self.canned.not_found)
        if not self.parser.should_keep_alive():
            transport.close()

    def _json_body(self) -> dict[str, Any] | None:
        try:
            data = orjson.loads(b"".join(self.body))
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def chat(self, transport: asyncio.Transport) -> None:
        data = self._json_body()
        if data is None:
            transport.write(self.canned.bad_request)
            return
        if not data.get("stream"):
            transport.write(self.canned.chat)
            return
        canned = self.canned
        options = data.get("stream_options")
        tail = canned.stream_done
        if isinstance(options, dict) and options.get("include_usage"):
            tail = canned.stream_usage + tail
        if self.event_writes:
            transport.write(canned.stream_head)
            for event in canned.stream_events:
                transport.write(event)
            transport.write(tail)
        else:
            transport.write(canned.stream_head + b"".join(canned.stream_events) + tail)

    def embeddings(self, transport: asyncio.Transport) -> None:
        data = self._json_body()
        if data is None or "input" not in data:
            transport.write(self.canned.bad_request)
            return
        inputs = data["input"]
        count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
        transport.write(self.canned.embedding_one if count == 1 else self.canned.embeddings(count))


async def start(host: str, port: int, *, event_writes: bool = True) -> asyncio.Server:
    """Starts the mock on the running loop; ``port`` 0 picks a free one (read it from ``server.sockets``)."""
    canned = Canned()
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: MockProtocol(canned, event_writes), host, port, backlog=1024)


async def _serve(host: str, port: int, event_writes: bool) -> None:
    server = await start(host, port, event_writes=event_writes)
    print(f"mock upstream on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--stream-writes", choices=("event", "single"), default="event")
    args = parser.parse_args()
    uvloop.run(_serve(args.host, args.port, args.stream_writes == "event"))


if __name__ == "__main__":
    main()
