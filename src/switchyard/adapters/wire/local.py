"""The ``local`` wire format: models served in this process by the local runtime (``adapters/runtimes``).

A provider's ``base_url`` names the model folder: ``local://all-minilm-l6-v2`` (the built-in model) or
``file:///<absolute path>`` (any sentence-transformers folder). It serves OpenAI's embeddings request:

- ``input``: a string or an array of strings (at most ``MAX_INPUTS``, none empty); token-id arrays are refused
  (400, ``param: input``): the runtime tokenizes text itself;
- ``encoding_format``: ``float`` (default) or ``base64``;
- ``dimensions``: accepted only when it equals the model's dimension (the model cannot shorten its vectors).

Usage: ``prompt_tokens`` is the number of tokens the model read (special tokens included, after truncation to
the model's maximum). A model that cannot be loaded answers 503 (another provider of the router may be tried).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.runtimes.encoder import Vectors
from switchyard.adapters.runtimes.local_model import MODELS
from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Answer, StreamTranslator, Target, Usage
from switchyard.adapters.wire.embedding_list import encoding_format
from switchyard.domain.gateway import Operation
from switchyard.errors import BadRequest, SwitchyardError, UpstreamError, UpstreamUnavailable

MAX_INPUTS = 2048
"""OpenAI's limit on inputs per embeddings request."""


def texts_of(value: Any) -> list[str]:
    """OpenAI's ``input`` as a list of texts; 400 naming ``input`` for anything else."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        hint = " Token-id arrays are not accepted by local models: send text." if _token_ids(value) else ""
        raise BadRequest(
            f"'input' must be a string or a non-empty array of strings.{hint}", param="input", code="invalid_type"
        )
    if len(texts) > MAX_INPUTS:
        raise BadRequest(
            f"'input' may hold at most {MAX_INPUTS} texts; it has {len(texts)}.", param="input", code="invalid_value"
        )
    empty = next((i for i, text in enumerate(texts) if not text), None)
    if empty is not None:
        where = "" if isinstance(value, str) else f" (item {empty})"
        raise BadRequest(f"'input' cannot hold an empty string{where}.", param="input", code="invalid_value")
    return texts


def _token_ids(value: Any) -> bool:
    def ids(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)

    return ids(value) or (isinstance(value, list) and bool(value) and all(ids(v) for v in value))


def check_dimensions(body: Mapping[str, Any], dimension: int) -> None:
    wanted = body.get("dimensions")
    if wanted is not None and (isinstance(wanted, bool) or wanted != dimension):
        raise BadRequest(
            f"This model's embeddings have {dimension} dimensions; 'dimensions' can only be {dimension}.",
            param="dimensions",
            code="invalid_value",
        )


def embedding_objects(vectors: Vectors, encoding: str) -> list[dict[str, Any]]:
    """OpenAI's embedding objects; base64 is the little-endian float32 bytes, as OpenAI sends them."""
    if encoding == "base64":
        little = vectors.astype("<f4", copy=False)
        values: list[Any] = [base64.b64encode(row.tobytes()).decode() for row in little]
    else:
        values = vectors.tolist()
    return [{"object": "embedding", "index": index, "embedding": value} for index, value in enumerate(values)]


class LocalAdapter:
    name = "local"

    def supports(self, operation: Operation) -> bool:
        return operation == Operation.embeddings

    async def invoke(self, operation: Operation, body: dict[str, Any], target: Target) -> Answer:
        if operation != Operation.embeddings:
            raise UpstreamError(f"Local models do not serve {operation.value}.", retryable=False)
        if body.get("stream") is True:
            raise BadRequest("Embeddings cannot be streamed; omit 'stream'.", param="stream")
        texts = texts_of(body.get("input"))
        encoding = encoding_format(body)
        try:
            model = MODELS.get(target.provider.base_url)
            encoder = await model.encoder()
        except Exception as exc:  # a folder gone or broken, a failed export: this provider cannot serve now
            raise UpstreamUnavailable(
                f"The local model of provider '{target.provider.name}' cannot be loaded: {exc}", code="model_not_loaded"
            ) from exc
        check_dimensions(body, encoder.dimension)
        try:
            encoded = await model.encode(texts)
        except SwitchyardError:
            raise
        except Exception as exc:  # onnxruntime's errors: the model failed, not the client
            raise UpstreamError(f"The local model failed: {exc}", code="model_error") from exc
        usage = Usage(prompt_tokens=sum(encoded.tokens))
        answer = {
            "object": "list",
            "data": embedding_objects(encoded.vectors, encoding),
            "model": target.provider.upstream_model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }
        return Answer(data=answer, usage=usage)

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        if stream:
            raise BadRequest(f"{operation.value.capitalize()} cannot be streamed; omit 'stream'.", param="stream")
        raise UpstreamError(
            "A local model is served in process, with no upstream request to send; try it with /v1/embeddings.",
            retryable=False,
        )

    def answer(
        self, operation: Operation, status: int, payload: bytes, target: Target, sent: Mapping[str, Any]
    ) -> Answer:
        raise UpstreamError("A local model is served in process; there is no upstream answer.", retryable=False)

    def stream(self, operation: Operation, target: Target, *, include_usage: bool) -> StreamTranslator:
        raise BadRequest(f"{operation.value.capitalize()} cannot be streamed; omit 'stream'.", param="stream")

    def error(self, status: int, payload: bytes) -> SwitchyardError:
        return UpstreamError(f"A local model answered {status}.")
