"""The contract every wire format implements, and the request/answer types that cross it.

Switchyard's internal language is OpenAI's: a front door hands adapters an OpenAI-shaped request body (a dict);
an adapter turns it into its upstream's request, and turns the upstream's answer — whole or streamed — back into
OpenAI's shape. The ``openai`` adapter does almost nothing, which keeps the common case fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.domain.gateway import Operation, Provider
from switchyard.errors import SwitchyardError


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def usage_from_openai(data: Mapping[str, Any] | None) -> Usage | None:
    if not isinstance(data, Mapping):
        return None
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0) if isinstance(prompt_details, Mapping) else 0,
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0)
        if isinstance(completion_details, Mapping)
        else 0,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """A provider as the gateway calls it: its configuration and its secret in clear (memory only)."""

    provider: Provider
    api_key: str | None
    weight: int
    priority: int


@dataclass(slots=True)
class Answer:
    """An upstream's whole answer in OpenAI's shape: either ready bytes or a dict to encode."""

    body: bytes | None = None
    data: dict[str, Any] | None = None
    usage: Usage | None = None
    content_type: str = "application/json"


@dataclass(slots=True)
class StreamState:
    """What a stream translation learned on the way, read when the stream ends."""

    usage: Usage | None = None
    finish_reason: str | None = None
    output_chunks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class StreamTranslator(Protocol):
    state: StreamState

    def feed(self, chunk: bytes) -> list[bytes]:
        """Bytes from the upstream in, complete OpenAI SSE events (``data: …\\n\\n``) out."""

    def close(self) -> list[bytes]:
        """The stream ended: what is left to send (never the ``[DONE]`` marker; the front door adds it)."""


class HeldError:
    """An upstream error met in the middle of a read, held so that the events translated before it in that read
    reach the client first: ``translate`` returns them and keeps the error, which the translator's next ``feed``
    or ``close`` raises (``raise_held``). An error with nothing before it is raised at once."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: SwitchyardError | None = None

    def translate(self, events: Iterable[bytes], translate: Callable[[bytes], list[bytes]]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            try:
                out += translate(event)
            except SwitchyardError as exc:
                if not out:
                    raise
                self.error = exc
                break
        return out

    def raise_held(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def provider_headers(target: Target) -> dict[str, str]:
    """The provider's extra headers and its credential, as its auth settings say (default Bearer).

    Used for raw pass-through, where no wire format speaks; a wire format may send credentials its own way."""
    provider = target.provider
    headers = dict(provider.extra_headers)
    if target.api_key:
        headers[provider.auth.header_name] = provider.auth.header_value(target.api_key)
    return headers


class WireAdapter(Protocol):
    name: str

    def supports(self, operation: Operation) -> bool: ...

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        """The upstream request for an OpenAI-shaped ``body`` (already holding the upstream model name)."""

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        """A 2xx upstream answer in OpenAI's shape. ``sent`` is the OpenAI-shaped body ``build`` was given
        (some formats answer without what the client asked for: documents to return, an encoding)."""

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> StreamTranslator: ...

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        """An upstream error answer in the exception tree (see ``errors.upstream_error``)."""


class InProcessAdapter(WireAdapter, Protocol):
    """A wire format served inside this process (the built-in models): no HTTP request is built or sent.

    The gateway calls ``invoke`` instead of ``build``/``answer``; errors are raised from the exception tree."""

    async def invoke(self, operation: Operation, body: dict[str, Any], target: Target) -> Answer: ...
