"""A training script as a user writes it, run by ``switchyard mlflow run`` in ``test_mlflow_e2e.py``: trains a tiny
scikit-learn classifier, converts it with skl2onnx (zipmap off) and tracks everything with the stock ``mlflow``
SDK, which finds the server and the token in MLFLOW_TRACKING_URI / MLFLOW_TRACKING_TOKEN only.

Usage: python mlflow_training_script.py OUT.json MODEL_NAME (the experiment comes from MLFLOW_EXPERIMENT_NAME).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow.onnx
import numpy as np
import onnxruntime
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

import mlflow
from mlflow import MlflowClient


def main(out: Path, model_name: str) -> None:
    rng = np.random.RandomState(7)
    features = rng.rand(60, 4).astype(np.float32)
    labels = (features[:, 0] + features[:, 1] > 1.0).astype(np.int64)
    classifier = LogisticRegression(C=0.5, max_iter=200).fit(features, labels)
    onnx_model = convert_sklearn(
        classifier,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(classifier): {"zipmap": False}},
    )
    mlflow.set_experiment_tags({"team": "fraud"})
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params({"C": 0.5, "max_iter": 200})
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("accuracy", float(classifier.score(features, labels)))
        mlflow.set_tag("stage", "e2e")
        with tempfile.TemporaryDirectory() as scratch:
            note = Path(scratch) / "notes.txt"
            note.write_text("trained on 60 rows")
            mlflow.log_artifact(str(note))
        info = mlflow.onnx.log_model(
            onnx_model, name="model", input_example=features[:2], registered_model_name=model_name
        )
    client = MlflowClient()
    version = str(info.registered_model_version)
    client.set_registered_model_alias(model_name, "champion", version)

    loaded = mlflow.onnx.load_model(f"models:/{model_name}@champion")
    session = onnxruntime.InferenceSession(loaded.SerializeToString(), providers=["CPUExecutionProvider"])
    served = session.run(["probabilities"], {"input": features[:5]})[0]
    expected = classifier.predict_proba(features[:5])
    by_version = mlflow.onnx.load_model(f"models:/{model_name}/{version}")
    note_path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes.txt")
    out.write_text(
        json.dumps(
            {
                "experiment_id": run.info.experiment_id,
                "run_id": run.info.run_id,
                "model_id": info.model_id,
                "version": version,
                "alias_version": client.get_model_version_by_alias(model_name, "champion").version,
                "max_difference": float(np.abs(served - expected).max()),
                "same_graph_by_version": by_version.SerializeToString() == loaded.SerializeToString(),
                "note": Path(note_path).read_text(),
                "example": features[:2].tolist(),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
