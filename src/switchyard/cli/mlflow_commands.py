"""``switchyard mlflow run -- CMD…``: run a training command against the active context's MLflow.

The command gets ``MLFLOW_TRACKING_URI=<server>/mlflow`` and ``MLFLOW_TRACKING_TOKEN=<the context's key or
session token>`` (the stock ``mlflow`` SDK sends it as ``Authorization: Bearer``), inherits the terminal, and
its exit code becomes ours (128 + N when a signal N ended it).
"""

from __future__ import annotations

import os
import subprocess
from typing import Annotated

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.inference_client import logged_in_context

app = typer.Typer(help="Experiment tracking with the stock mlflow SDK against the server's /mlflow.")


def tracking_environment(url: str, token: str, experiment: str | None = None) -> dict[str, str]:
    env = {"MLFLOW_TRACKING_URI": url.rstrip("/") + "/mlflow", "MLFLOW_TRACKING_TOKEN": token}
    if experiment:
        env["MLFLOW_EXPERIMENT_NAME"] = experiment
    return env


@app.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
def run(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help="The command and its arguments (after '--').")],
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Set MLFLOW_EXPERIMENT_NAME for the command.")
    ] = None,
) -> None:
    """Run COMMAND with MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN set for the active context.

    Example: switchyard mlflow run -- python train.py
    """
    context = logged_in_context(ctx)
    assert context.token is not None
    env = {**os.environ, **tracking_environment(context.url, context.token, experiment)}
    try:
        process = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise CliError(f"Cannot run '{command[0]}': {exc.strerror or exc}.") from None
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:  # the command got the same Ctrl-C; wait for it to finish
            continue
    raise typer.Exit(code if code >= 0 else 128 - code)
