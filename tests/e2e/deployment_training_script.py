"""A training script as a user writes it, run by ``switchyard mlflow run`` in ``test_deployments_e2e.py``: two
scikit-learn classifiers on iris, converted with skl2onnx (zipmap off, opset 17), logged with the stock ``mlflow``
SDK (``mlflow.onnx.log_model``, which records no signature) and registered as versions 1 and 2 of one model
name; the alias ``champion`` names version 1.

Usage: python deployment_training_script.py OUT.json MODEL_NAME
Writes the logged model ids, a few samples and what each version predicts for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow.onnx
import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import mlflow
from mlflow import MlflowClient


def main(out: Path, model_name: str) -> None:
    features, targets = load_iris(return_X_y=True)
    features = features.astype(np.float32)
    samples = features[::10]
    logged = []
    for estimator in (LogisticRegression(max_iter=500), DecisionTreeClassifier(max_depth=2, random_state=0)):
        estimator.fit(features, targets)
        onnx_model = convert_sklearn(
            estimator,
            initial_types=[("float_input", FloatTensorType([None, 4]))],
            options={id(estimator): {"zipmap": False}},
            target_opset=17,
        )
        with mlflow.start_run(run_name=type(estimator).__name__):
            info = mlflow.onnx.log_model(onnx_model, name="iris_classifier", registered_model_name=model_name)
        logged.append(
            {
                "model_id": info.model_id,
                "version": str(info.registered_model_version),
                "labels": estimator.predict(samples).tolist(),
            }
        )
    MlflowClient().set_registered_model_alias(model_name, "champion", logged[0]["version"])
    out.write_text(json.dumps({"name": model_name, "samples": samples.tolist(), "versions": logged}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
