"""Calling models from the command line, with the active context's credential: ``switchyard models list``,
``switchyard chat`` (streamed token by token) and ``switchyard embed``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from switchyard.cli.inference_client import open_inference_client
from switchyard.cli.output import Column, print_json, print_table
from switchyard.cli.resources import JsonOption

FIRST_VALUES = 5
"""How many values of each embedding ``embed`` shows."""

MODEL_COLUMNS = (
    Column("id"),
    Column("type"),
    Column("aliases"),
    Column("context_length", "CONTEXT LENGTH"),
)

models_app = typer.Typer(help="The models you may call.", no_args_is_help=True)


@models_app.command("list")
def list_models(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the models (routers) your credential may call: GET /v1/models."""
    with open_inference_client(ctx, timeout=30.0) as client:
        page = client.get("/v1/models")
    if json_output:
        print_json(page)
        return
    models = page.get("data", []) if isinstance(page, dict) else []
    print_table(models, MODEL_COLUMNS, caption=f"{len(models)} model{'' if len(models) == 1 else 's'}")


def chat(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model to ask (see 'switchyard models list').", show_default=False)],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What to ask.", show_default=False)],
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="A system message before the prompt.", show_default=False)
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", "-t", min=0.0, help="Sampling temperature.", show_default=False)
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", "-n", min=1, help="Stop after this many tokens.", show_default=False)
    ] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Wait for the whole answer, then print it.")] = False,
) -> None:
    """Ask a chat model; the answer is printed as it is generated."""
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": prompt})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    with open_inference_client(ctx) as client:
        if no_stream:
            answer = client.post("/v1/chat/completions", body)
            choices = answer.get("choices") or [{}]
            typer.echo((choices[0].get("message") or {}).get("content") or "")
            return
        printed = False
        try:
            for event in client.stream_events("/v1/chat/completions", {**body, "stream": True}):
                for choice in event.get("choices") or []:
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        typer.echo(content, nl=False)  # click.echo flushes: each token shows as it arrives
                        printed = True
        except BaseException:
            if printed:
                typer.echo("")  # the error line starts on a line of its own
            raise
    typer.echo("")


def embed(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The embedding model (see 'switchyard models list').")],
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="A text to embed (repeatable).", show_default=False)
    ],
    json_output: JsonOption = False,
) -> None:
    """Embed texts; prints each vector's dimensions and first values (--json: the whole answer)."""
    body = {"model": model, "input": inputs if len(inputs) > 1 else inputs[0], "encoding_format": "float"}
    with open_inference_client(ctx) as client:
        answer = client.post("/v1/embeddings", body)
    if json_output:
        print_json(answer)
        return
    items = sorted(answer.get("data") or [], key=lambda item: item.get("index", 0))
    for item in items:
        vector = item.get("embedding") or []
        head = ", ".join(f"{value:.6f}" for value in vector[:FIRST_VALUES])
        more = ", …" if len(vector) > FIRST_VALUES else ""
        typer.echo(f"[{item.get('index', 0)}] {len(vector)} dimensions: [{head}{more}]")
    tokens = (answer.get("usage") or {}).get("prompt_tokens")
    if tokens is not None:
        typer.echo(f"{len(items)} embedding{'' if len(items) == 1 else 's'}, {tokens} prompt tokens")
