"""Tensors as the Open Inference Protocol (V2) names them, independent of the wire and of the runtime.

A ``Tensor`` holds a numpy array in its *storage* dtype: the natural one for every datatype but two —
``BF16`` is kept as its raw 16 bits (``uint16``, numpy has no bfloat16) and ``BYTES`` as an object array of
``bytes``. ``DATATYPES`` is the table every layer shares: the HTTP codec, the runtime and the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Kind(StrEnum):
    """How a datatype's elements read in JSON."""

    boolean = "boolean"
    integer = "integer"
    floating = "floating"
    bfloat16 = "bfloat16"
    text = "text"


@dataclass(frozen=True, slots=True)
class Datatype:
    name: str
    storage: np.dtype[Any]
    """The dtype of a ``Tensor.array`` of this datatype (``uint16`` for BF16, ``object`` for BYTES)."""
    kind: Kind

    @property
    def itemsize(self) -> int | None:
        """Bytes per element in the binary tensor format; None for BYTES (length-prefixed)."""
        return None if self.kind is Kind.text else self.storage.itemsize

    @property
    def little_endian(self) -> np.dtype[Any]:
        return self.storage.newbyteorder("<")


def _datatype(name: str, storage: Any, kind: Kind) -> Datatype:
    return Datatype(name, np.dtype(storage), kind)


DATATYPES: dict[str, Datatype] = {
    d.name: d
    for d in (
        _datatype("BOOL", np.bool_, Kind.boolean),
        _datatype("UINT8", np.uint8, Kind.integer),
        _datatype("UINT16", np.uint16, Kind.integer),
        _datatype("UINT32", np.uint32, Kind.integer),
        _datatype("UINT64", np.uint64, Kind.integer),
        _datatype("INT8", np.int8, Kind.integer),
        _datatype("INT16", np.int16, Kind.integer),
        _datatype("INT32", np.int32, Kind.integer),
        _datatype("INT64", np.int64, Kind.integer),
        _datatype("FP16", np.float16, Kind.floating),
        _datatype("FP32", np.float32, Kind.floating),
        _datatype("FP64", np.float64, Kind.floating),
        _datatype("BF16", np.uint16, Kind.bfloat16),
        _datatype("BYTES", np.object_, Kind.text),
    )
}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A model's input or output: its datatype and shape, ``-1`` for a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray[Any, Any] = field(repr=False)
    """Elements in row-major order, in the datatype's storage dtype, shaped ``shape``."""


@dataclass(frozen=True, slots=True)
class TensorRequest:
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...] | None = None
    """The outputs asked for, in order; None for every output of the model."""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class TensorResponse:
    model_name: str
    model_version: str
    outputs: tuple[Tensor, ...]
    id: str | None = None


def bfloat16_bits(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """float32 values → bfloat16 bits (round to nearest even; NaN stays NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(values)
    if nan.any():
        rounded[nan] = 0x7FC0
    return rounded


def bfloat16_values(bits: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """bfloat16 bits → float32 values (exact)."""
    return (np.ascontiguousarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)
