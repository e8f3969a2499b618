"""``switchyard chat``, ``embed`` and ``models list`` in-process, against a scripted server (``httpx``'s mock
transport): what they send, what they print, and that a streamed answer is printed as it arrives."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchyard.cli import config_store
from switchyard.cli.config_store import CliConfig, Context, CredentialKind
from tests.cli.conftest import Invoke

TOKENS = ["Hel", "lo", " there"]


@pytest.fixture
def one_context(cli_config: Path) -> Context:
    context = Context("test", "http://gateway.test:8080", "sy-token", CredentialKind.api_key, "a@x")
    config_store.save(CliConfig(current="test", contexts={"test": context}), cli_config)
    return context


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _delta(content: str) -> bytes:
    return _event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]})


class WatchedStream(httpx.SyncByteStream):
    """Sends events one at a time; before each, notes what the command had printed so far."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events
        self.printed_before: list[str] = []

    def __iter__(self) -> Iterator[bytes]:
        for event in self.events:
            self.printed_before.append(_printed_so_far())
            yield event


def _printed_so_far() -> str:
    buffer = getattr(sys.stdout, "buffer", None)  # the test runner's captured stdout
    return buffer.getvalue().decode() if buffer is not None and hasattr(buffer, "getvalue") else ""


def _streaming(events: list[bytes], sent: list[httpx.Request]) -> tuple[httpx.MockTransport, WatchedStream]:
    stream = WatchedStream(events)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    return httpx.MockTransport(handler), stream


def test_chat_prints_each_token_as_it_arrives(invoke: Invoke, one_context: Context) -> None:
    sent: list[httpx.Request] = []
    events = [_delta(token) for token in TOKENS] + [b"data: [DONE]\n\n"]
    transport, stream = _streaming(events, sent)
    result = invoke("chat", "gpt", "-p", "hi", "-s", "terse", "-t", "0.3", "-n", "9", transport=transport)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello there\n"
    assert stream.printed_before == ["", "Hel", "Hello", "Hello there"]  # nothing waited for the end
    request = sent[0]
    assert (request.url.path, request.headers["authorization"]) == ("/v1/chat/completions", "Bearer sy-token")
    assert json.loads(request.content) == {
        "model": "gpt",
        "messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "max_tokens": 9,
        "stream": True,
    }


def test_an_error_event_mid_stream_ends_the_line_and_prints_one_red_line(invoke: Invoke, one_context: Context) -> None:
    error = {"error": {"message": "The upstream stopped streaming.", "type": "timeout_error", "code": None}}
    transport, _ = _streaming([_delta("Hel"), _event(error), b"data: [DONE]\n\n"], [])
    result = invoke("chat", "gpt", "-p", "hi", transport=transport)
    assert result.exit_code == 1
    assert result.stdout == "Hel\n"
    assert result.stderr.strip() == "Error: The stream broke off: The upstream stopped streaming."


def test_chat_errors_before_the_stream_are_the_servers_message(invoke: Invoke, one_context: Context) -> None:
    body = {"error": {"message": "The model 'x' does not exist.", "type": "not_found_error", "code": "model_not_found"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json=body))
    result = invoke("chat", "x", "-p", "hi", transport=transport)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "Error (404): The model 'x' does not exist."


def test_chat_without_streaming_prints_the_whole_answer(invoke: Invoke, one_context: Context) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "Whole."}}]})

    result = invoke("chat", "gpt", "-p", "hi", "--no-stream", transport=httpx.MockTransport(handler))
    assert result.exit_code == 0 and result.stdout == "Whole.\n"
    assert "stream" not in json.loads(sent[0].content)


def test_embed_prints_dimensions_and_first_values(invoke: Invoke, one_context: Context) -> None:
    sent: list[httpx.Request] = []
    answer = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 0, "embedding": [0.1 * i for i in range(1, 8)]},
        ],
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(handler)
    result = invoke("embed", "emb", "--input", "a b", "-i", "c d", transport=transport)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "[0] 7 dimensions: [0.100000, 0.200000, 0.300000, 0.400000, 0.500000, …]",
        "[1] 2 dimensions: [0.500000, -0.250000]",
        "2 embeddings, 4 prompt tokens",
    ]
    assert json.loads(sent[0].content) == {"model": "emb", "input": ["a b", "c d"], "encoding_format": "float"}
    raw = invoke("embed", "emb", "--input", "a", "--json", transport=transport)
    assert json.loads(raw.stdout) == answer and json.loads(sent[1].content)["input"] == "a"


def test_models_list_is_a_table_of_what_v1_models_answers(invoke: Invoke, one_context: Context) -> None:
    models = {
        "object": "list",
        "data": [
            {
                "id": "gpt",
                "object": "model",
                "type": "text-generation",
                "aliases": ["g", "chat"],
                "context_length": 8192,
            },
            {
                "id": "emb",
                "object": "model",
                "type": "text-embeddings-inference",
                "aliases": [],
                "context_length": None,
            },
        ],
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=models))
    result = invoke("models", "list", transport=transport)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "gpt" in line or "emb" in line]
    assert [line.split() for line in rows] == [
        ["│", "gpt", "│", "text-generation", "│", "g,", "chat", "│", "8192", "│"],
        ["│", "emb", "│", "text-embeddings-inference", "│", "-", "│", "-", "│"],
    ]
    assert "CONTEXT LENGTH" in result.stdout and "2 models" in result.stdout


def test_inference_commands_need_a_credential(invoke: Invoke, cli_config: Path) -> None:
    result = invoke("chat", "gpt", "-p", "hi")
    assert result.exit_code == 1 and result.stderr.startswith("Error: No current context.")
