"""The body of a V2 inference request and answer: JSON tensors and the binary tensor data extension.

A request is a JSON object, optionally followed by binary tensor data; ``Inference-Header-Content-Length``
gives the JSON's length, the rest of the body holds the inputs that declare ``parameters.binary_data_size``,
in the order of ``inputs``. Binary data is little-endian and row-major; BOOL is one byte (0 or 1) per element;
BYTES is each element's length as a 4-byte little-endian unsigned integer, then its bytes. An answer carries
binary outputs the same way when asked (``outputs[].parameters.binary_data``, or for every output
``parameters.binary_data_output``). Every problem with a body is a ``BadRequest`` naming the tensor.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from switchyard.domain.tensors import (
    DATATYPES,
    Datatype,
    Kind,
    Tensor,
    TensorRequest,
    TensorResponse,
    bfloat16_bits,
    bfloat16_values,
)
from switchyard.errors import BadRequest

UNSUPPORTED_PARAMETERS = {
    "shared_memory_region": "shared memory is not supported; send the data in the body",
    "classification": "classification outputs are not supported; ask for the tensor",
}
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class InferBody:
    """A parsed request: what the model is asked, and how the client wants each output written."""

    request: TensorRequest
    binary_default: bool = False
    binary_outputs: dict[str, bool] = field(default_factory=dict)

    def wants_binary(self, name: str) -> bool:
        return self.binary_outputs.get(name, self.binary_default)


def parse_infer_request(body: bytes, header_length: bytes | None) -> InferBody:
    """``header_length``: the ``Inference-Header-Content-Length`` header as sent, or None."""
    head, rest = _split(body, header_length)
    try:
        data = orjson.loads(head)
    except orjson.JSONDecodeError:
        raise BadRequest("The inference request is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The inference request must be a JSON object.")
    request_id = data.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string.")
    parameters = _parameters(data.get("parameters"), "parameters")
    binary_default = _flag(parameters, "binary_data_output", "parameters")
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("'inputs' must be a non-empty array of tensors.")
    reader = _BinaryReader(rest)
    inputs = tuple(_input(index, item, reader) for index, item in enumerate(raw_inputs))
    reader.finish()
    _distinct([t.name for t in inputs], "input")
    outputs, binary_outputs = _outputs(data.get("outputs"))
    return InferBody(TensorRequest(inputs, outputs, request_id), binary_default, binary_outputs)


def encode_infer_response(response: TensorResponse, wants_binary: Callable[[str], bool]) -> tuple[bytes, int | None]:
    """The answer's body and, when it carries binary outputs, the length of its JSON part."""
    described: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for tensor in response.outputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        if wants_binary(tensor.name):
            raw = to_binary(tensor)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = _json_data(tensor)
        described.append(entry)
    answer: dict[str, Any] = {"model_name": response.model_name, "model_version": response.model_version}
    if response.id is not None:
        answer["id"] = response.id
    answer["outputs"] = described
    head = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return head, None
    return b"".join([head, *chunks]), len(head)


def to_binary(tensor: Tensor) -> bytes:
    datatype = DATATYPES[tensor.datatype]
    if datatype.kind is Kind.text:
        return b"".join(_LENGTH.pack(len(element)) + element for element in tensor.array.ravel())
    if datatype.kind is Kind.boolean:
        return np.ascontiguousarray(tensor.array, dtype=np.uint8).tobytes()
    return np.ascontiguousarray(tensor.array, dtype=datatype.little_endian).tobytes()


def _split(body: bytes, header_length: bytes | None) -> tuple[bytes, memoryview]:
    if header_length is None:
        return body, memoryview(b"")
    try:
        length = int(header_length)
    except ValueError:
        raise BadRequest("Inference-Header-Content-Length must be the length of the JSON part, in bytes.") from None
    if not 0 < length <= len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length is {length}, but the body has {len(body)} bytes; the JSON part "
            "must come first and the binary tensor data after it."
        )
    view = memoryview(body)
    return bytes(view[:length]), view[length:]


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{where}' must be an object.")
    for name, reason in UNSUPPORTED_PARAMETERS.items():
        if name in value:
            raise BadRequest(f"'{where}.{name}': {reason}.")
    return value


def _flag(parameters: dict[str, Any], name: str, where: str) -> bool:
    value = parameters.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"'{where}.{name}' must be true or false.")
    return value


def _distinct(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadRequest(f"The {what} '{name}' is given twice.")
        seen.add(name)


class _BinaryReader:
    """The binary tensor data after the JSON, handed out input by input."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int, name: str) -> memoryview:
        end = self.offset + size
        if end > len(self.data):
            raise BadRequest(
                f"The body ends before the binary data of input '{name}': it needs {size} bytes at offset "
                f"{self.offset} of the binary part, which has {len(self.data)}."
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise BadRequest(
                f"The body has {len(self.data) - self.offset} bytes of binary data that no input declares "
                "(parameters.binary_data_size)."
            )


def _input(index: int, item: Any, reader: _BinaryReader) -> Tensor:
    where = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise BadRequest(f"'{where}' must be an object with name, shape, datatype and data.")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"'{where}.name' must be a non-empty string.")
    datatype = _datatype(item.get("datatype"), f"input '{name}'")
    shape = _shape(item.get("shape"), name)
    parameters = _parameters(item.get("parameters"), f"{where}.parameters")
    count = math.prod(shape)
    size = parameters.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"Input '{name}': binary_data_size must be a number of bytes.")
        if "data" in item:
            raise BadRequest(f"Input '{name}' has both 'data' and binary data; send one of them.")
        array = _from_binary(name, datatype, shape, count, reader.take(size, name))
    elif "data" in item:
        array = _from_json(name, datatype, shape, count, item["data"])
    else:
        raise BadRequest(f"Input '{name}' has no data: send 'data', or binary data with binary_data_size.")
    return Tensor(name, datatype.name, shape, array.reshape(shape))


def _datatype(value: Any, what: str) -> Datatype:
    datatype = DATATYPES.get(value) if isinstance(value, str) else None
    if datatype is None:
        raise BadRequest(f"The datatype {value!r} of {what} is not one of {', '.join(DATATYPES)}.")
    return datatype


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in value
    ):
        raise BadRequest(f"The shape of input '{name}' must be an array of non-negative integers.")
    return tuple(value)


def _mismatch(name: str, datatype: Datatype, shape: tuple[int, ...], count: int, got: str) -> BadRequest:
    return BadRequest(f"Input '{name}' has {got}, but shape {list(shape)} of {datatype.name} needs {count} elements.")


def _from_binary(
    name: str, datatype: Datatype, shape: tuple[int, ...], count: int, raw: memoryview
) -> np.ndarray[Any, Any]:
    if datatype.kind is Kind.text:
        return _bytes_elements(name, datatype, shape, count, raw)
    itemsize = datatype.itemsize or 1
    if len(raw) != count * itemsize:
        raise _mismatch(name, datatype, shape, count, f"{len(raw)} bytes of binary data ({itemsize} per element)")
    if datatype.kind is Kind.boolean:
        octets = np.frombuffer(raw, dtype=np.uint8)
        if (octets > 1).any():
            raise BadRequest(f"Input '{name}': BOOL binary data must be bytes of value 0 or 1.")
        return octets.view(np.bool_)
    return np.frombuffer(raw, dtype=datatype.little_endian).astype(datatype.storage, copy=False)


def _bytes_elements(
    name: str, datatype: Datatype, shape: tuple[int, ...], count: int, raw: memoryview
) -> np.ndarray[Any, Any]:
    elements: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadRequest(f"Input '{name}': the binary data ends inside the length of a BYTES element.")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise BadRequest(f"Input '{name}': the binary data ends inside a BYTES element of {length} bytes.")
        elements.append(bytes(raw[offset : offset + length]))
        offset += length
    if len(elements) != count:
        raise _mismatch(name, datatype, shape, count, f"{len(elements)} BYTES elements")
    array = np.empty(count, dtype=np.object_)
    array[:] = elements
    return array


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(element, list) for element in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for element in stack[-1]:
            if isinstance(element, list):
                stack.append(iter(element))
                break
            flat.append(element)
        else:
            stack.pop()
    return flat


def _from_json(name: str, datatype: Datatype, shape: tuple[int, ...], count: int, data: Any) -> np.ndarray[Any, Any]:
    if not isinstance(data, list):
        raise BadRequest(f"The data of input '{name}' must be an array (flat or nested by the shape).")
    flat = _flatten(data)
    if len(flat) != count:
        raise _mismatch(name, datatype, shape, count, f"{len(flat)} elements")
    if datatype.kind is Kind.text:
        if not all(isinstance(element, str) for element in flat):
            raise BadRequest(f"Input '{name}' is BYTES: its data must be strings.")
        array = np.empty(count, dtype=np.object_)
        array[:] = [element.encode("utf-8") for element in flat]
        return array
    if not flat:
        return np.empty(0, dtype=datatype.storage)
    values = np.array(flat)
    kind = values.dtype.kind
    if datatype.kind is Kind.boolean:
        if kind != "b":
            raise BadRequest(f"Input '{name}' is BOOL: its data must be true or false.")
        return values
    if datatype.kind is Kind.integer:
        if kind in "iu":
            low, high = int(values.min()), int(values.max())
        elif all(type(element) is int for element in flat):  # beyond int64 (numpy made them objects)
            low, high = min(flat), max(flat)
        else:
            raise BadRequest(f"Input '{name}' is {datatype.name}: its data must be integers.")
        bounds = np.iinfo(datatype.storage)
        if low < bounds.min or high > bounds.max:
            raise BadRequest(f"Input '{name}' has values outside the range of {datatype.name}.")
        return np.array(flat, dtype=datatype.storage) if kind not in "iu" else values.astype(datatype.storage)
    if kind not in "iuf":
        raise BadRequest(f"Input '{name}' is {datatype.name}: its data must be numbers.")
    numbers = values.astype(np.float64)
    if datatype.kind is Kind.bfloat16:
        return bfloat16_bits(numbers.astype(np.float32))
    limit = float(np.finfo(datatype.storage).max)
    if float(np.abs(numbers).max()) > limit:
        raise BadRequest(f"Input '{name}' has values outside the range of {datatype.name}.")
    return numbers.astype(datatype.storage)


def _outputs(value: Any) -> tuple[tuple[str, ...] | None, dict[str, bool]]:
    if value is None:
        return None, {}
    if not isinstance(value, list):
        raise BadRequest("'outputs' must be an array of {\"name\": …} objects.")
    names: list[str] = []
    binary: dict[str, bool] = {}
    for index, item in enumerate(value):
        where = f"outputs[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BadRequest(f"'{where}' must be an object with a 'name'.")
        parameters = _parameters(item.get("parameters"), f"{where}.parameters")
        names.append(item["name"])
        if "binary_data" in parameters:
            binary[item["name"]] = _flag(parameters, "binary_data", f"{where}.parameters")
    _distinct(names, "output")
    return tuple(names), binary


def _json_data(tensor: Tensor) -> Any:
    datatype = DATATYPES[tensor.datatype]
    if datatype.kind is Kind.text:
        try:
            return [element.decode("utf-8") for element in tensor.array.ravel()]
        except UnicodeDecodeError:
            raise BadRequest(
                f"Output '{tensor.name}' holds bytes that are not UTF-8 text; ask for it as binary data."
            ) from None
    if datatype.kind is Kind.bfloat16:
        return bfloat16_values(tensor.array).ravel()
    return np.ascontiguousarray(tensor.array).ravel()
