"""``switchyard mlflow run -- CMD…``: the command sees the context's server and credential as MLflow's tracking
variables, and its exit code is the CLI's. (The stock SDK run this way is in ``tests/e2e/test_mlflow_e2e.py``.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.cli.conftest import Invoke, LiveServer
from tests.conftest import ADMIN_KEY

SHOW_ENV = (
    "import json, os, sys; "
    "json.dump({k: v for k, v in os.environ.items() if k.startswith('MLFLOW_')}, open(sys.argv[1], 'w')); "
    "sys.exit(int(sys.argv[2]))"
)


def test_the_command_gets_the_tracking_uri_and_token_and_its_exit_code_is_ours(
    invoke: Invoke, logged_in: LiveServer, tmp_path: Path
) -> None:
    seen = tmp_path / "env.json"
    result = invoke("mlflow", "run", "--experiment", "churn", "--", sys.executable, "-c", SHOW_ENV, str(seen), "3")
    assert result.exit_code == 3, result.output
    assert json.loads(seen.read_text()) == {
        "MLFLOW_TRACKING_URI": f"{logged_in.url}/mlflow",
        "MLFLOW_TRACKING_TOKEN": ADMIN_KEY,
        "MLFLOW_EXPERIMENT_NAME": "churn",
    }
    assert invoke("mlflow", "run", sys.executable, "-c", SHOW_ENV, str(seen), "0").exit_code == 0
    assert "MLFLOW_EXPERIMENT_NAME" not in json.loads(seen.read_text())


def test_a_missing_command_or_context_is_one_line(invoke: Invoke, logged_in: LiveServer, tmp_path: Path) -> None:
    missing = invoke("mlflow", "run", "--", str(tmp_path / "no-such-program"))
    assert missing.exit_code == 1 and "Cannot run" in missing.output and "Traceback" not in missing.output
    assert invoke("logout").exit_code == 0
    logged_out = invoke("mlflow", "run", "--", sys.executable, "-c", "pass")
    assert logged_out.exit_code == 1 and "has no credential" in logged_out.output
