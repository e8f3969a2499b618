"""The local wire format without a model: what it accepts, what it refuses (400 naming the field), and the
shape of its answer."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from switchyard.adapters.wire.local import MAX_INPUTS, LocalAdapter, check_dimensions, embedding_objects, texts_of
from switchyard.domain.gateway import Operation, WireFormat
from switchyard.errors import BadRequest
from tests.targets import make_target

LOCAL = make_target(WireFormat.local, "all-minilm-l6-v2", "local://all-minilm-l6-v2", api_key=None)


def test_texts_from_a_string_or_a_list() -> None:
    assert texts_of("hello") == ["hello"]
    assert texts_of(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([1, 2, 3], "Token-id arrays"),
        ([[1, 2], [3]], "Token-id arrays"),
        ([], "non-empty array"),
        (None, "non-empty array"),
        (["a", 1], "non-empty array"),
        ({"text": "a"}, "non-empty array"),
        ("", "empty string"),
        (["a", ""], "empty string (item 1)"),
        (["a"] * (MAX_INPUTS + 1), f"at most {MAX_INPUTS}"),
    ],
)
def test_bad_input_names_input(value: Any, words: str) -> None:
    with pytest.raises(BadRequest) as caught:
        texts_of(value)
    assert caught.value.param == "input" and words in caught.value.message


def test_dimensions_only_the_models_own() -> None:
    check_dimensions({}, 384)
    check_dimensions({"dimensions": 384}, 384)
    for wanted in (128, 0, True, "384"):
        with pytest.raises(BadRequest) as caught:
            check_dimensions({"dimensions": wanted}, 384)
        assert caught.value.param == "dimensions" and "384" in caught.value.message


def test_base64_is_little_endian_float32() -> None:
    vectors = np.array([[0.25, -1.5, 3.0], [1e-8, 0.0, -0.0]], dtype=np.float32)
    floats = embedding_objects(vectors, "float")
    encoded = embedding_objects(vectors, "base64")
    assert [o["index"] for o in encoded] == [0, 1] and all(o["object"] == "embedding" for o in encoded)
    for plain, packed, row in zip(floats, encoded, vectors, strict=True):
        decoded = np.frombuffer(base64.b64decode(packed["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, row) and plain["embedding"] == row.tolist()


async def test_input_is_checked_before_the_model_is_loaded() -> None:
    adapter = LocalAdapter()
    assert adapter.supports(Operation.embeddings) and not adapter.supports(Operation.chat)
    with pytest.raises(BadRequest) as caught:
        await adapter.invoke(Operation.embeddings, {"input": [[101, 102]]}, LOCAL)
    assert caught.value.param == "input"
    with pytest.raises(BadRequest) as caught:
        await adapter.invoke(Operation.embeddings, {"input": "hi", "encoding_format": "int8"}, LOCAL)
    assert caught.value.param == "encoding_format"
    with pytest.raises(BadRequest) as caught:
        adapter.build(Operation.embeddings, {"input": "hi"}, LOCAL, stream=True)
    assert caught.value.param == "stream"
