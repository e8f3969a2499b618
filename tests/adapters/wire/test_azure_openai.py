"""The azure_openai wire format without a network: addresses, the key header, content filters relayed as they are."""

from __future__ import annotations

import orjson
import pytest

from switchyard.adapters.wire.azure_openai import AzureOpenAIAdapter
from switchyard.adapters.wire.base import Usage
from switchyard.domain.gateway import Operation, ProviderAuth, WireFormat
from switchyard.errors import UpstreamError, UpstreamRejected
from tests.adapters.wire.provider_targets import split_every, target

BASE = "https://contoso.openai.azure.com"
AZURE = target(WireFormat.azure_openai, "gpt-4o prod", BASE, api_key="azure-key", api_version="2024-10-21")
HELLO = {"model": "gpt-4o prod", "messages": [{"role": "user", "content": "hi"}]}
SAFE = {"hate": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (Operation.chat, "/chat/completions"),
        (Operation.completions, "/completions"),
        (Operation.embeddings, "/embeddings"),
        (Operation.images, "/images/generations"),
        (Operation.audio_speech, "/audio/speech"),
        (Operation.audio_transcriptions, "/audio/transcriptions"),
    ],
)
def test_deployment_addresses(operation: Operation, path: str) -> None:
    request = AzureOpenAIAdapter().build(operation, dict(HELLO), AZURE, stream=False)
    assert request.url == f"{BASE}/openai/deployments/gpt-4o%20prod{path}?api-version=2024-10-21"


def test_rerank_is_not_an_azure_operation() -> None:
    assert not AzureOpenAIAdapter().supports(Operation.rerank)
    assert AzureOpenAIAdapter().supports(Operation.chat)


def test_a_path_override_names_the_deployment() -> None:
    custom = target(
        WireFormat.azure_openai,
        "mini",
        BASE,
        api_version="2025-01-01-preview",
        paths={"chat": "/gateway/{deployment}/chat"},
    )
    request = AzureOpenAIAdapter().build(Operation.chat, dict(HELLO), custom, stream=False)
    assert request.url == f"{BASE}/gateway/mini/chat?api-version=2025-01-01-preview"


def test_the_default_auth_becomes_the_api_key_header() -> None:
    request = AzureOpenAIAdapter().build(Operation.chat, dict(HELLO), AZURE, stream=True)
    assert request.headers["api-key"] == "azure-key"
    assert "Authorization" not in request.headers
    assert orjson.loads(request.body or b"")["stream_options"] == {"include_usage": True}


def test_an_entra_token_goes_as_configured() -> None:
    entra = target(
        WireFormat.azure_openai,
        "gpt-4o",
        BASE,
        api_key="eyJ0eXAi",
        api_version="2024-10-21",
        auth=ProviderAuth(header_prefix="Bearer ", space_after_prefix=False),
        extra_headers={"x-ms-client-request-id": "abc"},
    )
    request = AzureOpenAIAdapter().build(Operation.chat, dict(HELLO), entra, stream=False)
    assert request.headers["Authorization"] == "Bearer eyJ0eXAi"
    assert "api-key" not in request.headers and request.headers["x-ms-client-request-id"] == "abc"


def test_answers_pass_through_with_their_filter_results() -> None:
    answer = orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-2024-08-06",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": SAFE}],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi"},
                    "finish_reason": "stop",
                    "content_filter_results": SAFE,
                }
            ],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 1,
                "total_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        }
    )
    result = AzureOpenAIAdapter().answer(Operation.chat, 200, answer, AZURE, {})
    assert result.body == answer
    assert result.usage == Usage(prompt_tokens=9, completion_tokens=1, cached_tokens=4)


def test_stream_events_are_relayed_untouched() -> None:
    prompt_only = (
        b'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
        b'[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}\n\n'
    )
    text = (
        b'data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},'
        b'"delta":{"content":"Hi"},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"id":"c",'
        b'"model":"gpt-4o","object":"chat.completion.chunk"}\n\n'
    )
    usage = (
        b'data: {"choices":[],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk",'
        b'"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}\n\n'
    )
    upstream = prompt_only + text + usage + b"data: [DONE]\n\n"
    for include_usage, expected in ((True, [prompt_only, text, usage]), (False, [prompt_only, text])):
        stream = AzureOpenAIAdapter().stream(Operation.chat, AZURE, include_usage=include_usage)
        out = [event for piece in split_every(upstream, 5) for event in stream.feed(piece)] + stream.close()
        assert out == expected
        assert stream.state.usage == Usage(prompt_tokens=9, completion_tokens=1)


def test_a_content_filter_refusal_passes_through_as_400() -> None:
    refusal = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {}},
        }
    }
    error = AzureOpenAIAdapter().error(400, orjson.dumps(refusal))
    assert isinstance(error, UpstreamRejected) and error.status == 400
    assert (error.code, error.param) == ("content_filter", "prompt")
    assert error.message.startswith("The response was filtered")


def test_a_refused_key_is_the_providers_fault() -> None:
    error = AzureOpenAIAdapter().error(401, b'{"error": {"code": "401", "message": "Access denied"}}')
    assert isinstance(error, UpstreamError) and error.code == "upstream_auth" and error.retryable
