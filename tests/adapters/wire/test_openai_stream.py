"""OpenAI streams relayed: the events before the first that carries usage leave in one piece, as they came, and
whatever way the stream is cut into reads the client gets exactly what reading it event by event gives."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from switchyard.adapters.wire.base import Usage
from switchyard.adapters.wire.openai import OpenAIStream
from switchyard.adapters.wire.sse import EventSplitter


def chunk(content: str | None, *, usage: Any = "absent", finish: str | None = None) -> bytes:
    payload: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {} if content is None else {"content": content}, "finish_reason": finish}],
    }
    if usage != "absent":
        payload["usage"] = usage
    return b"data: " + orjson.dumps(payload) + b"\n\n"


USAGE = {"prompt_tokens": 7, "completion_tokens": 21, "total_tokens": 28}
WORDS = ["Hello", " there", ' "usage":{ in text', " [DONE] in text", "!"]


def openai_stream(words: list[str] = WORDS) -> bytes:
    """As OpenAI sends it once usage is asked for: ``"usage":null`` in every chunk, then a usage-only chunk."""
    events = [chunk(word, usage=None) for word in words] + [chunk(None, usage=None, finish="stop")]
    usage_only = b"data: " + orjson.dumps({"id": "chatcmpl-1", "choices": [], "usage": USAGE}) + b"\n\n"
    return b"".join(events) + usage_only + b"data: [DONE]\n\n"


def vllm_stream() -> bytes:
    """No usage field until the last chunk, which also has a choice; a comment and CRLF line ends."""
    events = [b": keep-alive\n\n"] + [chunk(word) for word in WORDS] + [chunk(None, usage=USAGE, finish="stop")]
    return b"".join(events).replace(b"\n", b"\r\n") + b"data: [DONE]\r\n\r\n"


def odd_stream() -> bytes:
    """Empty events between the others, and usage in the middle."""
    return chunk("a") + b"\n\n" + chunk("b", usage=USAGE) + b"   \n\n" + chunk("c") + b"data: [DONE]\n\n"


def one_by_one(stream: bytes, include_usage: bool) -> tuple[bytes, Usage | None, int]:
    """The reference: every event read on its own."""
    translator = OpenAIStream(include_usage)
    splitter = EventSplitter()
    out = [r for e in splitter.feed(stream) if (r := translator._relay(e)) is not None]
    return b"".join(out), translator.state.usage, translator.state.output_chunks


def relayed(stream: bytes, cuts: list[int], include_usage: bool) -> tuple[bytes, Usage | None, int]:
    translator = OpenAIStream(include_usage)
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    out = [event for piece in pieces for event in translator.feed(piece)] + translator.close()
    return b"".join(out), translator.state.usage, translator.state.output_chunks


@pytest.mark.parametrize("stream", [openai_stream(), vllm_stream(), odd_stream()], ids=["openai", "vllm", "odd"])
@pytest.mark.parametrize("include_usage", [True, False])
def test_any_cut_into_reads_gives_what_reading_event_by_event_gives(stream: bytes, include_usage: bool) -> None:
    expected = one_by_one(stream, include_usage)
    assert expected[1] == Usage(prompt_tokens=7, completion_tokens=21)
    assert relayed(stream, [], include_usage) == expected
    for cut in range(1, len(stream)):
        assert relayed(stream, [cut], include_usage) == expected, cut
    rng = random.Random(5)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(2, 12)))
        assert relayed(stream, cuts, include_usage) == expected, cuts


def test_events_before_the_usage_leave_in_one_piece_as_they_came() -> None:
    words = [f" word{i}" for i in range(20)] + [' "usage":{ in text']
    stream = openai_stream(words)
    translator = OpenAIStream(include_usage=False)
    out = translator.feed(stream)
    plain = stream[: stream.index(b'data: {"id":"chatcmpl-1","choices":[]')]
    assert out == [plain]  # the usage-only chunk dropped (not asked for), [DONE] left to the front door
    assert translator.state.output_chunks == len(words) + 1
    assert translator.state.usage == Usage(prompt_tokens=7, completion_tokens=21)


def test_usage_asked_for_is_relayed_and_stripped_from_a_chunk_with_choices_otherwise() -> None:
    stream = vllm_stream()
    asked = b"".join(OpenAIStream(include_usage=True).feed(stream))
    assert asked.count(b'"usage":{') == 1
    last = b"".join(OpenAIStream(include_usage=False).feed(stream)).split(b"\n\n")[-2]
    assert b"usage" not in last and orjson.loads(last[len(b"data: ") :])["choices"][0]["finish_reason"] == "stop"
