"""Providers on the wire. The upstream is given as ``base_url`` or as ``endpoint`` parts (scheme, host, port,
base path — Enkrypt's shape); the API key is write-only and answered masked as ``api_key_hint``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from switchyard.adapters.runtimes.sources import is_local_url, parse_source
from switchyard.api.schemas.common import Name, PatchModel, PublicModel, RequestModel
from switchyard.domain.gateway import Operation, Provider, WireFormat
from switchyard.services.provider_test import ProviderTest

Capability = Literal[
    "chat",
    "completions",
    "embeddings",
    "rerank",
    "images",
    "audio_transcriptions",
    "audio_speech",
    "tools",
    "vision",
]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]
HeaderValue = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\r\n]*$")]
UpstreamPath = Annotated[str, StringConstraints(pattern=r"^/[^\s?#]*$", max_length=500)]
Zone = Annotated[
    str,
    StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$"),
    Field(description="Hosting zone, ISO 3166-1 alpha-3, or WOR for the world average (carbon accounting)."),
]
Params = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False, description="Billions of parameters.")]
Weight = Annotated[int, Field(ge=0, le=1000)]
Priority = Annotated[int, Field(ge=0, le=1000, description="Fallback order: lower is tried first.")]


def _base_url(value: str) -> str:
    if is_local_url(value):  # a local model's folder (wire format local): local://<name> or file:///<path>
        parse_source(value)
        return value.rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an http(s) URL without query or fragment, e.g. https://api.openai.com/v1")
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError as exc:
        raise ValueError(f"has an invalid port ({exc})") from None
    return value.rstrip("/")


BaseUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_base_url)]


class Endpoint(RequestModel):
    scheme: Literal["http", "https"] = "https"
    host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-\[\]:]{1,253}$")]
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    base_path: Annotated[str, StringConstraints(pattern=r"^(/[^\s?#]*)?$", max_length=500)] = ""

    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}{self.base_path}".rstrip("/")


class Auth(RequestModel):
    header_name: HeaderName = "Authorization"
    header_prefix: Annotated[str, StringConstraints(max_length=50, pattern=r"^[^\r\n]*$")] = "Bearer"
    space_after_prefix: bool = True


class TimeoutsSpec(RequestModel):
    connect: Annotated[float, Field(gt=0, le=600)] = 10.0
    first_byte: Annotated[float, Field(gt=0, le=3600)] = 120.0
    total: Annotated[float, Field(gt=0, le=86_400)] = 600.0


class _ProviderFields(BaseModel):
    """Fields shared by create and update; all optional here."""

    paths: dict[Operation, UpstreamPath] | None = None
    upstream_model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None
    api_key: Annotated[str, StringConstraints(min_length=1, max_length=8000)] | None = Field(
        None, description="Write-only; sealed at rest, answered masked."
    )
    credential_id: int | None = Field(None, description="A credential whose `api_key` value authenticates.")
    auth: Auth | None = None
    timeouts: TimeoutsSpec | None = None
    extra_headers: dict[HeaderName, HeaderValue] | None = None
    default_options: dict[str, Any] | None = Field(
        None, description="Request fields added when the client did not send them."
    )
    api_version: Annotated[str, StringConstraints(max_length=64)] | None = None
    weight: Weight | None = None
    priority: Priority | None = None
    enabled: bool | None = None
    max_in_flight: Annotated[int, Field(ge=1)] | None = None
    context_length: Annotated[int, Field(ge=1)] | None = None
    vector_size: Annotated[int, Field(ge=1)] | None = None
    total_params_b: Params | None = None
    active_params_b: Params | None = None
    hosting_zone: Zone | None = None
    datacenter_pue: Annotated[float, Field(ge=1.0, le=5.0)] | None = Field(
        None, description="Power usage effectiveness of the data centre (carbon accounting; default 1.2)."
    )
    datacenter_wue: Annotated[float, Field(ge=0.0, le=20.0)] | None = Field(
        None, description="Water usage effectiveness of the data centre, litres per kWh (default 0.5)."
    )
    capabilities: list[Capability] | None = None


def _column_values(model: BaseModel, fields: dict[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    values.pop("api_key", None)
    values.pop("endpoint", None)
    for nested in ("auth", "timeouts"):
        if values.get(nested) is not None:
            values[nested] = getattr(model, nested).model_dump()
    if values.get("paths") is not None:
        values["paths"] = {str(op): path for op, path in values["paths"].items()}
    return values


class ProviderCreate(_ProviderFields, RequestModel):
    name: Name
    wire_format: WireFormat
    base_url: BaseUrl | None = None
    endpoint: Endpoint | None = None
    upstream_model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    auth: Auth = Field(default_factory=Auth)
    timeouts: TimeoutsSpec = Field(default_factory=TimeoutsSpec)
    paths: dict[Operation, UpstreamPath] = Field(default_factory=dict)
    extra_headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    default_options: dict[str, Any] = Field(default_factory=dict)
    weight: Weight = 1
    priority: Priority = 0
    enabled: bool = True
    hosting_zone: Zone = "WOR"
    datacenter_pue: Annotated[float, Field(ge=1.0, le=5.0)] = 1.2
    datacenter_wue: Annotated[float, Field(ge=0.0, le=20.0)] = 0.5
    capabilities: list[Capability] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_upstream(self) -> Self:
        if (self.base_url is None) == (self.endpoint is None):
            raise ValueError("give the upstream as exactly one of base_url or endpoint")
        if self.wire_format == WireFormat.azure_openai and not self.api_version:
            raise ValueError("azure_openai providers need api_version (e.g. 2024-10-21)")
        if self.wire_format == WireFormat.local and self.base_url is None:
            raise ValueError("local providers name their model in base_url: local://<name> or file:///<folder>")
        return self

    @field_validator("base_url")
    @classmethod
    def _local_only_for_local(cls, value: str | None, info: ValidationInfo) -> str | None:
        local = info.data.get("wire_format") == WireFormat.local
        if value is not None and local != is_local_url(value):
            raise ValueError(
                "a local provider's base_url is local://<name> or file:///<folder>"
                if local
                else "local:// and file:// URLs are for providers of wire_format local"
            )
        return value

    def column_values(self) -> dict[str, Any]:
        values = _column_values(self, self.model_dump())
        values["base_url"] = self.base_url or (self.endpoint.url() if self.endpoint else "")
        return values


class ProviderUpdate(_ProviderFields, PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset(
        {
            "name",
            "base_url",
            "endpoint",
            "upstream_model",
            "auth",
            "timeouts",
            "paths",
            "extra_headers",
            "default_options",
            "weight",
            "priority",
            "enabled",
            "hosting_zone",
            "datacenter_pue",
            "datacenter_wue",
            "capabilities",
        }
    )
    name: Name | None = None
    base_url: BaseUrl | None = None
    endpoint: Endpoint | None = None

    def changes(self) -> dict[str, Any]:
        changes = _column_values(self, super().changes())
        if "api_key" in self.model_fields_set:
            changes["api_key"] = self.api_key
        if self.endpoint is not None:
            changes["base_url"] = self.endpoint.url()
        return changes


class ProviderPublic(PublicModel):
    object: Literal["provider"] = "provider"
    id: int
    name: str
    wire_format: WireFormat
    base_url: str
    endpoint: dict[str, Any]
    paths: dict[str, str]
    upstream_model: str
    credential_id: int | None
    api_key_hint: str | None
    auth: dict[str, Any]
    timeouts: dict[str, float]
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
    datacenter_pue: float
    datacenter_wue: float
    capabilities: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_provider(cls, provider: Provider) -> ProviderPublic:
        parts = urlsplit(provider.base_url)
        endpoint = {
            "scheme": parts.scheme,
            "host": parts.hostname,
            "port": parts.port,
            "base_path": parts.path,
        }
        data = {name: getattr(provider, name) for name in cls.model_fields if hasattr(provider, name)}
        data["auth"] = {
            "header_name": provider.auth.header_name,
            "header_prefix": provider.auth.header_prefix,
            "space_after_prefix": provider.auth.space_after_prefix,
        }
        data["timeouts"] = {
            "connect": provider.timeouts.connect,
            "first_byte": provider.timeouts.first_byte,
            "total": provider.timeouts.total,
        }
        return cls.model_validate({**data, "endpoint": endpoint})


class ProviderTestError(BaseModel):
    message: str
    type: str
    code: str | None


class ProviderTestResult(BaseModel):
    """What a provider did with a tiny request; a failing upstream is ``ok: false`` here, not an error answer."""

    object: Literal["provider_test"] = "provider_test"
    ok: bool
    latency_ms: float
    status: int | None = Field(description="The upstream's HTTP status; null when it never answered.")
    error: ProviderTestError | None
    operation: Literal["chat", "embeddings"]

    @classmethod
    def from_test(cls, test: ProviderTest) -> ProviderTestResult:
        error = test.error
        return cls(
            ok=test.ok,
            latency_ms=test.latency_ms,
            status=test.status,
            error=ProviderTestError(message=error.message, type=error.type, code=error.code) if error else None,
            operation=test.operation.value,
        )
