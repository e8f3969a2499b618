"""sentence-transformers itself, on the built-in model's folder: what the local runtime must match.

Loaded once per test session, with its own warnings silenced (deprecations inside torch and transformers are
not ours; the suite turns every other warning into an error).
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchyard.adapters.runtimes.sources import BUILTIN, parse_source

BUILTIN_URL = "local://all-minilm-l6-v2"
DIMENSION = BUILTIN["all-minilm-l6-v2"].dimension
COSINE_TOLERANCE = 1e-5

TEXTS = [
    "The cat sits on the mat.",
    "x",
    "Über naïve café — résumé, 東京, emoji 🙂 and UPPER case",
    "Switchyard routes every request to the right model. " * 60,  # beyond 256 tokens: truncated
    "A second sentence, about something else entirely, and longer than the first one by a fair margin.",
    "   leading and trailing spaces   ",
]


def folder_copy(parent: Path, name: str) -> Path:
    """The built-in model's folder under another path (its files linked, nothing copied). Named
    ``all-minilm-l6-v2``, it shares the built-in model's cached export (same name, same content)."""
    source = parse_source(BUILTIN_URL).folder
    copy = parent / name
    for path in source.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(source)).symlink_to(path)
    return copy


@cache
def _model() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(parse_source(BUILTIN_URL).folder), device="cpu")


def reference(texts: list[str]) -> npt.NDArray[np.float32]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vectors: npt.NDArray[np.float32] = _model().encode(texts, convert_to_numpy=True, show_progress_bar=False)
        return vectors


def reference_tokens(text: str) -> int:
    """Tokens sentence-transformers feeds the model for ``text`` (special tokens included, truncated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(_model().preprocess([text])["attention_mask"].sum())


def cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    result: npt.NDArray[np.float64] = (
        (a64 * b64).sum(axis=1) / np.linalg.norm(a64, axis=1) / np.linalg.norm(b64, axis=1)
    )
    return result


def assert_matches(vectors: npt.NDArray[np.float32], texts: list[str]) -> None:
    expected = reference(texts)
    assert vectors.shape == (len(texts), DIMENSION)
    worst = float((1 - cosines(vectors, expected)).max())
    assert worst <= COSINE_TOLERANCE, f"cosine distance to sentence-transformers {worst:.2e} > {COSINE_TOLERANCE}"
