"""The V2 body codec: JSON tensors of every datatype, the binary tensor data extension (checked against the
official tritonclient's own encoders and decoders), JSON and binary mixed, and every malformed body → 400."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from switchyard.api.v2.codec import encode_infer_response, parse_infer_request, to_binary
from switchyard.domain.tensors import DATATYPES, Tensor, TensorResponse, bfloat16_bits, bfloat16_values
from switchyard.errors import BadRequest

NUMERIC = {
    "UINT8": (np.uint8, [0, 255]),
    "UINT16": (np.uint16, [0, 65535]),
    "UINT32": (np.uint32, [0, 2**32 - 1]),
    "UINT64": (np.uint64, [0, 2**64 - 1]),
    "INT8": (np.int8, [-128, 127]),
    "INT16": (np.int16, [-(2**15), 2**15 - 1]),
    "INT32": (np.int32, [-(2**31), 2**31 - 1]),
    "INT64": (np.int64, [-(2**63), 2**63 - 1]),
    "FP16": (np.float16, [-1.5, 65504.0]),
    "FP32": (np.float32, [-1.25, 3.0e38]),
    "FP64": (np.float64, [-1.0e300, 2.5]),
}


def request(*inputs: dict[str, Any], **fields: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **fields})


def binary_request(tensors: list[tuple[dict[str, Any], bytes | None]], **fields: Any) -> tuple[bytes, bytes]:
    """A body with the JSON first and the binary data of the inputs that have some after it, and the header."""
    described = []
    for entry, raw in tensors:
        if raw is not None:
            entry = {**entry, "parameters": {"binary_data_size": len(raw)}}
        described.append(entry)
    head = orjson.dumps({"inputs": described, **fields})
    return head + b"".join(raw for _, raw in tensors if raw is not None), str(len(head)).encode()


def only_input(body: bytes, header: bytes | None = None) -> Tensor:
    parsed = parse_infer_request(body, header)
    assert len(parsed.request.inputs) == 1
    return parsed.request.inputs[0]


@pytest.mark.parametrize("datatype", list(NUMERIC))
def test_numeric_datatypes_in_json_and_in_binary(datatype: str) -> None:
    dtype, values = NUMERIC[datatype]
    expected = np.array(values * 3, dtype=dtype).reshape(3, 2)
    tensor = only_input(request({"name": "x", "shape": [3, 2], "datatype": datatype, "data": values * 3}))
    assert tensor.shape == (3, 2) and tensor.array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(tensor.array, expected)

    body, header = binary_request([({"name": "x", "shape": [3, 2], "datatype": datatype}, expected.tobytes())])
    from_binary = only_input(body, header)
    np.testing.assert_array_equal(from_binary.array, expected)
    assert to_binary(from_binary) == expected.astype(np.dtype(dtype).newbyteorder("<")).tobytes()


def test_bool_in_json_and_in_binary() -> None:
    tensor = only_input(request({"name": "b", "shape": [4], "datatype": "BOOL", "data": [True, False, False, True]}))
    assert tensor.array.dtype == np.bool_ and tensor.array.tolist() == [True, False, False, True]
    body, header = binary_request([({"name": "b", "shape": [2, 2], "datatype": "BOOL"}, b"\x01\x00\x00\x01")])
    assert only_input(body, header).array.tolist() == [[True, False], [False, True]]
    assert to_binary(tensor) == b"\x01\x00\x00\x01"


def test_bytes_in_json_and_in_binary_as_tritonclient_writes_them() -> None:
    texts = ["", "plain", "naïve ☃"]
    tensor = only_input(request({"name": "s", "shape": [3], "datatype": "BYTES", "data": texts}))
    assert tensor.array.tolist() == [t.encode() for t in texts]

    raw = serialize_byte_tensor(np.array([b"\x00\xff", b"", b"abc"], dtype=np.object_)).item()
    body, header = binary_request([({"name": "s", "shape": [1, 3], "datatype": "BYTES"}, raw)])
    from_binary = only_input(body, header)
    assert from_binary.shape == (1, 3) and from_binary.array.ravel().tolist() == [b"\x00\xff", b"", b"abc"]
    assert deserialize_bytes_tensor(to_binary(from_binary)).tolist() == [b"\x00\xff", b"", b"abc"]


def test_fp16_and_bf16() -> None:
    halves = np.array([0.5, -2.0, 65504.0], dtype=np.float16)
    body, header = binary_request([({"name": "h", "shape": [3], "datatype": "FP16"}, halves.tobytes())])
    np.testing.assert_array_equal(only_input(body, header).array, halves)

    tensor = only_input(request({"name": "b", "shape": [3], "datatype": "BF16", "data": [1.0, -2.5, 3.140625]}))
    assert tensor.array.dtype == np.uint16
    assert tensor.array.tolist() == [0x3F80, 0xC020, 0x4049]
    assert bfloat16_values(tensor.array).tolist() == [1.0, -2.5, 3.140625]
    assert bfloat16_bits(np.array([1.00390625], dtype=np.float32)).tolist() == [0x3F80]  # rounds to nearest even
    assert np.isnan(bfloat16_values(bfloat16_bits(np.array([np.nan], dtype=np.float32))))[0]


def test_nested_data_and_empty_tensors() -> None:
    nested = only_input(request({"name": "n", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]]}))
    assert nested.array.tolist() == [[1, 2], [3, 4]]
    empty = only_input(request({"name": "e", "shape": [0, 4], "datatype": "FP32", "data": []}))
    assert empty.array.shape == (0, 4) and empty.array.dtype == np.float32


def test_binary_and_json_inputs_mixed_in_order() -> None:
    first = np.arange(6, dtype=np.float32)
    third = np.array([7, 8], dtype=np.int64)
    body, header = binary_request(
        [
            ({"name": "a", "shape": [2, 3], "datatype": "FP32"}, first.tobytes()),
            ({"name": "b", "shape": [2], "datatype": "BOOL", "data": [True, False]}, None),
            ({"name": "c", "shape": [2], "datatype": "INT64"}, third.tobytes()),
        ],
        id="req-1",
        outputs=[{"name": "y", "parameters": {"binary_data": True}}, {"name": "z"}],
    )
    parsed = parse_infer_request(body, header)
    a, b, c = parsed.request.inputs
    np.testing.assert_array_equal(a.array, first.reshape(2, 3))
    assert b.array.tolist() == [True, False] and c.array.tolist() == [7, 8]
    assert parsed.request.id == "req-1" and parsed.request.outputs == ("y", "z")
    assert parsed.wants_binary("y") and not parsed.wants_binary("z")


def test_binary_data_output_asks_every_output_in_binary_unless_one_says_otherwise() -> None:
    body = request(
        {"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]},
        parameters={"binary_data_output": True},
        outputs=[{"name": "json", "parameters": {"binary_data": False}}, {"name": "other"}],
    )
    parsed = parse_infer_request(body, None)
    assert parsed.wants_binary("other") and not parsed.wants_binary("json")
    every_output = parse_infer_request(request({"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}), None)
    assert every_output.request.outputs is None and not every_output.wants_binary("anything")


def test_answer_in_json_and_binary_mixed() -> None:
    probabilities = np.array([[0.25, 0.75]], dtype=np.float32)
    labels = np.array([1], dtype=np.int64)
    texts = np.empty(2, dtype=np.object_)
    texts[:] = [b"a", "é".encode()]
    response = TensorResponse(
        "iris",
        "3",
        (
            Tensor("probabilities", "FP32", (1, 2), probabilities),
            Tensor("label", "INT64", (1,), labels),
            Tensor("names", "BYTES", (2,), texts),
            Tensor("half", "BF16", (1,), bfloat16_bits(np.array([2.0], dtype=np.float32))),
        ),
        id="abc",
    )
    body, length = encode_infer_response(response, lambda name: name in ("probabilities", "names"))
    assert length is not None
    head = orjson.loads(body[:length])
    assert head["model_name"] == "iris" and head["model_version"] == "3" and head["id"] == "abc"
    by_name = {output["name"]: output for output in head["outputs"]}
    assert by_name["label"]["data"] == [1] and by_name["half"]["data"] == [2.0]
    assert by_name["probabilities"]["parameters"] == {"binary_data_size": 8}
    rest = body[length:]
    np.testing.assert_array_equal(np.frombuffer(rest[:8], dtype="<f4"), probabilities.ravel())
    assert deserialize_bytes_tensor(rest[8:]).tolist() == [b"a", "é".encode()]

    json_only, none = encode_infer_response(response, lambda name: False)
    assert none is None and orjson.loads(json_only)["outputs"][2]["data"] == ["a", "é"]


def test_non_text_bytes_output_must_be_asked_in_binary() -> None:
    raw = np.empty(1, dtype=np.object_)
    raw[:] = [b"\xff\xfe"]
    response = TensorResponse("m", "1", (Tensor("blob", "BYTES", (1,), raw),))
    with pytest.raises(BadRequest, match="ask for it as binary"):
        encode_infer_response(response, lambda name: False)


GOOD = {"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (orjson.dumps({"inputs": []}), "non-empty array"),
        (orjson.dumps({"inputs": [GOOD], "id": 5}), "'id' must be a string"),
        (request({**GOOD, "datatype": "FLOAT32"}), "not one of BOOL"),
        (request({**GOOD, "shape": [-1]}), "non-negative integers"),
        (request({**GOOD, "shape": "2"}), "non-negative integers"),
        (request({**GOOD, "shape": [3]}), "has 2 elements, but shape \\[3\\]"),
        (request({"name": "x", "shape": [2], "datatype": "FP32"}), "has no data"),
        (request({**GOOD, "data": 1.0}), "must be an array"),
        (request({**GOOD, "data": ["1", "2"]}), "must be numbers"),
        (request({**GOOD, "datatype": "INT32", "data": [1.5, 2]}), "must be integers"),
        (request({**GOOD, "datatype": "INT32", "data": [True, False]}), "must be integers"),
        (request({**GOOD, "datatype": "UINT8", "data": [1, 256]}), "outside the range of UINT8"),
        (request({**GOOD, "datatype": "UINT32", "data": [-1, 2]}), "outside the range of UINT32"),
        (
            b'{"inputs": [{"name": "x", "shape": [2], "datatype": "UINT64", "data": [18446744073709551616, 1]}]}',
            "integers",
        ),
        (request({**GOOD, "datatype": "FP16", "data": [1.0, 70000.0]}), "outside the range of FP16"),
        (request({**GOOD, "datatype": "BOOL", "data": [1, 0]}), "true or false"),
        (request({**GOOD, "datatype": "BYTES", "data": [1, 2]}), "must be strings"),
        (request(GOOD, GOOD), "'x' is given twice"),
        (request({**GOOD, "parameters": {"shared_memory_region": "r"}}), "shared memory is not supported"),
        (request(GOOD, outputs=[{"name": "y", "parameters": {"classification": 2}}]), "classification"),
        (request(GOOD, outputs=[{"name": "y"}, {"name": "y"}]), "output 'y' is given twice"),
        (request(GOOD, outputs={"name": "y"}), "'outputs' must be an array"),
        (request(GOOD, parameters={"binary_data_output": "yes"}), "true or false"),
    ],
)
def test_bad_json_requests(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_infer_request(body, None)


def test_bad_binary_requests() -> None:
    floats = np.arange(4, dtype=np.float32).tobytes()
    spec = {"name": "x", "shape": [4], "datatype": "FP32"}
    body, header = binary_request([(spec, floats)])

    with pytest.raises(BadRequest, match="ends before the binary data of input 'x'"):
        parse_infer_request(body[:-3], header)  # a truncated body
    with pytest.raises(BadRequest, match="3 bytes of binary data that no input declares"):
        parse_infer_request(body + b"\x00\x00\x00", header)
    with pytest.raises(BadRequest, match="Inference-Header-Content-Length is"):
        parse_infer_request(body, str(len(body) + 1).encode())
    with pytest.raises(BadRequest, match="must be the length of the JSON part"):
        parse_infer_request(body, b"twelve")
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_infer_request(body, str(int(header) - 1).encode())
    with pytest.raises(BadRequest, match="ends before the binary data"):
        parse_infer_request(body[: int(header)], None)  # binary declared but no header: nothing follows the JSON

    short, short_header = binary_request([({**spec, "shape": [5]}, floats)])
    with pytest.raises(BadRequest, match="16 bytes of binary data \\(4 per element\\)"):
        parse_infer_request(short, short_header)
    both, both_header = binary_request([({**spec, "data": [1, 2, 3, 4]}, floats)])
    with pytest.raises(BadRequest, match="both 'data' and binary data"):
        parse_infer_request(both, both_header)
    bools, bools_header = binary_request([({"name": "b", "shape": [2], "datatype": "BOOL"}, b"\x01\x02")])
    with pytest.raises(BadRequest, match="value 0 or 1"):
        parse_infer_request(bools, bools_header)

    strings = {"name": "s", "shape": [2], "datatype": "BYTES"}
    cut_length, cut_length_header = binary_request([(strings, struct.pack("<I", 1) + b"a" + b"\x05\x00")])
    with pytest.raises(BadRequest, match="inside the length of a BYTES element"):
        parse_infer_request(cut_length, cut_length_header)
    cut_element, cut_element_header = binary_request([(strings, struct.pack("<I", 1) + b"a" + struct.pack("<I", 9))])
    with pytest.raises(BadRequest, match="inside a BYTES element of 9 bytes"):
        parse_infer_request(cut_element, cut_element_header)
    one, one_header = binary_request([(strings, struct.pack("<I", 1) + b"a")])
    with pytest.raises(BadRequest, match="1 BYTES elements"):
        parse_infer_request(one, one_header)


def test_the_datatype_table_covers_the_protocol() -> None:
    assert set(DATATYPES) == {*NUMERIC, "BOOL", "BYTES", "BF16"}
    assert {name: d.itemsize for name, d in DATATYPES.items() if name in ("BOOL", "FP16", "BF16", "BYTES")} == {
        "BOOL": 1,
        "FP16": 2,
        "BF16": 2,
        "BYTES": None,
    }
