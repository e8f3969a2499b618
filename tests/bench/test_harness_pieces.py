"""The benchmark's own pieces, so that they cannot rot unnoticed: the mock upstream and the bare proxy, run
in-process and driven by the official openai SDK; the answer checks; wrk's summary parsing; the report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
import uvicorn

from bench import bare_proxy, checks, load, mock_upstream, processes, report


@pytest.fixture
async def proxy_url() -> AsyncIterator[str]:
    """The bare proxy in front of the mock upstream, both on this test's event loop."""
    mock = await mock_upstream.start("127.0.0.1", 0)
    mock_port = mock.sockets[0].getsockname()[1]
    port = processes.free_port()
    server = uvicorn.Server(bare_proxy.config(f"http://127.0.0.1:{mock_port}", "127.0.0.1", port))
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(5):
            await serving
        mock.close()
        await mock.wait_closed()


async def test_chat_through_the_bare_proxy(proxy_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key="sk-bench")
    completion = await client.chat.completions.create(model="bench-chat", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == " ".join(f"token{i}" for i in range(mock_upstream.STREAM_CHUNKS))
    assert completion.usage is not None and completion.usage.total_tokens == 32
    await client.close()


async def test_stream_through_the_bare_proxy_has_every_chunk_and_usage_when_asked(proxy_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key="sk-bench")
    stream = await client.chat.completions.create(
        model="bench-chat",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) == mock_upstream.STREAM_CHUNKS
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == mock_upstream.STREAM_CHUNKS
    plain = await client.chat.completions.create(
        model="bench-chat", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert [chunk.usage async for chunk in plain if chunk.usage is not None] == []
    await client.close()


async def test_embeddings_through_the_bare_proxy(proxy_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key="sk-bench")
    answer = await client.embeddings.create(model="bench-embed", input=["one", "two", "three"])
    assert [len(item.embedding) for item in answer.data] == [mock_upstream.EMBEDDING_SIZE] * 3
    await client.close()


async def test_the_checks_accept_the_mock_and_refuse_a_cut_stream(proxy_url: str) -> None:
    async with httpx.AsyncClient(base_url=proxy_url) as http:
        for workload in load.WORKLOADS.values():
            response = await http.post(workload.path, content=workload.body_for("bench"))
            checks.check_answer(workload, response.status_code, response.text)
        stream = load.WORKLOADS["stream"]
        text = (await http.post(stream.path, content=stream.body_for("bench"))).text
        missing = await http.post("/v1/nowhere", content=b"{}")
    events = text.split("\n\n")
    with pytest.raises(processes.BenchError, match="19 content chunks"):
        checks.check_answer(stream, 200, "\n\n".join(e for e in events if "token3" not in e))
    with pytest.raises(processes.BenchError, match="did not end"):
        checks.check_answer(stream, 200, "\n\n".join(events[:5]))
    with pytest.raises(processes.BenchError, match="status 404"):
        checks.check_answer(load.WORKLOADS["chat"], missing.status_code, missing.text)


def _measurement(stack: str, workload: str, concurrency: int, rps: float, p50: float, p99: float) -> load.Measurement:
    return load.Measurement(
        stack, workload, concurrency, 15.0, int(rps * 15), {"status": 0}, rps, {"p50": p50, "p99": p99}, 100.0, 10.0
    )


def test_wrk_summary_and_report() -> None:
    line = (
        'BENCH_JSON {"requests":10,"duration_us":1000000,"bytes":5,"errors":{"connect":0,"read":0,"write":0,'
        '"status":1,"timeout":0},"latency_us":{"min":1,"mean":2.0,"max":3,"p50":2,"p90":3,"p99":3,"p999":3}}'
    )
    assert load.parse_wrk("Running 1s test\n" + line + "\n")["errors"]["status"] == 1
    results = report.Results(
        [
            _measurement("direct", "chat", 1, 40_000, 20, 90),
            _measurement("bare", "chat", 16, 7_000, 2_000, 4_000),
            _measurement("switchyard-sqlite", "chat", 1, 2_000, 500, 3_000),
            _measurement("switchyard-sqlite", "chat", 16, 3_000, 5_000, 9_000),
            _measurement("switchyard-sqlite", load.BUILTIN.name, 4, 10, 90_000, 99_000),
        ]
    )
    rows = {(row[0], row[2]): row for row in report.target_rows(results)}
    throughput = rows[("throughput ≥ 50 % of the bare proxy, c=16", "chat")]
    assert throughput[3] == "43 % (by CPU: 100 %)" and throughput[4] is False
    assert rows[("latency added over direct, c=1: p50 ≤ 0.6 ms", "chat")][3:] == ("0.48 ms", True)
    assert rows[("latency added over direct, c=1: p99 ≤ 2 ms", "chat")][3:] == ("2.91 ms", False)
    text = report.summary(results, title="t", preamble=[], stack_notes={}, failures={"litellm": "did not install"})
    assert "| switchyard-sqlite | 16 | 3,000 |" in text and "**litellm**: not measured — did not install" in text
    assert "| switchyard-sqlite | 4 | 10.0 | 160 |" in text  # sentences/s of the built-in model
    assert "| chat | 4 |" not in text  # its concurrency is not one of the shared workloads
