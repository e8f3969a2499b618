"""Reading the usage of a relayed answer in each provider's words, whole or streamed in arbitrary pieces."""

from __future__ import annotations

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.services.governance.usage_sniff import MAX_BODY_BYTES, UsageSniffer

SSE = "text/event-stream; charset=utf-8"


def sse(*events: object, separator: bytes = b"\n\n") -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + separator for e in events) + b"data: [DONE]" + separator


def sniff(content_type: str | None, body: bytes, piece: int) -> Usage | None:
    sniffer = UsageSniffer(content_type)
    for start in range(0, len(body), piece):
        sniffer.feed(body[start : start + piece])
    return sniffer.usage()


OPENAI_CHAT = {
    "choices": [{"message": {"content": "hi"}}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 6, "prompt_tokens_details": {"cached_tokens": 3}},
}
RESPONSES_STREAM = sse(
    {"type": "response.created", "response": {"usage": None}},
    {"type": "response.output_text.delta", "delta": "usage of words"},
    {"type": "response.completed", "response": {"usage": {"input_tokens": 9, "output_tokens": 4}}},
)
ANTHROPIC_STREAM = sse(
    {
        "type": "message_start",
        "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 3, "output_tokens": 1}},
    },
    {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hello"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}},
)
GEMINI_STREAM = sse(
    {"candidates": [{"content": {"parts": [{"text": "a"}]}}], "usageMetadata": {"promptTokenCount": 11}},
    {
        "candidates": [{"content": {"parts": [{"text": "b"}]}}],
        "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 6, "cachedContentTokenCount": 3},
    },
    separator=b"\r\n\r\n",
)
COHERE = {"text": "x", "meta": {"billed_units": {"input_tokens": 8, "output_tokens": 2}}}
BEDROCK = {"output": {}, "usage": {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17}}


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", orjson.dumps(OPENAI_CHAT), Usage(11, 6, 3)),
        (SSE, RESPONSES_STREAM, Usage(9, 4, 0)),
        (SSE, ANTHROPIC_STREAM, Usage(5, 7, 3)),
        ("text/event-stream", GEMINI_STREAM, Usage(11, 6, 3)),
        ("application/json", orjson.dumps(COHERE), Usage(8, 2, 0)),
        (None, orjson.dumps(BEDROCK), Usage(12, 5, 0)),
    ],
    ids=["openai", "responses-stream", "anthropic-stream", "gemini-stream-crlf", "cohere", "bedrock"],
)
def test_usage_is_read_in_every_dialect_however_the_bytes_are_cut(
    content_type: str | None, body: bytes, expected: Usage, piece: int
) -> None:
    assert sniff(content_type, body, piece) == expected


def test_an_answer_without_usage_says_so() -> None:
    assert sniff("application/json", b'{"object": "list", "data": []}', 5) is None
    assert sniff("application/json", b"not json", 5) is None
    assert sniff("audio/mpeg", b"ID3\x00\x01", 5) is None
    transcription = {"text": "x", "usage": {"type": "duration", "seconds": 3}}  # seconds are not tokens
    assert sniff("application/json", orjson.dumps(transcription), 5) is None


def test_a_last_event_without_its_blank_line_is_still_read() -> None:
    body = b'data: {"usage": {"prompt_tokens": 2, "completion_tokens": 1}}'
    assert sniff(SSE, body, 4) == Usage(2, 1, 0)


def test_a_body_over_the_limit_is_not_kept() -> None:
    sniffer = UsageSniffer("application/json")
    sniffer.feed(b'{"usage": {"prompt_tokens": 1}, "pad": "' + b"x" * MAX_BODY_BYTES)
    sniffer.feed(b'"}')
    assert sniffer.usage() is None
