"""Cohere v2 chat stream events as OpenAI chat completion chunks.

Cohere sends server-sent events (``event: <type>`` and a ``data:`` JSON object carrying the same ``type``):

    message-start    → the first chunk, ``{"role": "assistant", "content": ""}``; its ``id`` names every chunk
    content-delta    → ``{"content": text}`` (a ``thinking`` delta → ``{"reasoning_content": …}``)
    tool-plan-delta  → ``{"content": plan}`` (as the whole answer's translation does)
    tool-call-start  → ``{"tool_calls": [{"index", "id", "type": "function", "function": {"name", "arguments"}}]}``
    tool-call-delta  → ``{"tool_calls": [{"index", "function": {"arguments": piece}}]}``
    message-end      → ``{}`` with the finish reason; then, when the client asked for it, the usage-only chunk
    content-start/-end, tool-call-end, citation-start/-end, debug, a trailing ``[DONE]`` → nothing

Tool calls are numbered here, in the order they start. A ``message-end`` whose finish reason is ``ERROR`` or
``TIMEOUT`` fails the stream once what came before it has been sent, as does a stream that ends without one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.wire.base import HeldError, StreamState
from switchyard.adapters.wire.cohere.chat_response import finish_reason, mapping, usage_from_cohere
from switchyard.adapters.wire.sse import EventSplitter, data_event, data_lines, event_name
from switchyard.errors import UpstreamError


class CohereStream:
    def __init__(self, model: str, include_usage: bool, *, created: int | None = None) -> None:
        self.state = StreamState()
        self._model = model
        self._include_usage = include_usage
        self._created = created if created is not None else int(time.time())
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._events = EventSplitter()
        self._tool_index = -1
        self._ended = False
        self._held = HeldError()

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return data_event(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [choice],
            }
        )

    def _content(self, delta: dict[str, Any]) -> list[bytes]:
        self.state.output_chunks += 1
        return [self._chunk(delta)]

    def _end(self, delta: Mapping[str, Any]) -> list[bytes]:
        self._ended = True
        usage = usage_from_cohere(delta.get("usage"))
        if usage is not None:
            self.state.usage = usage
        reason = finish_reason(delta.get("finish_reason"), delta.get("error"))
        self.state.finish_reason = reason
        out = [self._chunk({}, reason)]
        if self._include_usage and usage is not None:
            out.append(
                data_event(
                    {
                        "id": self._id,
                        "object": "chat.completion.chunk",
                        "created": self._created,
                        "model": self._model,
                        "choices": [],
                        "usage": usage.as_openai(),
                    }
                )
            )
        return out

    def _translate(self, event: bytes) -> list[bytes]:
        payload = data_lines(event)
        if not payload or payload == b"[DONE]":
            return []
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                "The upstream sent a stream event that is not JSON.", code="upstream_invalid_json"
            ) from None
        if not isinstance(data, Mapping):
            return []
        kind = data.get("type") or (event_name(event) or b"").decode(errors="replace")
        delta = mapping(data.get("delta"))
        message = mapping(delta.get("message"))
        if kind == "message-start":
            if isinstance(data.get("id"), str) and data["id"]:
                self._id = data["id"]
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind in ("content-start", "content-delta"):
            content = mapping(message.get("content"))
            if content.get("text"):
                return self._content({"content": content["text"]})
            if content.get("thinking"):
                return self._content({"reasoning_content": content["thinking"]})
            return []
        if kind == "tool-plan-delta":
            plan = message.get("tool_plan")
            return self._content({"content": plan}) if isinstance(plan, str) and plan else []
        if kind in ("tool-call-start", "tool-call-delta"):
            calls = message.get("tool_calls")
            call = mapping(calls[0] if isinstance(calls, list) and calls else calls)
            function = mapping(call.get("function"))
            if kind == "tool-call-start":
                self._tool_index += 1
                start = {
                    "index": self._tool_index,
                    "id": str(call.get("id") or f"call_{self._tool_index}"),
                    "type": "function",
                    "function": {"name": str(function.get("name") or ""), "arguments": function.get("arguments") or ""},
                }
                return self._content({"tool_calls": [start]})
            arguments = function.get("arguments")
            if not isinstance(arguments, str) or not arguments:
                return []
            piece = {"index": max(self._tool_index, 0), "function": {"arguments": arguments}}
            return self._content({"tool_calls": [piece]})
        if kind == "message-end":
            return self._end(delta)
        return []

    def feed(self, chunk: bytes) -> list[bytes]:
        self._held.raise_held()
        return self._held.translate(self._events.feed(chunk), self._translate)

    def close(self) -> list[bytes]:
        self._held.raise_held()
        rest = self._events.rest()
        out = self._held.translate([rest], self._translate) if rest else []
        self._held.raise_held()
        if not self._ended:
            raise UpstreamError("The upstream's stream ended before its last event.", code="upstream_truncated")
        return out
