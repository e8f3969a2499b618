"""ONNX models the tests build themselves (no weights from a hub): graphs that pass every datatype through,
and a tiny scikit-learn classifier on iris converted with skl2onnx (ZipMap off, opset 17)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

ONNX_TYPES = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "BF16": TensorProto.BFLOAT16,
    "BYTES": TensorProto.STRING,
}
ALL_BUT_BF16 = [name for name in ONNX_TYPES if name != "BF16"]
"""onnxruntime's Python API cannot feed BF16 and string inputs to one model: BF16 gets a model of its own."""


def identity_model(datatypes: Sequence[str], columns: int = 2) -> onnx.ModelProto:
    """Inputs ``in_<DATATYPE>`` of shape [-1, columns], each passed through to ``out_<DATATYPE>``."""
    inputs, outputs, nodes = [], [], []
    for name in datatypes:
        element = ONNX_TYPES[name]
        inputs.append(helper.make_tensor_value_info(f"in_{name}", element, [None, columns]))
        outputs.append(helper.make_tensor_value_info(f"out_{name}", element, ["batch", columns]))
        nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
    model = helper.make_model(
        helper.make_graph(nodes, "identity", inputs, outputs), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def scale_model(factor: float) -> onnx.ModelProto:
    """``y = x * factor`` on FP32 [-1, 4]: two of them tell which revision answered."""
    scale = helper.make_tensor("factor", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "factor"], ["y"])],
        "scale",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
        initializer=[scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_model_dir(model: onnx.ModelProto, directory: Path) -> Path:
    """A directory holding ``model.onnx``, as a model directory without an MLmodel file."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, directory / "model.onnx")
    return directory


@dataclass(frozen=True)
class Classifier:
    model: onnx.ModelProto
    samples: np.ndarray[Any, Any]
    """float32 [n, 4] iris measurements."""
    labels: np.ndarray[Any, Any]
    """What the scikit-learn model predicts for ``samples`` (the ONNX model must agree)."""


@functools.cache
def iris_classifier(kind: str = "logistic") -> Classifier:
    """A classifier trained on iris: ``float_input`` FP32 [-1, 4] → ``label`` INT64 [-1] and
    ``probabilities`` FP32 [-1, 3]."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    features, targets = load_iris(return_X_y=True)
    estimator: Any = (
        LogisticRegression(max_iter=500) if kind == "logistic" else DecisionTreeClassifier(max_depth=2, random_state=0)
    )
    estimator.fit(features, targets)
    model = convert_sklearn(
        estimator,
        initial_types=[("float_input", FloatTensorType([None, 4]))],
        options={id(estimator): {"zipmap": False}},
        target_opset=17,
    )
    samples = features[::15].astype(np.float32)
    return Classifier(model, samples, estimator.predict(samples).astype(np.int64))
