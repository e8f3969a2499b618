"""The gateway end to end: the real ``switchyard serve`` process (configured through its management API over
HTTP) in front of the session's mock upstream, driven by the official ``openai`` SDK, sync and async, and by the
real ``switchyard`` CLI — ``chat``, ``embed``, ``models list``, ``providers test`` and the dev proxy."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import Gateway, free_port, server_environment, switchyard_executable, unique
from tests.mock_upstream.openai_dialect import WORDS, vector

HELLO = [{"role": "user", "content": "hi"}]
ANSWER = "".join(WORDS)
STALL = 2.0
"""The mock's pause after a ``stall`` model's first chunk."""
COMMAND_LIMIT = 60.0
PROXY_LIMIT = 15.0

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sdk(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key=ADMIN_KEY, base_url=gateway.v1, max_retries=0, timeout=30)


@pytest.fixture
def cli(tmp_path: Path, gateway: Gateway) -> Cli:
    """``cli(*args)``: the installed ``switchyard``, logged in to the gateway as the admin; bounded."""
    env = server_environment(SWITCHYARD_CLI_CONFIG=str(tmp_path / "cli" / "config.json"))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(switchyard_executable()), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_LIMIT,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, f"switchyard {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    run("login", gateway.server.url, "--api-key", ADMIN_KEY, "--context", "e2e")
    return run


def test_sync_sdk_chat_stream_and_embeddings(gateway: Gateway, sdk: openai.OpenAI) -> None:
    upstream = unique("e2e-sync")
    gateway.add_model("chat-sync", upstream)
    gateway.add_model("embed-sync", unique("e2e-embed"), model_type="text-embeddings-inference")

    completion = sdk.chat.completions.create(model="chat-sync", messages=HELLO, max_tokens=20)
    assert completion.choices[0].message.content == ANSWER
    assert completion.usage is not None and completion.usage.total_tokens == 17
    sent = gateway.upstream.received(model=upstream)[-1]
    assert sent.body["max_tokens"] == 20 and sent.headers["Authorization"] == "Bearer sk-e2e-upstream-secret"

    stream = sdk.chat.completions.create(
        model="chat-sync-alias", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 11

    embedded = sdk.embeddings.create(model="embed-sync", input=["one", "two"], encoding_format="float")
    assert [item.embedding for item in embedded.data] == [vector("one"), vector("two")]

    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=HELLO)


async def test_async_sdk_chat_and_stream(gateway: Gateway) -> None:
    gateway.add_model("chat-async", unique("e2e-async"))
    sdk = openai.AsyncOpenAI(api_key=ADMIN_KEY, base_url=gateway.v1, max_retries=0, timeout=30)
    async with sdk:
        completion = await sdk.chat.completions.create(model="chat-async", messages=HELLO)
        assert completion.choices[0].message.content == ANSWER
        stream = await sdk.chat.completions.create(model="chat-async", messages=HELLO, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == ANSWER


def test_sync_stream_chunks_arrive_as_they_are_produced(gateway: Gateway, sdk: openai.OpenAI) -> None:
    gateway.add_model("chat-stall", unique("e2e-stall"))
    began = time.monotonic()
    stream = sdk.chat.completions.create(model="chat-stall", messages=HELLO, stream=True)
    arrivals, text = [], ""
    for chunk in stream:
        arrivals.append(time.monotonic())
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text == ANSWER
    assert arrivals[0] - began < STALL / 2  # the first chunk was not held back until the stream ended
    assert arrivals[-1] - arrivals[0] >= STALL * 0.75


async def test_async_stream_chunks_arrive_as_they_are_produced(gateway: Gateway) -> None:
    gateway.add_model("chat-stall-async", unique("e2e-stall-async"))
    sdk = openai.AsyncOpenAI(api_key=ADMIN_KEY, base_url=gateway.v1, max_retries=0, timeout=30)
    async with sdk:
        began = time.monotonic()
        stream = await sdk.chat.completions.create(model="chat-stall-async", messages=HELLO, stream=True)
        arrivals = [time.monotonic() async for _ in stream]
    assert arrivals[0] - began < STALL / 2
    assert arrivals[-1] - arrivals[0] >= STALL * 0.75


def test_a_client_that_hangs_up_mid_stream_cancels_the_upstream_request(gateway: Gateway, sdk: openai.OpenAI) -> None:
    upstream = unique("e2e-stall-hangup")
    gateway.add_model("chat-hangup", upstream)
    stream = sdk.chat.completions.create(model="chat-hangup", messages=HELLO, stream=True)
    next(iter(stream))  # the first chunk: the upstream is now stalling, its request in flight
    stream.close()
    hung_up = time.monotonic()

    deadline = hung_up + STALL + 1.0
    while not gateway.upstream.closed_by_peer(upstream) and time.monotonic() < deadline:
        time.sleep(0.02)
    closed = gateway.upstream.closed_by_peer(upstream)
    assert closed, "the upstream's stream was never closed by the gateway"
    assert closed[0].at - hung_up < 1.0  # noticed during the stall, not when it ended
    assert sdk.chat.completions.create(model="chat-hangup", messages=HELLO).choices  # the gateway carries on


def test_cli_chat_embed_models_and_provider_test(gateway: Gateway, cli: Cli) -> None:
    provider = gateway.add_model("chat-cli", unique("e2e-cli"))
    gateway.add_model("embed-cli", unique("e2e-cli-embed"), model_type="text-embeddings-inference")

    streamed = cli("chat", "chat-cli", "-p", "hello", "-s", "be brief", "-t", "0.5", "-n", "32")
    assert streamed.stdout == ANSWER + "\n"
    whole = cli("chat", "chat-cli-alias", "--prompt", "hello", "--no-stream")
    assert whole.stdout == ANSWER + "\n"
    sent = gateway.upstream.received(model=provider["upstream_model"])
    assert sent[0].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert (sent[0].body["temperature"], sent[0].body["max_tokens"], sent[0].body["stream"]) == (0.5, 32, True)
    missing = cli("chat", "nope", "-p", "hello", check=False)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.startswith("Error (404): The model 'nope' does not exist")

    embedded = cli("embed", "embed-cli", "--input", "one", "--input", "two")
    lines = embedded.stdout.splitlines()
    first = ", ".join(f"{value:.6f}" for value in vector("one")[:5])
    assert lines[0] == f"[0] 8 dimensions: [{first}, …]" and lines[1].startswith("[1] 8 dimensions: [")
    raw = json.loads(cli("embed", "embed-cli", "--input", "one", "--json").stdout)
    assert raw["data"][0]["embedding"] == vector("one")

    listed = json.loads(cli("models", "list", "--json").stdout)
    assert {m["id"] for m in listed["data"]} == {"chat-cli", "embed-cli"}
    table = cli("models", "list").stdout
    assert "CONTEXT LENGTH" in table and "chat-cli-alias" in table and "8192" in table

    tested = cli("providers", "test", str(provider["id"]))
    assert tested.stdout.startswith(f"Provider {provider['id']} answered chat in ")
    broken = gateway.add_model("chat-broken", unique("e2e-cli-fail-500"))
    failed = cli("providers", "test", "chat-broken-provider", check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"Error: Provider {broken['id']} failed the chat test after ")
    assert "(HTTP 500): The upstream failed (500): mock failure 500" in failed.stderr


def test_dev_proxy_adds_the_credential_and_streams(gateway: Gateway, cli: Cli, tmp_path: Path) -> None:
    gateway.add_model("chat-proxy", unique("e2e-proxy-stall"))
    hangup = unique("e2e-proxy-stall-hangup")
    gateway.add_model("chat-proxy-hangup", hangup)
    port = free_port()
    log = tmp_path / "proxy.log"
    env = server_environment(SWITCHYARD_CLI_CONFIG=str(tmp_path / "cli" / "config.json"))
    with log.open("wb") as sink:
        proxy = subprocess.Popen(
            [str(switchyard_executable()), "proxy", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        local = f"http://127.0.0.1:{port}"
        _wait_for(proxy, local, log)
        assert f"Proxying {local} to {gateway.server.url} as context 'e2e'" in log.read_text()

        keyless = httpx.get(f"{local}/v1/models", timeout=10)  # no credential at all
        assert keyless.status_code == 200
        assert {m["id"] for m in keyless.json()["data"]} == {"chat-proxy", "chat-proxy-hangup"}

        sdk = openai.OpenAI(api_key="not-a-real-key", base_url=f"{local}/v1", max_retries=0, timeout=30)
        completion = sdk.chat.completions.create(model="chat-proxy", messages=HELLO)
        assert completion.choices[0].message.content == ANSWER

        began = time.monotonic()
        arrivals = [
            time.monotonic() for _ in sdk.chat.completions.create(model="chat-proxy", messages=HELLO, stream=True)
        ]
        assert arrivals[0] - began < STALL / 2 and arrivals[-1] - arrivals[0] >= STALL * 0.75

        stream = sdk.chat.completions.create(model="chat-proxy-hangup", messages=HELLO, stream=True)
        next(iter(stream))
        stream.close()  # hanging up on the proxy hangs up on the server, which hangs up on the upstream
        hung_up = time.monotonic()
        while not gateway.upstream.closed_by_peer(hangup) and time.monotonic() < hung_up + STALL + 1.0:
            time.sleep(0.02)
        closed = gateway.upstream.closed_by_peer(hangup)
        assert closed and closed[0].at - hung_up < 1.0

        proxy.send_signal(signal.SIGINT)
        assert proxy.wait(timeout=PROXY_LIMIT) == 0
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait(timeout=PROXY_LIMIT)


def _wait_for(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + PROXY_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the proxy exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"{url}/health/live", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"the proxy did not listen within {PROXY_LIMIT} s:\n{log.read_text()}")
