"""The token usage of an answer relayed as it is (pass-through), read from the bytes on their way to the client.

A pass-through answer is not translated, so its usage is in the provider's own words. The sniffer recognises
the usage objects of every wire format Switchyard speaks, in a JSON body or in server-sent events:

- OpenAI: ``usage.prompt_tokens`` / ``completion_tokens`` (``prompt_tokens_details.cached_tokens``), and the
  Responses API's ``input_tokens`` / ``output_tokens``;
- Anthropic: ``usage.input_tokens`` / ``output_tokens`` (+ ``cache_read_input_tokens``), in a stream spread over
  ``message_start`` and ``message_delta``;
- Gemini: ``usageMetadata.promptTokenCount`` / ``candidatesTokenCount`` (``cachedContentTokenCount``);
- Cohere: ``billed_units.input_tokens`` / ``output_tokens``; Bedrock's Converse: ``inputTokens`` / ``outputTokens``.

Each count is the largest seen (a stream repeats or completes them as it goes). A JSON body is read whole up to
``MAX_BODY_BYTES``; a stream is read event by event and only events that mention usage are parsed.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchyard.adapters.wire.base import Usage

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_EVENT_BYTES = 256 * 1024
USAGE_MARKERS = (b"sage", b"billed_units")
"""``usage``, ``Usage``, ``usageMetadata``; Cohere's ``billed_units``."""

PROMPT_FIELDS = ("prompt_tokens", "input_tokens", "promptTokenCount", "inputTokens")
COMPLETION_FIELDS = ("completion_tokens", "output_tokens", "candidatesTokenCount", "outputTokens")
CACHED_FIELDS = ("cache_read_input_tokens", "cachedContentTokenCount", "cacheReadInputTokens")
USAGE_OBJECTS = ("usage", "usageMetadata", "billed_units")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class UsageSniffer:
    def __init__(self, content_type: str | None) -> None:
        self.streamed = content_type is not None and content_type.startswith("text/event-stream")
        self._buffer = bytearray()
        self._overflow = False
        self._prompt: int | None = None
        self._completion: int | None = None
        self._cached = 0

    def feed(self, chunk: bytes) -> None:
        if self._overflow:
            return
        if not self.streamed:
            self._buffer += chunk
            self._overflow = len(self._buffer) > MAX_BODY_BYTES
            if self._overflow:
                self._buffer.clear()
            return
        self._buffer += chunk.replace(b"\r", b"")  # events end with a blank line, \n\n or \r\n\r\n (Gemini)
        while True:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                if len(self._buffer) > MAX_EVENT_BYTES:  # one huge event: skip it
                    self._buffer.clear()
                return
            event = bytes(self._buffer[:end])
            del self._buffer[: end + 2]
            if any(marker in event for marker in USAGE_MARKERS):
                self._event(event)

    def _event(self, event: bytes) -> None:
        for line in event.split(b"\n"):
            line = line.rstrip(b"\r")
            if line.startswith(b"data:"):
                self._json(line[5:].strip())

    def _json(self, raw: bytes) -> None:
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if isinstance(payload, dict):
            self._walk(payload, depth=0)

    def _walk(self, node: dict[str, Any], depth: int) -> None:
        """Usage objects at the top, or one or two levels down (Anthropic's ``message``, Cohere's ``meta``, the
        Responses API's ``response``)."""
        for name in USAGE_OBJECTS:
            usage = node.get(name)
            if isinstance(usage, dict):
                self._take(usage)
        if depth < 2:
            for value in node.values():
                if isinstance(value, dict):
                    self._walk(value, depth + 1)

    def _take(self, usage: dict[str, Any]) -> None:
        for field in PROMPT_FIELDS:
            value = _count(usage.get(field))
            if value is not None:
                self._prompt = max(self._prompt or 0, value)
        for field in COMPLETION_FIELDS:
            value = _count(usage.get(field))
            if value is not None:
                self._completion = max(self._completion or 0, value)
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
        cached = [usage.get(f) for f in CACHED_FIELDS]
        if isinstance(details, dict):
            cached.append(details.get("cached_tokens"))
        for value in cached:
            found = _count(value)
            if found is not None:
                self._cached = max(self._cached, found)

    def usage(self) -> Usage | None:
        """The answer's usage, or None when it said nothing about it (or was too large to read)."""
        if self._buffer and not self._overflow:  # a body, or a last event without its blank line
            rest = bytes(self._buffer)
            self._buffer.clear()
            if not self.streamed:
                self._json(rest)
            elif any(marker in rest for marker in USAGE_MARKERS):
                self._event(rest)
        if self._prompt is None and self._completion is None:
            return None
        return Usage(self._prompt or 0, self._completion or 0, self._cached)
