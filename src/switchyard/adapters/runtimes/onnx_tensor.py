"""An ONNX model served in-process by onnxruntime, speaking ``domain.tensors``.

``OnnxTensorModel.load(directory, threads)`` finds the model file (the ``onnx`` flavor of an MLflow model
directory, or the one ``*.onnx`` file there), opens an ``InferenceSession`` on the CPU with ``threads``
intra-op threads that sleep rather than spin when idle, and reads the inputs and outputs from the graph
(datatypes in V2 names, ``-1`` for dynamic dimensions). Outputs that are not tensors (scikit-learn's ZipMap
``seq(map(…))``) are left out; an input that is not a tensor makes the model unservable.

``run`` blocks: call it from a worker thread, never on the event loop. onnxruntime's Python API has no numpy
type for bfloat16, so a model with a BF16 tensor is run through ``OrtValue``s holding the raw bits.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

from switchyard.domain.tensors import Tensor, TensorSpec
from switchyard.errors import BadRequest

log = logging.getLogger(__name__)

PLATFORM = "onnxruntime_onnx"
ONNX_BFLOAT16 = 16
"""``onnx.TensorProto.BFLOAT16``."""

ORT_TYPES: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(bfloat16)": "BF16",
    "tensor(string)": "BYTES",
}


class ModelLoadError(Exception):
    """The model's files cannot be served: missing, unreadable, or with inputs V2 cannot express."""


def find_model_file(directory: Path) -> Path:
    """The ONNX file of an MLflow model directory (its ``MLmodel`` names it), or the one ``*.onnx`` file."""
    if directory.is_file() and directory.suffix == ".onnx":
        return directory
    mlmodel = directory / "MLmodel"
    if mlmodel.is_file():
        try:
            flavors = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors") or {}
        except yaml.YAMLError as exc:
            raise ModelLoadError(f"The model's MLmodel file is not valid YAML: {exc}") from None
        onnx_flavor = flavors.get("onnx") if isinstance(flavors, dict) else None
        if not isinstance(onnx_flavor, dict) or not isinstance(onnx_flavor.get("data"), str):
            names = ", ".join(sorted(flavors)) if isinstance(flavors, dict) else "none"
            raise ModelLoadError(f"The model is not an ONNX model (its MLmodel flavors: {names}).")
        path: Path = (directory / str(onnx_flavor["data"])).resolve()
        if not path.is_relative_to(directory.resolve()) or not path.is_file():
            raise ModelLoadError(f"The model's ONNX file '{onnx_flavor['data']}' is missing.")
        return path
    candidates: list[Path] = sorted(directory.glob("*.onnx"))
    if len(candidates) != 1:
        found = "no" if not candidates else f"{len(candidates)}"
        raise ModelLoadError(f"The model directory has no MLmodel file and {found} .onnx files (expected one).")
    return candidates[0]


def _shape(dimensions: Sequence[Any]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in dimensions)


@dataclass(frozen=True)
class OnnxTensorModel:
    session: ort.InferenceSession
    path: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    skipped_outputs: tuple[str, ...]
    """Outputs of the graph that are not tensors, hence not served."""
    platform: str = PLATFORM

    @classmethod
    def load(cls, directory: Path, threads: int) -> OnnxTensorModel:
        path = find_model_file(directory)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes (Fail, InvalidGraph, NoSuchFile…)
            raise ModelLoadError(f"onnxruntime cannot load {path.name}: {exc}") from None
        inputs = []
        for node in session.get_inputs():
            datatype = ORT_TYPES.get(node.type)
            if datatype is None:
                raise ModelLoadError(f"Input '{node.name}' is a {node.type}; only tensor inputs can be served.")
            inputs.append(TensorSpec(node.name, datatype, _shape(node.shape)))
        datatypes = {spec.datatype for spec in inputs}
        if {"BF16", "BYTES"} <= datatypes:
            raise ModelLoadError("onnxruntime's Python API cannot feed BF16 and string inputs to one model.")
        outputs, skipped = [], []
        for node in session.get_outputs():
            datatype = ORT_TYPES.get(node.type)
            if datatype is None:
                skipped.append(node.name)
            else:
                outputs.append(TensorSpec(node.name, datatype, _shape(node.shape)))
        if not outputs:
            raise ModelLoadError("The model has no tensor outputs to serve.")
        return cls(session, path, tuple(inputs), tuple(outputs), tuple(skipped))

    @property
    def uses_bfloat16(self) -> bool:
        return any(spec.datatype == "BF16" for spec in (*self.inputs, *self.outputs))

    def run(self, inputs: Mapping[str, Tensor], outputs: Sequence[str]) -> list[np.ndarray[Any, Any]]:
        """The named outputs, in the datatypes' storage dtypes. ``inputs`` were checked against ``self.inputs``;
        onnxruntime's own refusals (a shape a node cannot take) are the caller's bad input."""
        try:
            if self.uses_bfloat16:
                return self._run_with_ort_values(inputs, outputs)
            feeds = {name: _feed(tensor) for name, tensor in inputs.items()}
            return [_stored(value) for value in self.session.run(list(outputs), feeds)]
        except BadRequest:
            raise
        except Exception as exc:  # InvalidArgument, Fail, RuntimeException from the runtime's kernels
            raise BadRequest(f"The model cannot run on this input: {_runtime_message(exc)}") from None

    def _run_with_ort_values(self, inputs: Mapping[str, Tensor], outputs: Sequence[str]) -> list[np.ndarray[Any, Any]]:
        feeds = {}
        for name, tensor in inputs.items():  # no BYTES input here: load refuses such models
            if tensor.datatype == "BF16":
                feeds[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                    np.ascontiguousarray(tensor.array), ONNX_BFLOAT16
                )
            else:
                feeds[name] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(tensor.array))
        datatypes = {spec.name: spec.datatype for spec in self.outputs}
        values = self.session.run_with_ort_values(list(outputs), feeds)
        return [
            _bfloat16_bits(value) if datatypes[name] == "BF16" else _stored(value.numpy())
            for name, value in zip(outputs, values, strict=True)
        ]


def _feed(tensor: Tensor) -> np.ndarray[Any, Any]:
    if tensor.datatype != "BYTES":
        return tensor.array
    try:
        texts = [element.decode("utf-8") for element in tensor.array.ravel()]
    except UnicodeDecodeError:
        raise BadRequest(f"Input '{tensor.name}': BYTES elements must be UTF-8 text for an ONNX model.") from None
    return np.array(texts, dtype=np.object_).reshape(tensor.array.shape)


def _stored(value: Any) -> np.ndarray[Any, Any]:
    array = np.asarray(value)
    if array.dtype.kind in ("U", "O"):  # string outputs: text → UTF-8 bytes
        encoded = [str(element).encode("utf-8") for element in array.ravel()]
        result = np.empty(len(encoded), dtype=np.object_)
        result[:] = encoded
        return result.reshape(array.shape)
    return np.ascontiguousarray(array)


def _bfloat16_bits(value: ort.OrtValue) -> np.ndarray[Any, Any]:
    size = value.tensor_size_in_bytes()
    raw = bytes((ctypes.c_char * size).from_address(value.data_ptr())) if size else b""
    return np.frombuffer(raw, dtype="<u2").astype(np.uint16).reshape(value.shape())


def _runtime_message(exc: Exception) -> str:
    text = str(exc).strip()
    for marker in ("INVALID_ARGUMENT : ", "FAIL : ", "RUNTIME_EXCEPTION : "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:1000] or type(exc).__name__
