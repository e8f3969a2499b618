"""What an export folder holds (written by ``onnx_export.py``, read by ``encoder.py``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "runtime.json"
FORMAT = 1
"""Bumped when the layout changes: exports of an older format in a cache are made again."""


@dataclass(frozen=True, slots=True)
class ExportInfo:
    format: int
    dimension: int
    max_tokens: int
    inputs: list[str]
    """The model's inputs, in order: ``input_ids``, ``attention_mask`` and, when it has one, ``token_type_ids``."""
    lowercase: bool
    """Texts are lower-cased before tokenizing (the folder's ``do_lower_case``)."""
    prompt: str
    """Put before every text (the folder's default prompt), as sentence-transformers does."""
    max_difference: float
    """Largest absolute difference from sentence-transformers seen when the export was checked."""

    @classmethod
    def read(cls, folder: Path) -> ExportInfo:
        data = json.loads((folder / INFO_FILE).read_text())
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def write(self, folder: Path) -> None:
        (folder / INFO_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a whole export of the current format."""
    try:
        info = ExportInfo.read(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return info.format == FORMAT and (folder / MODEL_FILE).is_file() and (folder / TOKENIZER_FILE).is_file()
