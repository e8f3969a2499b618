"""Before a stack is measured, one request per workload checks that it answers what the mock sent: a measured
throughput of error answers, or of streams cut short, would be worthless."""

from __future__ import annotations

import json

import httpx

from bench.load import Workload
from bench.mock_upstream import EMBEDDING_SIZE, STREAM_CHUNKS
from bench.processes import BenchError


def _events(text: str) -> list[str]:
    return [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]


def check_answer(workload: Workload, status: int, text: str) -> None:
    """Raises ``BenchError`` unless the answer is a complete, successful one for ``workload``."""
    if status != 200:
        raise BenchError(f"{workload.name}: status {status}: {text[:500]}")
    if workload.body.get("stream"):
        events = _events(text)
        if not events or events[-1] != "[DONE]":
            raise BenchError(f"{workload.name}: the stream did not end with [DONE]: {text[-500:]}")
        chunks = [json.loads(event) for event in events[:-1]]
        if any("error" in chunk for chunk in chunks):
            raise BenchError(f"{workload.name}: the stream carried an error: {text[-500:]}")
        content = [c for c in chunks if c.get("choices") and c["choices"][0].get("delta", {}).get("content")]
        if len(content) < STREAM_CHUNKS:
            raise BenchError(f"{workload.name}: {len(content)} content chunks instead of {STREAM_CHUNKS}")
        return
    data = json.loads(text)
    if workload.path.endswith("/embeddings"):
        inputs = workload.body["input"]
        expected = len(inputs) if isinstance(inputs, list) else 1
        sizes = [len(item["embedding"]) for item in data["data"]]
        if sizes != [EMBEDDING_SIZE] * expected:
            raise BenchError(f"{workload.name}: expected {expected} vectors of {EMBEDDING_SIZE}, got sizes {sizes}")
    elif not data["choices"][0]["message"]["content"] or "usage" not in data:
        raise BenchError(f"{workload.name}: no content or no usage in {text[:500]}")


def check_stack(url: str, authorization: str, models: dict[str, str], workloads: list[Workload]) -> None:
    with httpx.Client(timeout=60, headers={"Authorization": authorization}) as http:
        for workload in workloads:
            response = http.post(
                url + workload.path,
                content=workload.body_for(models[workload.model_kind]),
                headers={"Content-Type": "application/json"},
            )
            check_answer(workload, response.status_code, response.text)
