"""The local runtime on the built-in model: the same vectors as sentence-transformers, concurrent requests
batched, inference off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from switchyard.adapters.runtimes.local_model import LocalModels, RuntimeConfig
from switchyard.adapters.runtimes.sources import SourceError
from tests.adapters.runtimes.reference import BUILTIN_URL, TEXTS, assert_matches, folder_copy, reference_tokens


@pytest.fixture
def models(local_models_dir: Path) -> Iterator[LocalModels]:
    models = LocalModels(RuntimeConfig(models_dir=local_models_dir, max_batch=8, batch_wait=0.002, threads=1))
    yield models
    models.configure(RuntimeConfig(models_dir=local_models_dir))  # closes the worker threads


async def test_vectors_match_sentence_transformers(models: LocalModels) -> None:
    model = models.get(BUILTIN_URL)
    together = await model.encode(TEXTS)
    assert_matches(together.vectors, TEXTS)
    one_by_one = np.concatenate([(await model.encode([text])).vectors for text in TEXTS])
    assert_matches(one_by_one, TEXTS)
    assert together.tokens == [reference_tokens(text) for text in TEXTS]
    assert max(together.tokens) == 256  # the long text was truncated to the model's maximum


async def test_concurrent_requests_share_batches(models: LocalModels) -> None:
    model = models.get(BUILTIN_URL)
    encoder = await model.encoder()
    texts = [f"request number {i} asks about {'trains' if i % 2 else 'boats'}" for i in range(30)]
    results = await asyncio.gather(*(model.encode([text]) for text in texts))
    batches = list(model.batcher(encoder).batches)
    assert sum(batches) == 30 and max(batches) == 8  # gathered, up to max_batch inputs per run
    assert len(batches) == 4
    assert_matches(np.concatenate([r.vectors for r in results]), texts)  # each request got its own vector


async def test_a_request_larger_than_a_batch_runs_whole(models: LocalModels) -> None:
    model = models.get(BUILTIN_URL)
    texts = [f"sentence {i}" for i in range(20)]
    encoded = await model.encode(texts)
    assert encoded.vectors.shape == (20, 384)
    assert model.batcher(await model.encoder()).batches[-1] == 20


async def test_inference_does_not_block_the_event_loop(models: LocalModels) -> None:
    model = models.get(BUILTIN_URL)
    await model.encoder()
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    began = time.perf_counter()
    await model.encode(["a long sentence to keep the model busy for a while " * 20] * 64)
    busy = time.perf_counter() - began
    ticker.cancel()
    assert busy > 0.3, "the batch ran too fast to tell"
    assert max(gaps) < busy / 3, f"the event loop stalled {max(gaps):.3f} s while inference took {busy:.3f} s"


async def test_a_cancelled_request_is_left_out(models: LocalModels) -> None:
    model = models.get(BUILTIN_URL)
    encoder = await model.encoder()
    first = asyncio.create_task(model.encode(["kept"]))
    gone = asyncio.create_task(model.encode(["cancelled while waiting"]))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await first).vectors.shape == (1, 384)
    assert list(model.batcher(encoder).batches)[-1] == 1


async def test_a_failed_load_is_tried_again(models: LocalModels, tmp_path: Path) -> None:
    folder = folder_copy(tmp_path, "all-minilm-l6-v2")
    model = models.get(f"file://{folder}")
    moved = folder.rename(tmp_path / "elsewhere")
    with pytest.raises(SourceError, match="not a folder"):
        await model.encoder()
    moved.rename(folder)
    assert_matches((await model.encode(["back again"])).vectors, ["back again"])
