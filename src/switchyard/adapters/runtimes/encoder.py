"""An exported sentence-transformers model run with onnxruntime, tokenizers and numpy — no torch.

``encode`` is synchronous and CPU-bound: callers run it in a thread (see ``local_model.py``). Texts are
tokenized together, sorted by length and run in chunks of similar length (up to ``CHUNK_TOKENS`` padded tokens
each), so a batch of short texts is not padded to its longest one and each run's tensors stay small.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from switchyard.adapters.runtimes.export_layout import MODEL_FILE, TOKENIZER_FILE, ExportInfo

CHUNK_TOKENS = 256
"""Most padded tokens in one run of the model (rows × longest row; one row at least). Measured on all-MiniLM-L6-v2,
one thread, batches of 32: 256 gives ~170 sentences per CPU-second for 8–30 words (4096: ~130) and ~33 for
8–200 words (4096: ~21) — small runs stay in cache."""

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Encoded:
    vectors: Vectors
    """One row per text, in the order given."""
    tokens: list[int]
    """Tokens the model read per text (special tokens included, after truncation)."""


class OnnxEncoder:
    def __init__(self, folder: Path, *, threads: int = 0) -> None:
        self.info = ExportInfo.read(folder)
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        padding = tokenizer.padding or {}
        self._pad_id = int(padding.get("pad_id", 0))
        self._pad_type_id = int(padding.get("pad_type_id", 0))
        self._pad_left = padding.get("direction") == "left"
        tokenizer.no_padding()  # chunks are padded here, each to its own longest text
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep, not spin
        self._session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    @property
    def dimension(self) -> int:
        return self.info.dimension

    def tokenize(self, texts: list[str]) -> list[Encoding]:
        prompt, lowercase = self.info.prompt, self.info.lowercase
        prepared = [prompt + (text.lower() if lowercase else text) for text in texts]
        return self._tokenizer.encode_batch(prepared, add_special_tokens=True)

    def encode(self, texts: list[str]) -> Encoded:
        encodings = self.tokenize(texts)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors = np.empty((len(texts), self.info.dimension), dtype=np.float32)
        start = 0
        while start < len(order):
            longest = lengths[order[start]]
            end = start + 1
            while end < len(order) and (end - start + 1) * max(longest, lengths[order[end]]) <= CHUNK_TOKENS:
                longest = max(longest, lengths[order[end]])
                end += 1
            rows = order[start:end]
            vectors[rows] = self._run([encodings[i] for i in rows], longest)
            start = end
        return Encoded(vectors=vectors, tokens=lengths)

    def _run(self, encodings: list[Encoding], width: int) -> Vectors:
        shape = (len(encodings), width)
        feeds: dict[str, Any] = {
            "input_ids": np.full(shape, self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros(shape, dtype=np.int64),
            "token_type_ids": np.full(shape, self._pad_type_id, dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            span = slice(width - n, width) if self._pad_left else slice(0, n)
            feeds["input_ids"][row, span] = encoding.ids
            feeds["attention_mask"][row, span] = encoding.attention_mask
            feeds["token_type_ids"][row, span] = encoding.type_ids
        outputs = self._session.run(None, {name: feeds[name] for name in self.info.inputs})
        result: Vectors = np.asarray(outputs[0], dtype=np.float32)
        return result
