"""The Open Inference Protocol (V2) routes in the OpenAPI document.

``V2Dispatch`` serves them as raw ASGI, so they are described here, with the protocol's own shapes (KServe's
REST API: server and model metadata, readiness, inference requests and responses, ``{"error": "…"}``), at
``/v2`` and under ``/api/v1/deployments/{deployment_id}/v2``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BF16",
    "BYTES",
]  # fmt: skip


class V2ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str] = Field(description="`binary_tensor_data`: tensors may follow the JSON as raw bytes.")


class V2TensorMetadata(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 for a dimension of any size.")


class V2ModelMetadata(BaseModel):
    name: str = Field(description="The deployment's name.")
    versions: list[str]
    platform: str = Field(examples=["onnxruntime_onnx"])
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2Readiness(BaseModel):
    name: str | None = None
    ready: bool


class V2Liveness(BaseModel):
    live: bool


class V2RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = Field(
        None, description="`binary_data_size`: this tensor's bytes follow the JSON (binary extension)."
    )
    data: list[Any] | None = Field(None, description="Row-major, flat or nested; absent for binary data.")


class V2RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = Field(None, description="`binary_data`: answer this output as bytes.")


class V2InferenceRequest(BaseModel):
    """The JSON part; with ``Inference-Header-Content-Length`` the binary tensor data follows it."""

    id: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="`binary_data_output`: every output as bytes.")
    inputs: list[V2RequestInput]
    outputs: list[V2RequestOutput] | None = None


class V2ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class V2InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[V2ResponseOutput]


class V2Error(BaseModel):
    error: str


SCOPED_PREFIX = "/api/v1/deployments/{deployment_id}/v2"
PUBLIC = ("server", "live", "ready")

# action, path under the prefix, method, summary, answer model
ROUTES: list[tuple[str, str, str, str, type[BaseModel]]] = [
    ("server", "", "get", "Server metadata (public).", V2ServerMetadata),
    ("live", "/health/live", "get", "Liveness (public).", V2Liveness),
    ("ready", "/health/ready", "get", "Readiness (public).", V2Readiness),
    ("model", "/models/{model_name}", "get", "Model metadata, from the ONNX graph.", V2ModelMetadata),
    (
        "model",
        "/models/{model_name}/versions/{model_version}",
        "get",
        "Model metadata of one version.",
        V2ModelMetadata,
    ),
    ("model_ready", "/models/{model_name}/ready", "get", "200 when it serves; 503 while loading.", V2Readiness),
    (
        "model_ready",
        "/models/{model_name}/versions/{model_version}/ready",
        "get",
        "Readiness of one version.",
        V2Readiness,
    ),
    ("infer", "/models/{model_name}/infer", "post", "Inference: JSON or binary tensors.", V2InferenceResponse),
    (
        "infer",
        "/models/{model_name}/versions/{model_version}/infer",
        "post",
        "Inference on one version.",
        V2InferenceResponse,
    ),
]

MODELS: tuple[type[BaseModel], ...] = (
    V2ServerMetadata,
    V2Liveness,
    V2Readiness,
    V2ModelMetadata,
    V2InferenceRequest,
    V2InferenceResponse,
    V2Error,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(action: str, summary: str, answer: type[BaseModel], path: str, scoped: bool) -> dict[str, Any]:
    names = [part.strip("{}") for part in path.split("/") if part.startswith("{")]
    words = [part.strip("{}") for part in path.split("/") if part.strip("{}") not in ("", "api", "v1", "v2")]
    words = [word for word in words if word not in ("deployments", "deployment_id")]
    operation: dict[str, Any] = {
        "operationId": ("v2_deployment_" if scoped else "v2_") + ("_".join(words) or "server"),
        "summary": summary,
        "tags": ["v2"],
        "responses": {
            "200": {"description": "The protocol's answer.", "content": {"application/json": {"schema": _ref(answer)}}},
            "default": {
                "description": '`{"error": "…"}`: 400, 401, 404, 413, 429 (with `Retry-After`), 503.',
                "content": {"application/json": {"schema": _ref(V2Error)}},
            },
        },
    }
    if names:
        operation["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if name == "deployment_id" else "string"},
                **({"description": "`default` or the deployment's name."} if scoped and name == "model_name" else {}),
            }
            for name in names
        ]
    if action not in PUBLIC:
        operation["security"] = [{"bearer": []}]
    if action == "infer":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _ref(V2InferenceRequest)},
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "description": "The JSON request, then the tensors' bytes; `Inference-Header-Content-Length` "
                    "gives the JSON's length.",
                },
            },
        }
    return operation


def add_v2_paths(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in MODELS:
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    paths = schema.setdefault("paths", {})
    for action, path, method, summary, answer in ROUTES:
        paths.setdefault(f"/v2{path}", {})[method] = _operation(action, summary, answer, f"/v2{path}", False)
        scoped = f"{SCOPED_PREFIX}{path}"
        paths.setdefault(scoped, {})[method] = _operation(action, summary, answer, scoped, True)
