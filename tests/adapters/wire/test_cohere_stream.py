"""Golden tests: Cohere v2 chat streams (recorded by hand from Cohere's documented events) into OpenAI chunks,
whole and split at arbitrary byte boundaries."""

from __future__ import annotations

import random

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.cohere.stream import CohereStream
from switchyard.errors import UpstreamError, UpstreamTimeout
from tests.adapters.wire.provider_targets import split_every

CREATED = 1_730_000_000
ID = "c14c80c3-18eb-4519-9460-6c92edd8cfb4"

TEXT_STREAM = (
    b"event: message-start\n"
    b'data: {"id":"' + ID.encode() + b'","type":"message-start","delta":{"message":{"role":"assistant",'
    b'"content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}\n\n'
    b"event: content-start\n"
    b'data: {"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}\n\n'
    b"event: content-delta\n"
    b'data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Bonjour"}}}}\n\n'
    b"event: content-delta\n"
    b'data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" \xc3\xa0 tous"}}}}\n\n'
    b"event: content-end\n"
    b'data: {"type":"content-end","index":0}\n\n'
    b"event: message-end\n"
    b'data: {"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":'
    b'{"input_tokens":5,"output_tokens":3},"tokens":{"input_tokens":71,"output_tokens":3},"cached_tokens":64}}}\n\n'
)

TOOL_STREAM = (
    b"event: message-start\n"
    b'data: {"id":"run_7","type":"message-start","delta":{"message":{"role":"assistant","content":[],'
    b'"tool_plan":"","tool_calls":[],"citations":[]}}}\n\n'
    b"event: tool-plan-delta\n"
    b'data: {"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will check"}}}\n\n'
    b"event: tool-call-start\n"
    b'data: {"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"get_weather_a1",'
    b'"type":"function","function":{"name":"get_weather","arguments":""}}}}}\n\n'
    b"event: tool-call-delta\n"
    b'data: {"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":'
    b'{"arguments":"{\\"city\\": "}}}}}\n\n'
    b"event: tool-call-delta\n"
    b'data: {"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":'
    b'{"arguments":"\\"Paris\\"}"}}}}}\n\n'
    b"event: tool-call-end\n"
    b'data: {"type":"tool-call-end","index":0}\n\n'
    b"event: tool-call-start\n"
    b'data: {"type":"tool-call-start","index":1,"delta":{"message":{"tool_calls":{"id":"get_time_b2",'
    b'"type":"function","function":{"name":"get_time","arguments":"{}"}}}}}\n\n'
    b"event: tool-call-end\n"
    b'data: {"type":"tool-call-end","index":1}\n\n'
    b"event: message-end\n"
    b'data: {"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":'
    b'{"input_tokens":30,"output_tokens":20},"tokens":{"input_tokens":40,"output_tokens":20}}}}\n\n'
)


def chunk(chunk_id: str, delta: dict[str, object], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    payload = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "command-a-03-2025",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


TEXT_EVENTS = [
    chunk(ID, {"role": "assistant", "content": ""}),
    chunk(ID, {"content": "Bonjour"}),
    chunk(ID, {"content": " à tous"}),
    chunk(ID, {}, "stop"),
]
TEXT_USAGE = {
    "id": ID,
    "object": "chat.completion.chunk",
    "created": CREATED,
    "model": "command-a-03-2025",
    "choices": [],
    "usage": {
        "prompt_tokens": 71,
        "completion_tokens": 3,
        "total_tokens": 74,
        "prompt_tokens_details": {"cached_tokens": 64},
    },
}
TOOL_EVENTS = [
    chunk("run_7", {"role": "assistant", "content": ""}),
    chunk("run_7", {"content": "I will check"}),
    chunk(
        "run_7",
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "get_weather_a1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
    ),
    chunk("run_7", {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk("run_7", {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk(
        "run_7",
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "get_time_b2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ]
        },
    ),
    chunk("run_7", {}, "tool_calls"),
]


def run(pieces: list[bytes], *, include_usage: bool = False) -> tuple[list[bytes], CohereStream]:
    stream = CohereStream("command-a-03-2025", include_usage, created=CREATED)
    out: list[bytes] = []
    for piece in pieces:
        out += stream.feed(piece)
    out += stream.close()
    return out, stream


def random_pieces(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 25))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("size", [len(TEXT_STREAM), 1, 7, 64])
def test_text_stream(size: int) -> None:
    out, stream = run(split_every(TEXT_STREAM, size))
    assert out == TEXT_EVENTS
    assert stream.state.usage == Usage(prompt_tokens=71, completion_tokens=3, cached_tokens=64)
    assert stream.state.finish_reason == "stop" and stream.state.output_chunks == 2


@pytest.mark.parametrize("seed", range(5))
def test_text_stream_split_anywhere_with_usage_asked(seed: int) -> None:
    out, _ = run(random_pieces(TEXT_STREAM, seed), include_usage=True)
    assert out == [*TEXT_EVENTS, b"data: " + orjson.dumps(TEXT_USAGE) + b"\n\n"]


@pytest.mark.parametrize("size", [len(TOOL_STREAM), 1, 13])
def test_tool_call_stream(size: int) -> None:
    out, stream = run(split_every(TOOL_STREAM, size))
    assert out == TOOL_EVENTS
    assert stream.state.usage == Usage(prompt_tokens=40, completion_tokens=20)
    assert stream.state.finish_reason == "tool_calls"


def test_crlf_line_endings_and_a_trailing_done_marker() -> None:
    out, _ = run([TEXT_STREAM.replace(b"\n", b"\r\n") + b"data: [DONE]\r\n\r\n"])
    assert out == TEXT_EVENTS


def test_events_without_event_lines_and_unknown_events_pass_quietly() -> None:
    data = b"".join(line + b"\n" for line in TEXT_STREAM.split(b"\n") if not line.startswith(b"event:"))
    noise = b'event: citation-start\ndata: {"type":"citation-start","index":0,"delta":{}}\n\n'
    noise += b'event: debug\ndata: {"type":"debug","prompt":"..."}\n\n'
    out, _ = run([noise, data])
    assert out == TEXT_EVENTS


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("MAX_TOKENS", "length"), ("STOP_SEQUENCE", "stop"), ("CONTENT_BLOCKED", "content_filter"), ("complete", "stop")],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    data = TEXT_STREAM.replace(b'"finish_reason":"COMPLETE"', b'"finish_reason":"' + reason.encode() + b'"')
    out, stream = run([data])
    assert out[-1] == chunk(ID, {}, expected) and stream.state.finish_reason == expected


def test_a_generation_error_ends_the_stream_after_what_came_before() -> None:
    data = TEXT_STREAM.replace(
        b'"finish_reason":"COMPLETE"', b'"finish_reason":"ERROR","error":"model overloaded mid-generation"'
    )
    stream = CohereStream("command-a-03-2025", False, created=CREATED)
    assert stream.feed(data) == TEXT_EVENTS[:3]
    with pytest.raises(UpstreamError, match="model overloaded mid-generation"):
        stream.close()
    assert stream.state.usage == Usage(prompt_tokens=71, completion_tokens=3, cached_tokens=64)


def test_a_timeout_finish_is_an_upstream_timeout() -> None:
    stream = CohereStream("command-a-03-2025", False, created=CREATED)
    stream.feed(TEXT_STREAM.replace(b'"finish_reason":"COMPLETE"', b'"finish_reason":"TIMEOUT"'))
    with pytest.raises(UpstreamTimeout):
        stream.close()


def test_a_stream_that_stops_before_message_end_fails() -> None:
    cut = TEXT_STREAM.index(b"event: message-end")
    stream = CohereStream("command-a-03-2025", False, created=CREATED)
    assert stream.feed(TEXT_STREAM[:cut]) == TEXT_EVENTS[:3]
    with pytest.raises(UpstreamError, match="ended before"):
        stream.close()


def test_a_broken_event_with_nothing_before_it_fails_the_stream_at_once() -> None:
    stream = CohereStream("command-a-03-2025", False, created=CREATED)
    with pytest.raises(UpstreamError, match="not JSON"):
        stream.feed(b'event: content-delta\ndata: {"type": "content-delta", \n\n')


def test_the_last_event_without_its_blank_line_is_still_read() -> None:
    out, _ = run([TEXT_STREAM.rstrip(b"\n")])
    assert out == TEXT_EVENTS


def test_thinking_deltas_become_reasoning_content() -> None:
    thinking = (
        b'event: content-delta\ndata: {"type":"content-delta","index":0,'
        b'"delta":{"message":{"content":{"thinking":"Let me think."}}}}\n\n'
    )
    cut = TEXT_STREAM.index(b"event: content-delta")
    out, _ = run([TEXT_STREAM[:cut] + thinking + TEXT_STREAM[cut:]])
    assert out == [TEXT_EVENTS[0], chunk(ID, {"reasoning_content": "Let me think."}), *TEXT_EVENTS[1:]]
