"""The gemini wire format: OpenAI requests → Gemini requests (URLs, headers, bodies) and what Gemini can't take."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.domain.gateway import Operation, ProviderAuth
from switchyard.errors import BadRequest
from tests.adapters.wire.gemini_targets import BASE, WIRE, sent, target


def test_chat_request_translates_a_whole_conversation() -> None:
    body = {
        "model": "gemini-2.0-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        "extra_content": {"google": {"thought_signature": "sig=="}},
                    },
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "additionalProperties": False},
                },
            },
            {"type": "function", "function": {"name": "get_time"}},
        ],
        "tool_choice": "auto",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 100,
        "stop": "END",
        "n": 2,
        "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "stream_options": {"include_usage": True},
        "user": "someone",
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    assert sent(Operation.chat, body) == {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "Weather here?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}}],
            },
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig=="},
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
                    {"text": "Thanks"},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather",
                        "parametersJsonSchema": {"type": "object", "additionalProperties": False},
                    },
                    {"name": "get_time", "description": ""},
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "candidateCount": 2,
            "seed": 7,
            "maxOutputTokens": 100,
            "stopSequences": ["END"],
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "f"}}, {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "tool_choice": choice}
    assert sent(Operation.chat, body)["toolConfig"] == {"functionCallingConfig": config}


def test_json_object_max_tokens_and_native_generation_config() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"},
        "max_tokens": 5,
        "stop": ["a", "b"],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}, "maxOutputTokens": 1},
    }
    assert sent(Operation.chat, body)["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0},
        "maxOutputTokens": 5,
        "stopSequences": ["a", "b"],
        "responseMimeType": "application/json",
    }


def test_urls_and_the_key_header() -> None:
    body = {"messages": [{"role": "user", "content": "x"}]}
    plain = WIRE.build(Operation.chat, body, target(), stream=False)
    assert plain.url == f"{BASE}/models/gemini-2.0-flash:generateContent"
    assert plain.headers == {"x-goog-api-key": "gm-secret", "Content-Type": "application/json"}
    streamed = WIRE.build(Operation.chat, body, target("models/gemini-2.5-pro"), stream=True)
    assert streamed.url == f"{BASE}/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    tuned = WIRE.build(Operation.chat, body, target("tunedModels/mine-1"), stream=False)
    assert tuned.url == f"{BASE}/tunedModels/mine-1:generateContent"
    custom = target(
        paths={"chat": "/proxy/{model}/{method}"},
        auth=ProviderAuth(header_name="Authorization", header_prefix="Token"),
        extra_headers={"x-team": "a"},
    )
    proxied = WIRE.build(Operation.chat, body, custom, stream=True)
    assert proxied.url == f"{BASE}/proxy/gemini-2.0-flash/streamGenerateContent?alt=sse"
    assert proxied.headers == {"x-team": "a", "Authorization": "Token gm-secret", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "tool", "tool_call_id": "nobody", "content": "x"}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}],
        [{"role": "user", "content": [{"type": "video", "video": {}}]}],
        [{"role": "narrator", "content": "x"}],
        [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}],
    ],
)
def test_input_gemini_cannot_take_is_a_400(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(BadRequest):
        sent(Operation.chat, {"messages": messages})


def test_an_image_url_becomes_file_data() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    contents = sent(Operation.chat, {"messages": [{"role": "user", "content": [image]}]})["contents"]
    assert contents[0]["parts"] == [{"fileData": {"fileUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}}]


def test_embedding_requests() -> None:
    one = WIRE.build(
        Operation.embeddings, {"model": "m", "input": "hello", "dimensions": 4}, target("te-4"), stream=False
    )
    assert one.url == f"{BASE}/models/te-4:embedContent"
    assert orjson.loads(one.body or b"") == {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 4}
    body = {"model": "m", "input": ["a", "b"], "task_type": "RETRIEVAL_DOCUMENT"}
    several = WIRE.build(Operation.embeddings, body, target("te-4"), stream=False)
    assert several.url == f"{BASE}/models/te-4:batchEmbedContents"
    assert orjson.loads(several.body or b"") == {
        "requests": [
            {"model": "models/te-4", "content": {"parts": [{"text": "a"}]}, "taskType": "RETRIEVAL_DOCUMENT"},
            {"model": "models/te-4", "content": {"parts": [{"text": "b"}]}, "taskType": "RETRIEVAL_DOCUMENT"},
        ]
    }
    with pytest.raises(BadRequest):
        WIRE.build(Operation.embeddings, {"input": [[1, 2, 3]]}, target(), stream=False)


@pytest.mark.parametrize(
    "fields",
    [
        {"tools": [{"type": "function", "function": {"description": "no name"}}]},
        {"tools": [{"type": "web_search"}]},
        {"tool_choice": {"type": "function", "function": {}}},
        {"tool_choice": "sometimes"},
    ],
)
def test_tools_gemini_cannot_take_are_a_400(fields: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        sent(Operation.chat, {"messages": [{"role": "user", "content": "x"}], **fields})
