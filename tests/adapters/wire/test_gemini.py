"""The gemini wire format: whole answers, errors, embeddings answers, and golden stream translations."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.gemini.stream import GeminiStream
from switchyard.domain.gateway import Operation
from switchyard.errors import RateLimited, UpstreamError, UpstreamRejected, UpstreamUnavailable
from tests.adapters.wire.gemini_targets import WIRE, ids, target

# --- whole answers --------------------------------------------------------------------------------------------


def answer(data: dict[str, Any]) -> tuple[dict[str, Any], Usage | None]:
    result = WIRE.answer(Operation.chat, 200, orjson.dumps(data), target(), {})
    assert result.data is not None
    return result.data, result.usage


def test_a_text_answer_with_usage() -> None:
    data, usage = answer(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Thinking…", "thought": True}, {"text": "Hi!"}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 10,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 5,
                "cachedContentTokenCount": 4,
                "totalTokenCount": 17,
            },
            "modelVersion": "gemini-2.5-flash",
            "responseId": "r1",
        }
    )
    assert data["id"] == "chatcmpl-r1" and data["object"] == "chat.completion" and data["model"] == "gemini-2.5-flash"
    assert data["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi!", "reasoning_content": "Thinking…"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert data["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert usage == Usage(prompt_tokens=10, completion_tokens=7, cached_tokens=4, reasoning_tokens=5)


def test_a_function_call_answer() -> None:
    data, _ = answer(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) > 10 and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert "usage" not in data


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    data, _ = answer({"candidates": [{"finishReason": reason, "index": 0}]})
    assert data["choices"][0]["finish_reason"] == expected
    assert data["choices"][0]["message"] == {"role": "assistant", "content": ""}


def test_a_blocked_prompt_and_several_candidates() -> None:
    blocked, _ = answer({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}})
    assert blocked["choices"][0]["finish_reason"] == "content_filter"
    several, _ = answer(
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
                {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1},
            ]
        }
    )
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in several["choices"]] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]


def test_a_broken_answer_is_a_502() -> None:
    with pytest.raises(UpstreamError):
        WIRE.answer(Operation.chat, 200, b"<html>", target(), {})


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, UpstreamRejected, "INVALID_ARGUMENT"),
        (429, RateLimited, "RESOURCE_EXHAUSTED"),
        (500, UpstreamError, "bad_gateway"),
        (503, UpstreamUnavailable, "service_unavailable"),
    ],
)
def test_errors(status: int, kind: type[Exception], code: str) -> None:
    names = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    payload = orjson.dumps({"error": {"code": status, "message": "Nope.", "status": names[status]}})
    error = WIRE.error(status, payload)
    assert type(error) is kind and error.code == code and "Nope." in error.message
    assert error.status == (status if status != 500 else 502)
    assert WIRE.error(502, b"Bad Gateway").message.endswith("Bad Gateway")


# --- streams (golden) -----------------------------------------------------------------------------------------


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0, model: str = "gemini-2.0-flash") -> Any:
    return {
        "id": "chatcmpl-resp-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


TEXT_STREAM = b"".join(
    [
        event(
            {
                "candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
                "modelVersion": "gemini-2.0-flash",
                "responseId": "resp-1",
            }
        ),
        event(
            {
                "candidates": [
                    {"content": {"parts": [{"text": "lo, "}, {"text": "world"}], "role": "model"}, "index": 0}
                ],
                "modelVersion": "gemini-2.0-flash",
                "responseId": "resp-1",
            }
        ),
        event(
            {
                "candidates": [
                    {"content": {"parts": [{"text": "!"}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {
                    "promptTokenCount": 9,
                    "candidatesTokenCount": 4,
                    "cachedContentTokenCount": 2,
                    "totalTokenCount": 13,
                },
                "modelVersion": "gemini-2.0-flash",
                "responseId": "resp-1",
            }
        ),
    ]
)
TEXT_EXPECTED = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo, world"}),
    chunk({"content": "!"}),
    chunk({}, "stop"),
]
TEXT_USAGE = {
    "id": "chatcmpl-resp-1",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "gemini-2.0-flash",
    "choices": [],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 4,
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 2},
    },
}


def run(upstream: bytes, pieces: list[int], *, include_usage: bool = True) -> tuple[list[Any], GeminiStream]:
    """Feeds ``upstream`` cut at ``pieces`` (offsets); every event out must be a whole ``data:`` event."""
    stream = GeminiStream("fallback-model", include_usage, created=1_700_000_000, new_id=ids())
    out: list[bytes] = []
    edges = [0, *pieces, len(upstream)]
    for start, end in zip(edges, edges[1:], strict=False):
        out += stream.feed(upstream[start:end])
    out += stream.close()
    for raw in out:
        assert raw.startswith(b"data: ") and raw.endswith(b"\n\n") and raw.count(b"\n\n") == 1
    return [orjson.loads(raw[6:]) for raw in out], stream


def test_text_stream_whole() -> None:
    events, stream = run(TEXT_STREAM, [])
    assert events == [*TEXT_EXPECTED, TEXT_USAGE]
    assert stream.state.usage == Usage(prompt_tokens=9, completion_tokens=4, cached_tokens=2)
    assert stream.state.finish_reason == "stop" and stream.state.output_chunks == 3


def test_text_stream_cut_at_every_byte() -> None:
    for cut in range(1, len(TEXT_STREAM)):
        assert run(TEXT_STREAM, [cut])[0] == [*TEXT_EXPECTED, TEXT_USAGE], cut
    assert run(TEXT_STREAM, list(range(1, len(TEXT_STREAM))))[0] == [*TEXT_EXPECTED, TEXT_USAGE]


def test_text_stream_without_usage_asked_still_records_it() -> None:
    events, stream = run(TEXT_STREAM.replace(b"\r\n", b"\n"), [17, 200, 201], include_usage=False)
    assert events == TEXT_EXPECTED
    assert stream.state.usage is not None and stream.state.usage.total_tokens == 13


TOOL_STREAM = event(
    {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Let me check."},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "s1"},
                        {"functionCall": {"name": "get_time", "args": {}}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 8, "totalTokenCount": 28},
        "responseId": "resp-1",
    }
)


def test_tool_call_stream() -> None:
    events, stream = run(TOOL_STREAM, [5, 60, 61, 180], include_usage=False)
    model = "fallback-model"
    weather = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        "extra_content": {"google": {"thought_signature": "s1"}},
    }
    clock = {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    assert events == [
        chunk({"role": "assistant", "content": ""}, model=model),
        chunk({"content": "Let me check."}, model=model),
        chunk({"tool_calls": [weather]}, model=model),
        chunk({"tool_calls": [clock]}, model=model),
        chunk({}, "tool_calls", model=model),
    ]
    assert stream.state.finish_reason == "tool_calls"


def test_thoughts_and_max_tokens_stream() -> None:
    upstream = event(
        {
            "candidates": [{"content": {"parts": [{"text": "Hmm.", "thought": True}]}, "index": 0}],
            "responseId": "resp-1",
            "modelVersion": "gemini-2.5-pro",
        }
    ) + event(
        {
            "candidates": [{"content": {"parts": [{"text": "Once upon"}]}, "finishReason": "MAX_TOKENS", "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "thoughtsTokenCount": 6},
            "responseId": "resp-1",
        }
    )
    events, stream = run(upstream, [40], include_usage=False)
    model = "gemini-2.5-pro"
    assert events == [
        chunk({"role": "assistant", "content": ""}, model=model),
        chunk({"reasoning_content": "Hmm."}, model=model),
        chunk({"content": "Once upon"}, model=model),
        chunk({}, "length", model=model),
    ]
    assert stream.state.usage == Usage(prompt_tokens=3, completion_tokens=8, reasoning_tokens=6)


def test_safety_stop_and_blocked_prompt_streams() -> None:
    safety = event({"candidates": [{"finishReason": "SAFETY", "index": 0}], "responseId": "resp-1"})
    events, _ = run(safety, [], include_usage=False)
    assert [e["choices"][0]["finish_reason"] for e in events] == [None, "content_filter"]
    blocked = event({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "resp-1"})
    events, stream = run(blocked, [], include_usage=False)
    assert [e["choices"][0] for e in events][-1]["finish_reason"] == "content_filter"
    assert stream.state.finish_reason == "content_filter"


def test_two_candidates_stream() -> None:
    upstream = event(
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}]}, "index": 0},
                {"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP", "index": 1},
            ],
            "responseId": "resp-1",
        }
    )
    events, _ = run(upstream, [], include_usage=False)
    assert [(e["choices"][0]["index"], e["choices"][0]["delta"], e["choices"][0]["finish_reason"]) for e in events] == [
        (0, {"role": "assistant", "content": ""}, None),
        (0, {"content": "a"}, None),
        (1, {"role": "assistant", "content": ""}, None),
        (1, {"content": "b"}, None),
        (1, {}, "stop"),
    ]


def test_an_error_event_or_garbage_mid_stream_raises() -> None:
    stream = GeminiStream("m", True)
    with pytest.raises(UpstreamUnavailable, match="overloaded"):
        stream.feed(event({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))
    with pytest.raises(UpstreamError):
        GeminiStream("m", True).feed(b"data: {not json\r\n\r\n")


def test_an_error_event_after_others_in_one_read_comes_after_them() -> None:
    """What the read held before the error still reaches the client; the error ends the stream next."""
    stream = GeminiStream("m", True, created=1_700_000_000, new_id=ids())
    first = TEXT_STREAM[: TEXT_STREAM.index(b"data: ", 1)]
    overloaded = event({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    out = stream.feed(first + overloaded)
    assert [orjson.loads(raw[6:])["choices"][0]["delta"] for raw in out] == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
    ]
    with pytest.raises(UpstreamUnavailable, match="overloaded"):
        stream.close()


def test_embedding_answers_as_floats_and_base64() -> None:
    at = target("te-4")
    batch_body = {"input": ["one two three", "four"]}
    WIRE.build(Operation.embeddings, batch_body, at, stream=False)
    batch = WIRE.answer(
        Operation.embeddings,
        200,
        orjson.dumps({"embeddings": [{"values": [0.5, 1]}, {"values": [2.0]}]}),
        at,
        batch_body,
    )
    assert batch.data == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, 1.0]},
            {"object": "embedding", "index": 1, "embedding": [2.0]},
        ],
        "model": "te-4",
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }
    assert batch.usage == Usage(prompt_tokens=5)
    single_body = {"input": "x", "encoding_format": "base64"}
    WIRE.build(Operation.embeddings, single_body, at, stream=False)
    single = WIRE.answer(
        Operation.embeddings, 200, orjson.dumps({"embedding": {"values": [0.25, -1.5]}}), at, single_body
    )
    assert single.data is not None
    encoded = single.data["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(encoded)) == (0.25, -1.5)


def test_supports_chat_and_embeddings_only() -> None:
    assert [op for op in Operation if WIRE.supports(op)] == [Operation.chat, Operation.embeddings]
