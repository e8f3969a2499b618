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
from switchyard.adapters.wire.sse import DONE, EventSplitter, data_lines
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


class OpenAIStream:
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
        return [out for event in self._events.feed(chunk) if (out := self._relay(event)) is not None]

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
