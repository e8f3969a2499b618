"""Anthropic's message stream as OpenAI chat completion chunks.

Anthropic sends ``message_start`` (id, model, input usage), then per content block ``content_block_start`` /
``content_block_delta`` (``text_delta`` or ``input_json_delta``) / ``content_block_stop``, then ``message_delta``
(stop reason, cumulative usage) and ``message_stop``; ``ping`` may come at any time, and ``error`` ends a
stream that already answered 200. Out come: a first chunk with the assistant role; a chunk per text delta; per
tool_use block a chunk opening tool call *n* (its id and name) and one per argument delta, indexed 0, 1, … in
the order the blocks started; a chunk with the finish reason; and, when the client asked, the usage chunk.
Thinking and server-tool blocks are not relayed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from switchyard.adapters.wire.anthropic.response import ERROR_STATUSES, finish_reason, member, usage_from_anthropic
from switchyard.adapters.wire.base import HeldError, StreamState, Usage
from switchyard.adapters.wire.sse import EventSplitter, data_event, data_lines, event_name
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.errors import UpstreamError


class AnthropicStream:
    def __init__(self, include_usage: bool, *, created: int | None = None) -> None:
        self.state = StreamState()
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._events = EventSplitter()
        self._id = ""
        self._model = ""
        self._tools: dict[int, int] = {}
        """Content block index → OpenAI tool call index."""
        self._usage = Usage()
        self._held = HeldError()
        self._stopped = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        self.state.output_chunks += 1
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return data_event(self._envelope({"choices": [choice]}))

    def _envelope(self, rest: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        } | rest

    def _block_start(self, data: dict[str, Any]) -> list[bytes]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if text else []
        if block.get("type") != "tool_use":
            return []
        call = len(self._tools)
        self._tools[int(data.get("index") or 0)] = call
        opening = {
            "index": call,
            "id": str(block.get("id") or ""),
            "type": "function",
            "function": {"name": str(block.get("name") or ""), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [opening]})]

    def _block_delta(self, data: dict[str, Any]) -> list[bytes]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta":
            text = delta.get("text")
            return [self._chunk({"content": text})] if text else []
        call = self._tools.get(int(data.get("index") or 0))
        if delta.get("type") == "input_json_delta" and call is not None and delta.get("partial_json"):
            arguments = {"index": call, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [arguments]})]
        return []

    def _translate(self, event: bytes) -> list[bytes]:
        payload = data_lines(event)
        if not payload:
            return []
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                "The upstream sent a stream event that is not JSON.", code="upstream_invalid_json"
            ) from None
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or (event_name(event) or b"").decode()
        if kind == "message_start":
            message = member(data, "message")
            self._id, self._model = str(message.get("id") or ""), str(message.get("model") or "")
            self.state.usage = usage_from_anthropic(message.get("usage"), self._usage)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_delta":
            usage_from_anthropic(data.get("usage"), self._usage)
            delta = member(data, "delta")
            self.state.finish_reason = finish_reason(delta.get("stop_reason"))
            return [self._chunk({}, self.state.finish_reason)]
        if kind == "message_stop":
            self._stopped = True
            self.state.usage = self._usage
            usage = self._envelope({"choices": [], "usage": self._usage.as_openai()})
            return [data_event(usage)] if self._include_usage else []
        if kind == "error":
            error = member(data, "error")
            type_ = str(error.get("type") or "api_error")
            text = str(error.get("message") or "The upstream reported an error in its stream.")
            raise from_status(ERROR_STATUSES.get(type_, 500), text, type_=type_)
        return []  # ping, content_block_stop, and event types added after this was written

    def feed(self, chunk: bytes) -> list[bytes]:
        self._held.raise_held()
        return self._held.translate(self._events.feed(chunk), self._translate)

    def close(self) -> list[bytes]:
        self._held.raise_held()
        rest = self._events.rest()
        out = self._translate(rest) if rest else []
        if not self._stopped:
            self.state.usage = self._usage
            raise UpstreamError("The upstream's stream ended before its message_stop event.", code="upstream_truncated")
        return out
