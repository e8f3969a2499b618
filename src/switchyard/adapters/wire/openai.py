"""OpenAI's wire format — also vLLM, TGI's OpenAI route, Ollama's /v1, Mistral, Together, Groq, Fireworks,
DeepSeek and anything else OpenAI-compatible. Answers pass through untouched; a stream's events are relayed as
they are, except the usage-only event when the client did not ask for it (the gateway always asks upstreams)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Answer, StreamState, Target, provider_headers, usage_from_openai
from switchyard.adapters.wire.forms import FILES_KEY, form_data
from switchyard.adapters.wire.sse import DONE, EventSplitter, data_lines, split_events
from switchyard.adapters.wire.upstream_errors import from_status
from switchyard.domain.gateway import Operation
from switchyard.errors import SwitchyardError, UpstreamError

PATHS = {
    Operation.chat: "/chat/completions",
    Operation.completions: "/completions",
    Operation.embeddings: "/embeddings",
    Operation.rerank: "/rerank",
    Operation.images: "/images/generations",
    Operation.audio_transcriptions: "/audio/transcriptions",
    Operation.audio_speech: "/audio/speech",
}


def upstream_url(target: Target, operation: Operation, default_paths: dict[Operation, str]) -> str:
    provider = target.provider
    return provider.base_url + provider.paths.get(operation.value, default_paths[operation])


def error_message(payload: bytes) -> tuple[str, str | None, str | None, str | None]:
    """message, type, code, param of an OpenAI-style error body (or of whatever text came back)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:500].decode(errors="replace").strip(), None, None, None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return (
            str(error.get("message") or ""),
            error.get("type") if isinstance(error.get("type"), str) else None,
            str(code) if code is not None else None,
            error.get("param") if isinstance(error.get("param"), str) else None,
        )
    if isinstance(error, str):
        return error, None, None, None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"], None, None, None
    return payload[:500].decode(errors="replace").strip(), None, None, None


def parse_object(payload: bytes) -> dict[str, Any]:
    """An upstream's JSON object; anything else is a broken answer (502, another provider may be tried)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream's answer is not valid JSON.", code="upstream_invalid_json") from None
    if not isinstance(data, dict):
        raise UpstreamError("The upstream's answer is not a JSON object.", code="upstream_invalid_json")
    return data


USAGE_OBJECT = (b'"usage":{', b'"usage": {')
"""How an event that carries usage figures shows it (``"usage":null``, in every chunk of OpenAI's streams once
usage is asked for, carries none). Inside a JSON string a quote is escaped, so text cannot look like this."""


def _first_to_read(events: bytes) -> int:
    """Where the first of ``events`` (whole, in one piece) that must be read one by one begins — one that carries
    usage figures or is ``[DONE]`` — or ``len(events)`` when there is none."""
    found = [i for i in (*(events.find(mark) for mark in USAGE_OBJECT), events.find(b"[DONE]")) if i >= 0]
    if not found:
        return len(events)
    start = events.rfind(b"\n\n", 0, min(found))
    return 0 if start < 0 else start + 2


def _no_empty_event(events: bytes) -> bool:
    """No event of ``events`` is empty or blank (to be dropped): none begins with a blank."""
    return not events[:1].isspace() and b"\n\n\n" not in events and b"\n\n " not in events and b"\n\n\t" not in events


class OpenAIStream:
    """Relays OpenAI's stream as it comes, reading only the events that carry usage (and ``[DONE]``, which the
    front door writes itself). The events before the first of those leave in one piece, as they came: a
    20-chunk stream is not split, parsed and joined again event by event (bench/RESULTS.md, profiling step 11)."""

    def __init__(self, include_usage: bool) -> None:
        self.state = StreamState()
        self._include_usage = include_usage
        self._events = EventSplitter()

    def _relay(self, event: bytes) -> bytes | None:
        payload = data_lines(event)
        if payload == b"[DONE]":
            return None
        if b'"usage"' in payload:
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return event + b"\n\n"
            usage = usage_from_openai(data.get("usage")) if isinstance(data, dict) else None
            if usage is not None:
                self.state.usage = usage
                if not self._include_usage:
                    if not data.get("choices"):
                        return None  # the usage-only event the client did not ask for
                    data.pop("usage", None)
                    return b"data: " + orjson.dumps(data) + b"\n\n"
        self.state.output_chunks += 1
        return event + b"\n\n"

    def feed(self, chunk: bytes) -> list[bytes]:
        events = self._events.complete(chunk)
        if not events:
            return []
        out: list[bytes] = []
        start = _first_to_read(events)
        if start and _no_empty_event(events[:start]):
            out.append(events[:start])
            self.state.output_chunks += events.count(b"\n\n", 0, start)
        else:
            start = 0
        out += [relayed for event in split_events(events[start:]) if (relayed := self._relay(event)) is not None]
        return out

    def close(self) -> list[bytes]:
        rest = self._events.rest()
        out = self._relay(rest) if rest else None
        return [out] if out is not None and out != DONE else []


class OpenAIAdapter:
    name = "openai"
    paths = PATHS

    def supports(self, operation: Operation) -> bool:
        return operation in self.paths

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        if FILES_KEY in body:
            url = upstream_url(target, operation, self.paths)
            return UpstreamRequest("POST", url, provider_headers(target), form=form_data(body))
        if stream:
            options = body.get("stream_options")
            body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        headers = provider_headers(target)
        headers["Content-Type"] = "application/json"
        return UpstreamRequest("POST", upstream_url(target, operation, self.paths), headers, orjson.dumps(body))

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        return Answer(body=payload, usage=usage_from_openai(parse_object(payload).get("usage")))

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> OpenAIStream:
        return OpenAIStream(include_usage)

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        message, type_, code, param = error_message(payload)
        return from_status(status, message, type_=type_, code=code, param=param)
