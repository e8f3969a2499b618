"""Providers and routers as the services see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class WireFormat(StrEnum):
    openai = "openai"
    azure_openai = "azure_openai"
    anthropic = "anthropic"
    tei = "tei"
    cohere = "cohere"
    gemini = "gemini"
    local = "local"
    """Served in this process by the local runtime (``adapters/runtimes``); ``base_url`` names the model folder."""


class Operation(StrEnum):
    """What a client asks of a model; each wire format maps it to its own path and body."""

    chat = "chat"
    completions = "completions"
    embeddings = "embeddings"
    rerank = "rerank"
    images = "images"
    audio_transcriptions = "audio_transcriptions"
    audio_speech = "audio_speech"


class ModelType(StrEnum):
    text_generation = "text-generation"
    text_embeddings_inference = "text-embeddings-inference"
    text_classification = "text-classification"
    image_generation = "image-generation"
    automatic_speech_recognition = "automatic-speech-recognition"
    image_text_to_text = "image-text-to-text"
    text_to_speech = "text-to-speech"


class RouterMode(StrEnum):
    loadbalance = "loadbalance"
    fallback = "fallback"


class RetryOn(StrEnum):
    """What makes a request move on to the router's next provider."""

    connect_error = "connect_error"
    timeout = "timeout"
    rate_limited = "429"
    server_error = "5xx"


class Strategy(StrEnum):
    weighted = "weighted"
    round_robin = "round_robin"
    least_busy = "least_busy"
    lowest_latency = "lowest_latency"


ROUTER_ALIASES: dict[str, str] = {
    "shuffle": Strategy.weighted.value,
    "random": Strategy.weighted.value,
    "loadbalancer": RouterMode.loadbalance.value,
}
"""Other gateways' names for a strategy or a mode, taken by the API and the CLI."""


@dataclass(frozen=True, slots=True)
class ProviderAuth:
    header_name: str = "Authorization"
    header_prefix: str = "Bearer"
    space_after_prefix: bool = True

    def header_value(self, secret: str) -> str:
        if not self.header_prefix:
            return secret
        return f"{self.header_prefix}{' ' if self.space_after_prefix else ''}{secret}"


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_byte: float = 120.0
    total: float = 600.0


@dataclass(frozen=True, slots=True)
class Provider:
    id: int
    name: str
    wire_format: WireFormat
    base_url: str
    paths: dict[str, str]
    upstream_model: str
    credential_id: int | None
    api_key_hint: str | None
    """The sealed key, masked; None when the provider has no key of its own."""
    auth: ProviderAuth
    timeouts: Timeouts
    extra_headers: dict[str, str]
    default_options: dict[str, Any]
    api_version: str | None
    weight: int
    priority: int
    enabled: bool
    max_in_flight: int | None
    context_length: int | None
    vector_size: int | None
    total_params_b: float | None
    active_params_b: float | None
    hosting_zone: str
    capabilities: list[str]
    created_at: datetime
    updated_at: datetime
    datacenter_pue: float = 1.2
    """Power usage effectiveness of the data centre it runs in (carbon accounting)."""
    datacenter_wue: float = 0.5


@dataclass(frozen=True, slots=True)
class RouterMember:
    provider_id: int
    weight: int | None = None
    """Overrides the provider's weight on this router."""
    priority: int | None = None
    """Overrides the provider's priority on this router (fallback order: lower first)."""


@dataclass(frozen=True, slots=True)
class Router:
    id: int
    name: str
    aliases: list[str]
    description: str
    model_type: ModelType
    mode: RouterMode
    strategy: Strategy
    cost_prompt_tokens: float
    cost_completion_tokens: float
    usage_extras: bool
    enabled: bool
    providers: list[RouterMember] = field(default_factory=list)
    retry_on: frozenset[RetryOn] = frozenset(RetryOn)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    rate_limit_rule: str | None = None
    """A CEL expression choosing the bucket or the limits of each request (``services/governance/rules.py``)."""
    max_queue_wait_seconds: float = 10.0
    """How long a request may wait for a provider with room when all are at their ``max_in_flight``."""
