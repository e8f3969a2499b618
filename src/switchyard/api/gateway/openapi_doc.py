"""The ``/v1`` inference routes in the OpenAPI document (and, through ``api/v2/openapi_doc.py``, the V2 ones).

They are served by raw ASGI handlers, not FastAPI routes, so their description is added to the generated
document here: request bodies from the models below (OpenAI's field names; unknown fields pass through to
the upstream), answers in OpenAI's shapes, errors in the one error shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchyard.api.v2.openapi_doc import add_v2_paths


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatCompletionRequest(_Open):
    """OpenAI's chat completion request; fields not listed here are passed to the upstream untouched."""

    model: str = Field(description="A router name or alias from GET /v1/models.")
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = Field(None, description='`{"include_usage": true}` adds a usage chunk.')
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool | None = None


class CompletionRequest(_Open):
    model: str
    prompt: str | list[str]
    stream: bool = False
    max_tokens: int | None = None


class EmbeddingRequest(_Open):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


class RerankRequest(_Open):
    """Cohere/Jina rerank shape."""

    model: str
    query: str
    documents: list[str | dict[str, Any]]
    top_n: int | None = None
    return_documents: bool | None = None


class ImageRequest(_Open):
    model: str
    prompt: str
    n: int | None = None
    size: str | None = None
    response_format: Literal["url", "b64_json"] | None = None


class SpeechRequest(_Open):
    model: str
    input: str
    voice: str
    response_format: str | None = None


class TranscriptionForm(_Open):
    model: str
    file: bytes = Field(json_schema_extra={"format": "binary"})
    language: str | None = None
    prompt: str | None = None
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt"] | None = None


class MessagesRequest(_Open):
    """Anthropic's Messages API request, served in front of any backend."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int
    system: str | list[dict[str, Any]] | None = None
    stream: bool = False
    tools: list[dict[str, Any]] | None = None


ROUTES: list[tuple[str, str, str, type[BaseModel] | None, str, str]] = [
    # path, method, operation id, body model, body media type, summary
    ("/v1/models", "get", "list_models_v1", None, "", "The routers and aliases this key may use."),
    ("/v1/models/{model}", "get", "get_model_v1", None, "", "One model, by name or alias."),
    (
        "/v1/chat/completions",
        "post",
        "create_chat_completion",
        ChatCompletionRequest,
        "application/json",
        "Chat completion; `stream: true` answers server-sent events ending with `data: [DONE]`.",
    ),
    ("/v1/completions", "post", "create_completion", CompletionRequest, "application/json", "Text completion."),
    ("/v1/embeddings", "post", "create_embeddings", EmbeddingRequest, "application/json", "Embeddings."),
    ("/v1/rerank", "post", "create_rerank", RerankRequest, "application/json", "Rerank documents for a query."),
    ("/v1/images/generations", "post", "create_image", ImageRequest, "application/json", "Generate images."),
    ("/v1/audio/speech", "post", "create_speech", SpeechRequest, "application/json", "Text to speech (audio bytes)."),
    (
        "/v1/audio/transcriptions",
        "post",
        "create_transcription",
        TranscriptionForm,
        "multipart/form-data",
        "Speech to text.",
    ),
    (
        "/v1/messages",
        "post",
        "create_message",
        MessagesRequest,
        "application/json",
        "Anthropic's Messages API in front of any backend; errors in Anthropic's shape.",
    ),
    (
        "/v1/providers/{name}/{path}",
        "post",
        "provider_passthrough",
        None,
        "",
        "Any method: forwarded raw to one provider with its credentials (no translation, no failover).",
    ),
]

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
            "required": ["message", "type", "code", "param"],
        }
    },
    "required": ["error"],
}


def add_inference_paths(schema: dict[str, Any]) -> None:
    """The ``/v1`` routes, and the V2 ones (``api/v2/openapi_doc.py``)."""
    add_v2_paths(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, method, operation_id, body, media, summary in ROUTES:
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["inference"],
            "security": security,
            "responses": {
                "200": {"description": "OpenAI's answer shape (or the upstream's, for pass-through)."},
                "default": {"description": "An error.", "content": {"application/json": {"schema": ERROR}}},
            },
        }
        parameters = [
            {"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path.split("/")
            if name.startswith("{")
        ]
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            components[body.__name__] = body.model_json_schema(ref_template="#/components/schemas/{model}")
            ref = {"$ref": f"#/components/schemas/{body.__name__}"}
            operation["requestBody"] = {"required": True, "content": {media: {"schema": ref}}}
        schema.setdefault("paths", {}).setdefault(path, {})[method] = operation
