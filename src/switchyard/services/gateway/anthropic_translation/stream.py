"""OpenAI chat completion chunks as Anthropic's message stream.

Out come ``message_start`` (on the first chunk), one content block per text run and per tool call —
``content_block_start``, its ``text_delta`` / ``input_json_delta`` deltas, ``content_block_stop`` — with indexes
0, 1, … in the order they start, then ``message_delta`` (stop reason, usage) and ``message_stop``
(``finish``). Tool calls that an upstream interleaves keep their own block index for later argument deltas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from switchyard.adapters.wire.anthropic.response import member
from switchyard.adapters.wire.base import Usage, usage_from_openai
from switchyard.adapters.wire.sse import EventSplitter, data_lines
from switchyard.errors import UpstreamError
from switchyard.services.gateway.anthropic_translation.answer import anthropic_usage, message_id, stop_reason


def sse_event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind} | data) + b"\n\n"


class AnthropicEvents:
    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._blocks = 0
        self._open: int | None = None
        """The index of the block still open, if any."""
        self._text_open = False
        self._tools: dict[int, int] = {}
        """OpenAI tool call index → content block index."""
        self._finish: str | None = None
        self.usage: Usage | None = None
        self._splitter = EventSplitter()

    def _start(self, chunk: dict[str, Any], known: Usage | None) -> bytes:
        self._started = True
        usage = anthropic_usage(known)
        usage["output_tokens"] = 0
        message: dict[str, Any] = {
            "id": message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return sse_event("message_start", {"message": message})

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open, self._text_open = self._open, None, False
        return [sse_event("content_block_stop", {"index": index})]

    def _open_block(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open, self._blocks = self._blocks, self._blocks + 1
        out.append(sse_event("content_block_start", {"index": self._open, "content_block": block}))
        return out

    def _text(self, text: str) -> list[bytes]:
        out = [] if self._text_open else self._open_block({"type": "text", "text": ""})
        self._text_open = True
        assert self._open is not None
        delta = {"type": "text_delta", "text": text}
        out.append(sse_event("content_block_delta", {"index": self._open, "delta": delta}))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        position = int(call.get("index") or 0)
        function = member(call, "function")
        if position not in self._tools:
            block = {"type": "tool_use", "id": str(call.get("id") or ""), "name": str(function.get("name") or "")}
            out += self._open_block(block | {"input": {}})
            assert self._open is not None
            self._tools[position] = self._open
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(sse_event("content_block_delta", {"index": self._tools[position], "delta": delta}))
        return out

    def _translate(self, chunk: dict[str, Any], known: Usage | None) -> list[bytes]:
        out = [] if self._started else [self._start(chunk, known)]
        if chunk.get("usage"):
            self.usage = usage_from_openai(chunk["usage"])
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        delta = member(choice, "delta")
        if isinstance(delta.get("content"), str) and delta["content"]:
            out += self._text(delta["content"])
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                out += self._tool_call(call)
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        return out

    def feed(self, raw: bytes, known: Usage | None = None) -> Iterator[bytes]:
        """OpenAI SSE bytes in (split anywhere), Anthropic events out; ``known`` is the usage known so far (an
        upstream may tell its input tokens before the end). An error event from the upstream is raised."""
        for event in self._splitter.feed(raw):
            try:
                chunk = orjson.loads(data_lines(event))
            except orjson.JSONDecodeError:
                continue  # the [DONE] marker, or a comment
            if not isinstance(chunk, dict):
                continue
            error = chunk.get("error")
            if error is not None:
                message = error.get("message") if isinstance(error, dict) else error
                raise UpstreamError(str(message or "The upstream's stream failed."))
            yield from self._translate(chunk, known)

    def finish(self, known: Usage | None = None) -> list[bytes]:
        """The stream ended well: close the message (``known`` stands in for usage no chunk carried)."""
        out = [] if self._started else [self._start({}, known)]
        out += self._close()
        usage = anthropic_usage(self.usage or known)
        delta = {"stop_reason": stop_reason(self._finish), "stop_sequence": None}
        out.append(sse_event("message_delta", {"delta": delta, "usage": usage}))
        out.append(sse_event("message_stop", {}))
        return out
