"""Local models: a sentence-transformers folder served in this process.

``LocalModels.get(url)`` gives the one ``LocalModel`` of a folder (by its ``base_url``). A model loads on its
first request — the ONNX export from the cache, or made once (``export_cache``) — and the requests that arrive
meanwhile wait for it. Loading and every inference run in the model's own worker thread, never on the event
loop; concurrent requests are batched (``batcher``). A load that failed is tried again by the next request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from switchyard.adapters.runtimes.batcher import MicroBatcher
from switchyard.adapters.runtimes.encoder import Encoded, OnnxEncoder
from switchyard.adapters.runtimes.export_cache import ensure_export
from switchyard.adapters.runtimes.sources import ModelSource, parse_source

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    models_dir: Path
    """Where exports are cached."""
    max_batch: int = 64
    """Most inputs run together."""
    batch_wait: float = 0.002
    """Longest a request waits for others to join its batch (seconds)."""
    threads: int = 0
    """onnxruntime's intra-op threads per model; 0 lets it choose (one per core)."""


class LocalModel:
    def __init__(self, source: ModelSource, config: RuntimeConfig) -> None:
        self.source = source
        self.config = config
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"switchyard-{source.name}")
        self._loading: Future[OnnxEncoder] | None = None
        self._lock = threading.Lock()
        self._batcher: MicroBatcher | None = None

    async def encoder(self) -> OnnxEncoder:
        """The loaded model; the first call loads it (in the worker thread), concurrent calls wait for it."""
        with self._lock:
            loading = self._loading
            if loading is None or loading.cancelled() or (loading.done() and loading.exception() is not None):
                loading = self._loading = self._worker.submit(self._load)
        # shielded: a caller that goes away must not cancel the load the others wait for
        return await asyncio.shield(asyncio.wrap_future(loading))

    def _load(self) -> OnnxEncoder:
        source = parse_source(self.source.url)  # the folder may have changed or gone since the provider was saved
        folder = ensure_export(source.folder, source.name, self.config.models_dir)
        encoder = OnnxEncoder(folder, threads=self.config.threads)
        log.info("local model %s ready (%s, %d dimensions)", source.url, folder, encoder.dimension)
        return encoder

    async def encode(self, texts: list[str]) -> Encoded:
        encoder = await self.encoder()
        return await self.batcher(encoder).encode(texts)

    def batcher(self, encoder: OnnxEncoder) -> MicroBatcher:
        """The batcher of the running event loop (one per loop; a process normally has one)."""
        batcher = self._batcher
        if batcher is None or batcher.loop is not asyncio.get_running_loop():
            batcher = self._batcher = MicroBatcher(
                encoder.encode, self._worker, max_inputs=self.config.max_batch, max_wait=self.config.batch_wait
            )
        return batcher

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


class LocalModels:
    """The local models of this process, by source URL, with the configuration they are made with."""

    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self._config = config
        self._models: dict[str, LocalModel] = {}
        self._lock = threading.Lock()

    def configure(self, config: RuntimeConfig) -> None:
        """Models made from now on use ``config``; a changed configuration drops the models made before."""
        with self._lock:
            if config == self._config:
                return
            self._config = config
            dropped, self._models = list(self._models.values()), {}
        for model in dropped:
            model.close()

    def get(self, url: str) -> LocalModel:
        """Raises ``SourceError`` for a URL that names no model folder."""
        with self._lock:
            model = self._models.get(url)
            if model is not None:
                return model
            if self._config is None:
                raise RuntimeError("local models are not configured (switchyard.adapters.runtimes.configure)")
            source = parse_source(url)
            model = self._models[url] = LocalModel(source, self._config)
            return model


MODELS = LocalModels()
"""The process's local models; configured at start (``services/bootstrap.py``)."""


def configure(config: RuntimeConfig) -> None:
    MODELS.configure(config)
