"""Server-sent events: splitting a byte stream into events, and writing OpenAI's ``data:`` events."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


class EventSplitter:
    """Bytes in, whole events out (without their blank-line terminator); partial events wait for more."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        *events, self._buffer = data.split(b"\n\n")
        return [event for event in events if event.strip()]

    def rest(self) -> bytes:
        rest, self._buffer = self._buffer.strip(), b""
        return rest


def data_lines(event: bytes) -> bytes:
    """The payload of an event: its ``data:`` lines joined."""
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines)


def event_name(event: bytes) -> bytes | None:
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip()
    return None


def data_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
