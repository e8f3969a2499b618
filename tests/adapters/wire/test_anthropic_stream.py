"""Golden tests: Anthropic's message stream, recorded by hand, in as OpenAI chunks out."""

from __future__ import annotations

import pytest

from switchyard.adapters.wire.anthropic.stream import AnthropicStream
from switchyard.adapters.wire.base import Usage
from switchyard.errors import RateLimited, UpstreamError

UPSTREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":25,"cache_creation_input_tokens":4,"cache_read_input_tokens":10,"output_tokens":1}}}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n'
    b"\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" now \xc3\xa9."}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01A",'
    b'"name":"get_weather","input":{}}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"city\\": \\"Pa"}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ris\\"}"}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":1}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01B",'
    b'"name":"get_time","input":{}}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":2}\n'
    b"\n"
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"output_tokens":42}}\n'
    b"\n"
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n'
    b"\n"
)
HEAD = (
    b'data: {"id":"msg_01XFDUDYJgAACzvnptvVoYEL","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"claude-sonnet-4-5",'
)
CHOICE = b'"choices":[{"index":0,"delta":'
EXPECTED = [
    HEAD + CHOICE + b'{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD + CHOICE + b'{"content":"Checking"},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD + CHOICE + b'{"content":" now \xc3\xa9."},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD
    + CHOICE
    + b'{"tool_calls":[{"index":0,"id":"toolu_01A","type":"function","function":{"name":"get_weather",'
    + b'"arguments":""}}]},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD
    + CHOICE
    + b'{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\": \\"Pa"}}]},"finish_reason":null,'
    + b'"logprobs":null}]}\n\n',
    HEAD
    + CHOICE
    + b'{"tool_calls":[{"index":0,"function":{"arguments":"ris\\"}"}}]},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD
    + CHOICE
    + b'{"tool_calls":[{"index":1,"id":"toolu_01B","type":"function","function":{"name":"get_time",'
    + b'"arguments":""}}]},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD
    + CHOICE
    + b'{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"finish_reason":null,"logprobs":null}]}\n\n',
    HEAD + CHOICE + b'{},"finish_reason":"tool_calls","logprobs":null}]}\n\n',
]
USAGE_CHUNK = (
    HEAD + b'"choices":[],"usage":{"prompt_tokens":39,"completion_tokens":42,"total_tokens":81,'
    b'"prompt_tokens_details":{"cached_tokens":10}}}\n\n'
)
FINAL_USAGE = Usage(prompt_tokens=39, completion_tokens=42, cached_tokens=10)


def run(translator: AnthropicStream, upstream: bytes, size: int) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, len(upstream), size):
        out += translator.feed(upstream[start : start + size])
    return out + translator.close()


@pytest.mark.parametrize("size", [len(UPSTREAM), 1, 2, 7, 64, 333])
def test_golden_stream_at_any_chunk_boundary(size: int) -> None:
    translator = AnthropicStream(include_usage=True, created=1_700_000_000)
    assert run(translator, UPSTREAM, size) == [*EXPECTED, USAGE_CHUNK]
    assert translator.state.usage == FINAL_USAGE
    assert translator.state.finish_reason == "tool_calls"
    assert translator.state.output_chunks == len(EXPECTED)


def test_crlf_line_endings_and_no_usage_chunk_unless_asked() -> None:
    translator = AnthropicStream(include_usage=False, created=1_700_000_000)
    assert run(translator, UPSTREAM.replace(b"\n", b"\r\n"), 5) == EXPECTED
    assert translator.state.usage == FINAL_USAGE  # still recorded for the gateway


def test_input_usage_is_known_from_message_start() -> None:
    translator = AnthropicStream(include_usage=True, created=1_700_000_000)
    translator.feed(UPSTREAM[: UPSTREAM.index(b"event: content_block_start")])
    assert translator.state.usage == Usage(prompt_tokens=39, completion_tokens=1, cached_tokens=10)


STOP_SEQUENCE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant",'
    b'"model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text",'
    b'"text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":"One, two"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"stop_sequence",'
    b'"stop_sequence":", three"},"usage":{"input_tokens":3,"cache_read_input_tokens":0,"output_tokens":4}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_stop_sequence_is_a_stop() -> None:
    translator = AnthropicStream(include_usage=False, created=1)
    out = run(translator, STOP_SEQUENCE, 10)
    head = b'data: {"id":"msg_2","object":"chat.completion.chunk","created":1,"model":"claude-haiku-4-5",' + CHOICE
    assert out == [
        head + b'{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}\n\n',
        head + b'{"content":"One, two"},"finish_reason":null,"logprobs":null}]}\n\n',
        head + b'{},"finish_reason":"stop","logprobs":null}]}\n\n',
    ]
    assert translator.state.usage == Usage(prompt_tokens=3, completion_tokens=4)


ERROR_EVENT = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'


def test_an_error_event_after_output_is_raised_once_that_output_is_sent() -> None:
    translator = AnthropicStream(include_usage=True, created=1_700_000_000)
    cut = UPSTREAM.index(b"event: content_block_stop")
    out = translator.feed(UPSTREAM[:cut] + ERROR_EVENT)
    assert out == EXPECTED[:3]
    with pytest.raises(UpstreamError) as failed:
        translator.close()
    assert "Overloaded" in failed.value.message and failed.value.retryable


def test_an_error_event_alone_is_raised_at_once() -> None:
    translator = AnthropicStream(include_usage=True)
    limited = b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}\n\n'
    with pytest.raises(RateLimited):
        translator.feed(limited)


def test_a_stream_that_ends_before_message_stop_is_an_error() -> None:
    translator = AnthropicStream(include_usage=True, created=1_700_000_000)
    cut = UPSTREAM.index(b"event: message_delta")
    assert translator.feed(UPSTREAM[:cut]) == EXPECTED[:-1]
    with pytest.raises(UpstreamError) as failed:
        translator.close()
    assert failed.value.code == "upstream_truncated"


def test_an_event_that_is_not_json_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        AnthropicStream(include_usage=True).feed(b"event: message_start\ndata: {nope\n\n")
