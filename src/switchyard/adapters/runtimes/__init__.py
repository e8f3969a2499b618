"""Models served inside this process, with no upstream to call.

Embedding models (sentence-transformers folders, served by the ``local`` wire format, ``adapters/wire/local.py``):

    sources.py        local://<built-in> and file:///<folder> → a model folder
    export_cache.py   the folder exported to ONNX once, cached under the models directory
    onnx_export.py    the export itself (torch + sentence-transformers, run as a child process)
    export_layout.py  what an export folder holds
    encoder.py        onnxruntime + tokenizers + numpy: texts → vectors (no torch)
    batcher.py        concurrent requests gathered into batches, run in the model's worker thread
    local_model.py    one model per folder, loaded on first use; the process's registry (``MODELS``)

Tensor models (Open Inference Protocol V2): ``onnx_tensor.py``.

Nothing is imported here, so that using one kind of model does not load the other's libraries.
"""
