"""The in-process ONNX runtime: metadata from the graph, every datatype onnxruntime takes, a skl2onnx
classifier, what cannot be served, and the runtime's own refusals as bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from switchyard.adapters.runtimes.onnx_tensor import ModelLoadError, OnnxTensorModel
from switchyard.domain.tensors import DATATYPES, Tensor, TensorSpec, bfloat16_bits, bfloat16_values
from switchyard.errors import BadRequest
from tests.onnx_models import ALL_BUT_BF16, identity_model, iris_classifier, write_model_dir


def sample(datatype: str, rows: int = 3, columns: int = 2) -> np.ndarray[Any, Any]:
    count = rows * columns
    if datatype == "BYTES":
        array = np.empty(count, dtype=np.object_)
        array[:] = [f"text {i} é".encode() for i in range(count)]
        return array.reshape(rows, columns)
    if datatype == "BOOL":
        return (np.arange(count) % 2 == 0).reshape(rows, columns)
    if datatype == "BF16":
        return bfloat16_bits(np.arange(count, dtype=np.float32) / 4).reshape(rows, columns)
    return np.arange(count).astype(DATATYPES[datatype].storage).reshape(rows, columns)


def tensors(*datatypes: str) -> dict[str, Tensor]:
    made = {}
    for datatype in datatypes:
        array = sample(datatype)
        made[f"in_{datatype}"] = Tensor(f"in_{datatype}", datatype, array.shape, array)
    return made


def test_every_datatype_but_bf16_passes_through_with_metadata_from_the_graph(tmp_path: Path) -> None:
    model = OnnxTensorModel.load(write_model_dir(identity_model(ALL_BUT_BF16), tmp_path), threads=1)
    assert model.inputs == tuple(TensorSpec(f"in_{d}", d, (-1, 2)) for d in ALL_BUT_BF16)
    assert model.outputs == tuple(TensorSpec(f"out_{d}", d, (-1, 2)) for d in ALL_BUT_BF16)
    outputs = model.run(tensors(*ALL_BUT_BF16), [f"out_{d}" for d in ALL_BUT_BF16])
    for datatype, array in zip(ALL_BUT_BF16, outputs, strict=True):
        assert array.dtype == DATATYPES[datatype].storage, datatype
        assert array.tolist() == sample(datatype).tolist(), datatype


def test_bf16_runs_on_its_raw_bits(tmp_path: Path) -> None:
    model = OnnxTensorModel.load(write_model_dir(identity_model(["BF16", "FP32"]), tmp_path), threads=1)
    assert model.inputs[0] == TensorSpec("in_BF16", "BF16", (-1, 2))
    bf16, fp32 = model.run(tensors("BF16", "FP32"), ["out_BF16", "out_FP32"])
    assert bf16.dtype == np.uint16 and bf16.tolist() == sample("BF16").tolist()
    assert bfloat16_values(bf16).ravel().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert fp32.tolist() == sample("FP32").tolist()


def test_a_skl2onnx_classifier_answers_as_scikit_learn_does(tmp_path: Path) -> None:
    classifier = iris_classifier()
    model = OnnxTensorModel.load(write_model_dir(classifier.model, tmp_path), threads=2)
    assert model.inputs == (TensorSpec("float_input", "FP32", (-1, 4)),)
    assert model.outputs == (TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 3)))
    assert model.session.get_session_options().intra_op_num_threads == 2
    inputs = {"float_input": Tensor("float_input", "FP32", classifier.samples.shape, classifier.samples)}
    labels, probabilities = model.run(inputs, ["label", "probabilities"])
    assert labels.tolist() == classifier.labels.tolist()
    assert probabilities.shape == (len(classifier.samples), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_outputs_that_are_not_tensors_are_left_out(tmp_path: Path) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, targets = load_iris(return_X_y=True)
    zipmapped = convert_sklearn(
        LogisticRegression(max_iter=500).fit(features, targets),
        initial_types=[("float_input", FloatTensorType([None, 4]))],
        target_opset=17,
    )
    model = OnnxTensorModel.load(write_model_dir(zipmapped, tmp_path), threads=1)
    assert [spec.name for spec in model.outputs] == ["output_label"]
    assert model.skipped_outputs == ("output_probability",)


def test_mlflow_model_directories_name_their_file(tmp_path: Path) -> None:
    onnx.save(identity_model(["FP32"]), tmp_path / "weights.onnx")
    (tmp_path / "MLmodel").write_text("flavors:\n  onnx:\n    data: weights.onnx\n    onnx_version: 1.17.0\n")
    (tmp_path / "other.onnx").write_bytes(b"not used")
    assert OnnxTensorModel.load(tmp_path, threads=1).path == (tmp_path / "weights.onnx").resolve()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no MLmodel file and no .onnx files"),
        ({"a.onnx": b"x", "b.onnx": b"y"}, "2 .onnx files"),
        ({"model.onnx": b"not a protobuf"}, "onnxruntime cannot load model.onnx"),
        ({"MLmodel": b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n"}, "not an ONNX model .*sklearn"),
        ({"MLmodel": b"flavors:\n  onnx:\n    data: ../../etc/passwd\n"}, "ONNX file '../../etc/passwd' is missing"),
        ({"MLmodel": b"flavors: [unclosed\n"}, "not valid YAML"),
    ],
)
def test_what_cannot_be_served_says_why(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        OnnxTensorModel.load(tmp_path, threads=1)


def test_bf16_and_string_inputs_together_cannot_be_fed(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="BF16 and string inputs"):
        OnnxTensorModel.load(write_model_dir(identity_model(["BF16", "BYTES"]), tmp_path), threads=1)


def test_the_runtimes_refusals_are_bad_requests(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"])],
        "add",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n"]) for n in ("a", "b")],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["n"])],
    )
    adder = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    adder.ir_version = 8
    model = OnnxTensorModel.load(write_model_dir(adder, tmp_path / "add"), threads=1)
    inputs = {
        "a": Tensor("a", "FP32", (2,), np.ones(2, dtype=np.float32)),
        "b": Tensor("b", "FP32", (3,), np.ones(3, dtype=np.float32)),
    }
    with pytest.raises(BadRequest, match="The model cannot run on this input: .*"):
        model.run(inputs, ["sum"])

    strings = OnnxTensorModel.load(write_model_dir(identity_model(["BYTES"]), tmp_path / "text"), threads=1)
    raw = np.empty((1, 2), dtype=np.object_)
    raw[0] = [b"\xff", b"ok"]
    with pytest.raises(BadRequest, match="must be UTF-8 text"):
        strings.run({"in_BYTES": Tensor("in_BYTES", "BYTES", (1, 2), raw)}, ["out_BYTES"])
