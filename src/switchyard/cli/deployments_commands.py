"""``switchyard deployments``: deploy logged models, follow them until they run, roll them to another model
version, and send them tensors (Open Inference Protocol V2).

    switchyard deployments create logged-model --model-id models:/iris@champion --name iris
    switchyard deployments list --watch
    echo '{"inputs": [...]}' | switchyard deployments infer iris --data -
    switchyard deployments update iris --model-id models:/iris/2
    switchyard deployments delete iris --yes
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.http_client import ApiClient, QueryParams
from switchyard.cli.identity_resources import parse_pair
from switchyard.cli.inference_client import open_inference_client
from switchyard.cli.output import Column, print_json, print_record, print_success, print_table
from switchyard.cli.resources import JsonOption, Resource, resolve_id
from switchyard.cli.state import open_client
from switchyard.domain.deployments import ServingSize

PATH = "/api/v1/deployments"
COLUMNS = (
    Column("id"),
    Column("created_at", "CREATED AT"),
    Column("name"),
    Column("kind"),
    Column("description"),
    Column("status"),
    Column("revisions", "RUNNING/LATEST"),
    Column("serving_size", "SIZE"),
    Column("model"),
    Column("tags"),
)
DEPLOYMENTS = Resource(
    command="deployments", path=PATH, singular="deployment", help="Deployments.", columns=COLUMNS, fields=()
)

app = typer.Typer(
    help="Deployments of logged (ONNX) models, and tensor inference on them (Open Inference Protocol V2).",
    no_args_is_help=True,
)
create_app = typer.Typer(help="Deploy a model.", no_args_is_help=True)
app.add_typer(create_app, name="create")

RefArgument = Annotated[str, typer.Argument(help="The deployment's id or name.", metavar="ID", show_default=False)]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model-id",
        "-m",
        help="The logged model: its id (m-…), models:/NAME@ALIAS or models:/NAME/VERSION.",
        show_default=False,
    ),
]
SizeOption = Annotated[
    ServingSize | None,
    typer.Option("--serving-size", "-s", help="Resources per process (default small).", show_default=False),
]


def _tags_text(item: dict[str, Any]) -> str:
    return ", ".join(f"{t['key']}={t['value']}" if t.get("value") else t["key"] for t in item.get("tags") or [])


def _tensors_text(specs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['name']} {s['datatype']} {s['shape']}" for s in specs)


def shown(item: dict[str, Any]) -> dict[str, Any]:
    """A deployment as a table row: serving size, revisions and tags flattened."""
    running = item.get("running_revision")
    return {
        **item,
        "serving_size": (item.get("serving") or {}).get("size"),
        "revisions": f"{running if running is not None else '-'}/{item.get('revision')}",
        "tags": _tags_text(item),
    }


def record(item: dict[str, Any]) -> dict[str, Any]:
    """A deployment as ``get`` prints it: every field, nested ones on one line."""
    data = item.get("model_data") or {}
    served = (
        f"{data.get('platform')}: {_tensors_text(data.get('inputs', []))} → {_tensors_text(data.get('outputs', []))}"
        if data
        else None
    )
    return {
        **item,
        "serving": (item.get("serving") or {}).get("size"),
        "tags": _tags_text(item),
        "model_data": served,
    }


def settled(item: dict[str, Any]) -> bool:
    """Nothing more will change on its own: it runs its latest revision, or that revision failed."""
    if item.get("status") == "pending":
        return False
    return item.get("error") is not None or item.get("running_revision") == item.get("revision")


def _tags(values: list[str] | None) -> dict[str, str]:
    return dict(parse_pair(value) for value in values or [])


@create_app.command("logged-model")
def create_logged_model(
    ctx: typer.Context,
    model_id: ModelOption,
    name: Annotated[
        str, typer.Option("--name", "-n", help="Unique; the model name clients infer with.", show_default=False)
    ],
    description: Annotated[str, typer.Option("--description", "-d", help="What it is for.")] = "",
    serving_size: SizeOption = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", "-t", metavar="KEY=VALUE", help="A tag (repeatable).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Deploy a logged model; it loads in the background (see 'switchyard deployments list --watch')."""
    body: dict[str, Any] = {"kind": "logged-model", "model": model_id, "name": name, "description": description}
    if serving_size is not None:
        body["serving"] = {"size": serving_size.value}
    if tags:
        body["tags"] = _tags(tags)
    with open_client(ctx) as client:
        item = client.post(PATH, body)
    if json_output:
        print_json(item)
        return
    print_success(f"Created deployment {item['id']} ({item['status']}).")
    print_record(record(item))


def _page(client: ApiClient, params: QueryParams) -> list[dict[str, Any]]:
    page = client.get(PATH, params=params)
    return list(page.get("data", [])) if isinstance(page, dict) else []


@app.command("list")
def list_deployments(
    ctx: typer.Context,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Print the table again whenever it changes, until every deployment has settled."
        ),
    ] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between two looks with --watch.")] = 2.0,
    limit: Annotated[int, typer.Option(min=1, help="Page size.")] = 100,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-f", metavar="FIELD=VALUE", help="Only items whose FIELD is VALUE (repeatable)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List deployments with their status (--watch: until none is loading or rolling out)."""
    params: QueryParams = [("limit", limit), *(parse_pair(f) for f in filters or [])]
    previous: list[tuple[Any, ...]] | None = None
    with open_client(ctx) as client:
        while True:
            items = _page(client, params)
            state = [(i["id"], i["status"], i["revision"], i["running_revision"], i["error"]) for i in items]
            if state != previous:
                if json_output:
                    print_json({"object": "list", "data": items})
                else:
                    print_table([shown(i) for i in items], COLUMNS, caption=f"{len(items)} deployments")
                previous = state
            if not watch or all(settled(i) for i in items):
                return
            time.sleep(interval)


@app.command("get")
def get_deployment(ctx: typer.Context, ref: RefArgument, json_output: JsonOption = False) -> None:
    """Show one deployment."""
    with open_client(ctx) as client:
        item = client.get(f"{PATH}/{resolve_id(client, DEPLOYMENTS, ref)}")
    if json_output:
        print_json(item)
    else:
        print_record(record(item))


@app.command("update")
def update_deployment(
    ctx: typer.Context,
    ref: RefArgument,
    model_id: Annotated[
        str | None,
        typer.Option(
            "--model-id", "-m", help="Roll out this model (the same alias again: what it names now).", metavar="MODEL"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="A new name.", show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", show_default=False)] = None,
    serving_size: SizeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a deployment; a new model or serving size rolls out while the running revision serves."""
    body: dict[str, Any] = {
        key: value
        for key, value in (("model", model_id), ("name", name), ("description", description))
        if value is not None
    }
    if serving_size is not None:
        body["serving"] = {"size": serving_size.value}
    if not body:
        raise CliError("Nothing to update: give at least one option (see 'switchyard deployments update --help').")
    with open_client(ctx) as client:
        deployment_id = resolve_id(client, DEPLOYMENTS, ref)
        item = client.patch(f"{PATH}/{deployment_id}", body)
    if json_output:
        print_json(item)
        return
    print_success(f"Updated deployment {deployment_id} (revision {item['revision']}).")
    print_record(record(item))


@app.command("delete")
def delete_deployment(
    ctx: typer.Context,
    ref: RefArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a deployment: it stops serving at once."""
    with open_client(ctx) as client:
        deployment_id = resolve_id(client, DEPLOYMENTS, ref)
        if not yes:
            typer.confirm(f"Delete deployment {deployment_id}?", abort=True)
        client.delete(f"{PATH}/{deployment_id}")
    print_success(f"Deleted deployment {deployment_id}.")


@app.command("tag")
def tag_deployment(
    ctx: typer.Context,
    ref: RefArgument,
    tags: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", help="Tags to set.", show_default=False)],
) -> None:
    """Tag a deployment (a tag it has gets the new value)."""
    with open_client(ctx) as client:
        deployment_id = resolve_id(client, DEPLOYMENTS, ref)
        client.post(f"{PATH}/{deployment_id}/tags", {"tags": _tags(tags)})
    print_success(f"Tagged deployment {deployment_id}.")


@app.command("untag")
def untag_deployment(
    ctx: typer.Context,
    ref: RefArgument,
    keys: Annotated[list[str], typer.Argument(metavar="KEY...", help="Tags to remove.", show_default=False)],
) -> None:
    """Remove tags from a deployment."""
    with open_client(ctx) as client:
        deployment_id = resolve_id(client, DEPLOYMENTS, ref)
        for key in keys:
            client.delete(f"{PATH}/{deployment_id}/tags/{key}")
    print_success(f"Removed {len(keys)} tag{'' if len(keys) == 1 else 's'} from deployment {deployment_id}.")


@app.command("logs")
def deployment_logs(
    ctx: typer.Context,
    ref: RefArgument,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="The latest lines to show.")] = 100,
    json_output: JsonOption = False,
) -> None:
    """What loading and serving the deployment logged (in the server process that answers)."""
    with open_client(ctx) as client:
        deployment_id = resolve_id(client, DEPLOYMENTS, ref)
        page = client.get(f"{PATH}/{deployment_id}/logs", params=[("limit", limit)])
    if json_output:
        print_json(page)
        return
    for line in page.get("data", []):
        typer.echo(f"{str(line['time'])[:19].replace('T', ' ')}  {line['level']:<7}  {line['message']}")


def _read_request(data: str) -> dict[str, Any]:
    text = sys.stdin.read() if data == "-" else data
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--data is not JSON ({exc}).") from None
    if not isinstance(request, dict):
        raise CliError('--data must be a V2 inference request: {"inputs": [{"name", "shape", "datatype", "data"}]}.')
    return request


@app.command("infer")
def infer(
    ctx: typer.Context,
    ref: RefArgument,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            "-d",
            metavar="JSON|-",
            help='The V2 inference request, {"inputs": [...]}; - reads it from standard input.',
            show_default=False,
        ),
    ],
) -> None:
    """Send tensors to a deployment and print its answer (Open Inference Protocol V2, JSON)."""
    request = _read_request(data)
    ref = ref.strip()
    path = f"{PATH}/{ref}/v2/models/default/infer" if ref.isdigit() else f"/v2/models/{ref}/infer"
    with open_inference_client(ctx) as client:
        print_json(client.post(path, request))
