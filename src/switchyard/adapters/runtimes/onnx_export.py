"""Exports a sentence-transformers folder to what the local runtime needs, in a process of its own:

    python -m switchyard.adapters.runtimes.onnx_export <model folder> <output folder>

The output folder receives ``model.onnx`` (the whole module chain — transformer, pooling, normalize… — traced
with the TorchScript exporter, opset 17, batch and sequence axes dynamic, one output ``sentence_embedding``),
``tokenizer.json`` (the folder's fast tokenizer with the model's truncation and padding set) and
``runtime.json`` (``export_layout.ExportInfo``). Before it answers, it checks the export against
sentence-transformers on texts of several lengths, padded and truncated; a difference beyond ``TOLERANCE``
fails the export.

torch and sentence-transformers are needed here only: the server itself runs the export with onnxruntime,
tokenizers and numpy. Nothing is downloaded (Hugging Face offline mode), and only sentence-transformers' own
module types are accepted in ``modules.json`` (a folder cannot make this process import arbitrary code).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from switchyard.adapters.runtimes.export_layout import FORMAT, MODEL_FILE, TOKENIZER_FILE, ExportInfo

OPSET = 17
TOLERANCE = 1e-4
"""Largest absolute difference allowed between the export and sentence-transformers (observed: ~2e-7)."""
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "sentence_embedding"
CHECK_TEXTS = [
    "Hello",
    "The quick brown fox jumps over the lazy dog. Café, naïve, 東京 🙂",
    "Switchyard serves embeddings in process. " * 80,
]
"""Short, long and truncated: the check runs them as one padded batch and one by one."""


class ExportError(Exception):
    pass


def check_module_types(folder: Path) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    if not isinstance(modules, list) or not modules:
        raise ExportError("modules.json lists no modules")
    for module in modules:
        kind = module.get("type") if isinstance(module, dict) else None
        if not isinstance(kind, str) or not kind.startswith("sentence_transformers."):
            raise ExportError(f"modules.json names {kind!r}; only sentence-transformers' own modules are served")


def export(folder: Path, out: Path) -> ExportInfo:
    check_module_types(folder)
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    warnings.simplefilter("ignore")  # deprecations and tracer notes; the check below is what counts
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True).eval()
    sample = model.preprocess(CHECK_TEXTS[:2])
    extra = [k for k, v in sample.items() if isinstance(v, torch.Tensor) and k not in TOKEN_INPUTS]
    if extra or "input_ids" not in sample:
        raise ExportError(f"the model takes inputs other than text tokens ({', '.join(extra) or 'no input_ids'})")
    inputs = [name for name in TOKEN_INPUTS if name in sample]

    class Chain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features: dict[str, Any] = dict(zip(inputs, tensors, strict=True))
            embedding: torch.Tensor = self.model(features)[OUTPUT]
            return embedding

    axes = {name: {0: "batch", 1: "sequence"} for name in inputs} | {OUTPUT: {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(
            Chain(),
            tuple(sample[name] for name in inputs),
            str(out / MODEL_FILE),
            input_names=inputs,
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    prompt = str((model.prompts or {}).get(model.default_prompt_name or "") or "")
    max_tokens = model.max_seq_length
    if not max_tokens:
        raise ExportError("the model declares no maximum sequence length (max_seq_length)")
    transformer = model[0]
    pooling = next((m for m in model if type(m).__name__ == "Pooling"), None)
    if prompt and pooling is not None and getattr(pooling, "include_prompt", True) is False:
        raise ExportError("the model pools without its prompt, which the local runtime does not do")
    _save_tokenizer(transformer.tokenizer, max_tokens, out / TOKENIZER_FILE)
    info = ExportInfo(
        format=FORMAT,
        dimension=int(model.get_sentence_embedding_dimension() or 0),
        max_tokens=max_tokens,
        inputs=inputs,
        lowercase=bool(getattr(transformer, "do_lower_case", False)),
        prompt=prompt,
        max_difference=0.0,
    )
    expected = model.encode(CHECK_TEXTS, convert_to_numpy=True, normalize_embeddings=False)
    info = _checked(info, out, expected)
    info.write(out)
    return info


def _save_tokenizer(tokenizer: Any, max_tokens: int, path: Path) -> None:
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise ExportError("the model's tokenizer has no fast (tokenizers) version")
    configured = Tokenizer.from_str(backend.to_str())
    configured.enable_truncation(
        max_length=max_tokens, strategy="longest_first", direction=getattr(tokenizer, "truncation_side", "right")
    )
    configured.enable_padding(
        direction=getattr(tokenizer, "padding_side", "right"),
        pad_id=int(tokenizer.pad_token_id or 0),
        pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        pad_token=str(tokenizer.pad_token or "[PAD]"),
    )
    configured.save(str(path))


def _checked(info: ExportInfo, out: Path, expected: Any) -> ExportInfo:
    """The export run by the runtime's own encoder, batched and one by one, against sentence-transformers."""
    import numpy as np

    from switchyard.adapters.runtimes.encoder import OnnxEncoder

    info.write(out)
    encoder = OnnxEncoder(out, threads=1)
    batched = encoder.encode(CHECK_TEXTS).vectors
    single = np.concatenate([encoder.encode([text]).vectors for text in CHECK_TEXTS])
    difference = float(max(np.abs(batched - expected).max(), np.abs(single - expected).max()))
    if not difference <= TOLERANCE:
        raise ExportError(f"the export differs from sentence-transformers by {difference:.2e} (> {TOLERANCE})")
    return replace(info, max_difference=difference)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m switchyard.adapters.runtimes.onnx_export <model folder> <output folder>")
        return 2
    try:
        info = export(Path(argv[0]), Path(argv[1]))
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(info)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
