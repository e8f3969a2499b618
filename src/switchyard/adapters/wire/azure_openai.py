"""Azure OpenAI deployments: OpenAI's bodies and answers, at Azure's addresses, with Azure's key header.

Address: ``{base_url}/openai/deployments/{deployment}/{operation path}?api-version={api_version}``, where the
deployment is the provider's ``upstream_model`` and the version its ``api_version`` (required for this format).
A path override (``paths``) replaces everything after ``base_url``; ``{deployment}`` in it is filled in, and the
``api-version`` query is always added.

Credentials: Azure takes the key as ``api-key: <key>``. Providers default to ``Authorization: Bearer <key>``; for
this format that default means "Azure's own way", so the key is sent as ``api-key``. Any other auth setting is
sent as configured — a Microsoft Entra ID token, for one, goes as ``Authorization: Bearer <token>`` when the
provider's auth is ``{"header_prefix": "Bearer ", "space_after_prefix": false}`` (the same header, told apart
from the default).

Everything else is OpenAI's and done by the ``openai`` adapter: the body passes as it is (streams ask for usage),
answers and stream events are relayed. Azure's content-filter results — ``prompt_filter_results``, each choice's
``content_filter_results``, and the stream's first event that carries only the prompt's results — pass through
untouched; a prompt the filter refuses is a 400 with code ``content_filter`` and reaches the client as that 400.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from switchyard.adapters.upstream import UpstreamRequest
from switchyard.adapters.wire.base import Target
from switchyard.adapters.wire.openai import OpenAIAdapter
from switchyard.domain.gateway import Operation, ProviderAuth

PATHS = {
    Operation.chat: "/chat/completions",
    Operation.completions: "/completions",
    Operation.embeddings: "/embeddings",
    Operation.images: "/images/generations",
    Operation.audio_speech: "/audio/speech",
    Operation.audio_transcriptions: "/audio/transcriptions",
}
DEFAULT_AUTH = ProviderAuth()


def azure_url(target: Target, operation: Operation) -> str:
    provider = target.provider
    deployment = quote(provider.upstream_model, safe="")
    override = provider.paths.get(operation.value)
    if override:
        path = override.replace("{deployment}", deployment)
    else:
        path = f"/openai/deployments/{deployment}{PATHS[operation]}"
    query = f"?api-version={quote(provider.api_version, safe='')}" if provider.api_version else ""
    return provider.base_url + path + query


def use_api_key_header(headers: dict[str, str], target: Target) -> None:
    """Moves the key from the default ``Authorization: Bearer`` header to Azure's ``api-key``."""
    auth = target.provider.auth
    if target.api_key is None or auth != DEFAULT_AUTH:
        return
    if headers.get(auth.header_name) == auth.header_value(target.api_key):
        del headers[auth.header_name]
    headers["api-key"] = target.api_key


class AzureOpenAIAdapter(OpenAIAdapter):
    name = "azure_openai"
    paths = PATHS

    def build(self, operation: Operation, body: dict[str, Any], target: Target, *, stream: bool) -> UpstreamRequest:
        request = super().build(operation, body, target, stream=stream)
        request.url = azure_url(target, operation)
        use_api_key_header(request.headers, target)
        return request
