"""The built-in embedding model through a real ``switchyard serve``, with the official openai SDK; the ONNX
export made once for processes that need it together, and reused when a server starts again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai

from tests.adapters.runtimes.reference import DIMENSION, TEXTS, assert_matches
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD
from tests.e2e.conftest import ServerProcess, StartServer, server_environment

MODEL = "all-minilm-l6-v2"
FIRST_REQUEST_LIMIT = 600.0
"""The first request waits for the export (10–60 s, depending on the machine's load)."""


def sdk(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(api_key=ADMIN_KEY, base_url=f"{server.url}/v1", max_retries=0, timeout=FIRST_REQUEST_LIMIT)


def environment(models_dir: Path) -> dict[str, str]:
    return server_environment(
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
        SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SWITCHYARD_MODELS_DIR=str(models_dir),
        SWITCHYARD_BUILTIN_EMBEDDINGS="true",
    )


def embed(server: ServerProcess, texts: list[str]) -> np.ndarray:
    with sdk(server) as client:
        answer = client.embeddings.create(model=MODEL, input=texts)
    return np.array([d.embedding for d in answer.data], dtype=np.float32)


def test_a_fresh_server_serves_the_builtin_model(
    switchyard_server_factory: StartServer, tmp_path: Path, local_models_dir: Path
) -> None:
    server = switchyard_server_factory(tmp_path / "data", environment(local_models_dir))
    with sdk(server) as client:
        assert MODEL in [m.id for m in client.models.list().data]
        answer = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
        with ThreadPoolExecutor(8) as pool:  # concurrent clients, each its own answer
            singles = list(pool.map(lambda t: client.embeddings.create(model=MODEL, input=t), TEXTS))
    vectors = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert vectors.shape == (len(TEXTS), DIMENSION) and answer.model == MODEL
    assert_matches(vectors, TEXTS)
    assert_matches(np.array([s.data[0].embedding for s in singles], dtype=np.float32), TEXTS)
    assert answer.usage.prompt_tokens > len(TEXTS)


def test_the_export_is_made_once_and_reused_after_a_restart(
    switchyard_server_factory: StartServer, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"  # empty: the first requests export
    env = environment(models_dir)
    first = switchyard_server_factory(tmp_path / "a", env)
    second = switchyard_server_factory(tmp_path / "b", env)
    with ThreadPoolExecutor(2) as pool:  # both need the model at once: one exports, the other waits for it
        a, b = pool.map(lambda server: embed(server, ["the same sentence"]), [first, second])
    assert np.array_equal(a, b)
    exports = sorted(models_dir.iterdir())
    assert [p.name for p in exports if p.is_dir()] == [p.name for p in exports if p.name.startswith(MODEL)]
    (export,) = [p for p in exports if p.is_dir()]  # one export, no unfinished work folder left behind
    made = (export / "model.onnx").stat()

    first.stop()
    again = switchyard_server_factory(tmp_path / "a", env)  # the same installation, started again
    assert np.array_equal(embed(again, ["the same sentence"]), a)
    assert [p for p in models_dir.iterdir() if p.is_dir()] == [export]
    now = (export / "model.onnx").stat()
    assert (now.st_ino, now.st_mtime_ns) == (made.st_ino, made.st_mtime_ns)  # not exported again
