"""Server-sent events: splitting a byte stream into events, and writing OpenAI's ``data:`` events."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


class EventSplitter:
    """Bytes in, whole events out (without their blank-line terminator); partial events wait for more."""

    def __init__(self) -> None:
        self._buffer = b""

    def complete(self, chunk: bytes) -> bytes:
        """The whole events ``chunk`` completes, in one piece, each with its blank line (``\r\n`` made ``\n``);
        b"" when none did. The rest waits for more."""
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        if data[:1] == b"\n":  # blank lines before an event (one read ended inside a run of them) mean nothing
            data = data.lstrip(b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buffer = data
            return b""
        self._buffer = data[end + 2 :]
        return data[: end + 2]

    def feed(self, chunk: bytes) -> list[bytes]:
        return split_events(self.complete(chunk))

    def rest(self) -> bytes:
        rest, self._buffer = self._buffer.strip(), b""
        return rest


def split_events(events: bytes) -> list[bytes]:
    """Whole events (as ``EventSplitter.complete`` gives them) one by one, without their blank lines; empty ones
    dropped."""
    return [event for event in events.split(b"\n\n") if event.strip()]


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
