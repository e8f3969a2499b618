"""One builder for every management resource's commands: ``list``, ``get``, ``create``, ``update`` and
``delete``, each with ``--json``.

A resource is described once (``Resource``): its API path, the columns of its list table, and its fields
(``OptionField``), from which the typed ``create`` and ``update`` options are generated. Values a user gives
by name (a role, an organization) are turned into ids by a ``convert`` step that asks the server.

(No ``from __future__ import annotations`` here: the commands are closures whose annotations name local
values, which Typer can only see when annotations are evaluated where they are written.)
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.http_client import ApiClient, QueryParams
from switchyard.cli.output import Column, print_json, print_record, print_success, print_table
from switchyard.cli.state import open_client

Converter = Callable[[ApiClient, Any], Any]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer as it is.")]


@dataclass(frozen=True, slots=True)
class OptionField:
    """A body field of ``create``/``update``, given as ``--<param>`` on the command line."""

    param: str
    """The option's name: ``--expires-at`` for ``expires_at``."""
    type: Any
    """The type Typer converts the text to (``str`` when a ``parser`` does it)."""
    help: str
    body_key: str | None = None
    """The field in the JSON body; default ``param``."""
    multiple: bool = False
    """Repeatable; the values are sent as a list (or whatever ``parser``/``convert`` make of them)."""
    required: bool = False
    """Required by ``create``."""
    on_create: bool = True
    on_update: bool = True
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    parser: Callable[[str], Any] | None = None
    """Turns one command-line string into a value, at parse time (a bad value is a usage error)."""
    convert: Converter | None = None
    """Turns the parsed value into the body value, with the server's help (names to ids)."""
    clearable: bool = False
    """``update --clear <param>`` empties it: null, an empty list for a ``multiple`` field, or ``{}``."""
    mapping: bool = False
    """The body value is an object built from the repeated values: ``--clear`` sends ``{}``."""

    @property
    def key(self) -> str:
        return self.body_key or self.param

    @property
    def flag(self) -> str:
        return self.param.replace("_", "-")

    @property
    def cleared(self) -> Any:
        if self.mapping:
            return {}
        return [] if self.multiple else None

    def parameter(self, *, required: bool) -> inspect.Parameter:
        info = typer.Option(
            f"--{self.flag}",
            *self.aliases,
            help=self.help,
            metavar=self.metavar,
            parser=self.parser,
            show_default=False,
        )
        value_type = list[self.type] if self.multiple else self.type  # type: ignore[name-defined]
        kind = inspect.Parameter.KEYWORD_ONLY
        if required:
            return inspect.Parameter(self.param, kind, annotation=Annotated[value_type, info])
        return inspect.Parameter(self.param, kind, annotation=Annotated[value_type | None, info], default=None)


@dataclass(frozen=True, slots=True)
class Resource:
    command: str
    """The CLI group: ``switchyard <command> list``."""
    path: str
    singular: str
    help: str
    columns: tuple[Column, ...]
    fields: tuple[OptionField, ...]
    article: str = "a"
    """``a`` or ``an``, for messages: "Create an organization"."""
    lookup_field: str | None = "name"
    """A unique field that ``get``/``update``/``delete`` (and references from other resources) accept instead
    of the id; None when only ids identify an item."""
    lookup_lowercase: bool = False
    """The server stores the lookup field in lower case (emails), so a lookup is lowered too."""
    after_create: Callable[[dict[str, Any]], None] | None = None
    """Prints what ``create`` answered; default: the new item as a record."""
    extra_commands: Sequence[Callable[[typer.Typer, "Resource"], None]] = field(default=())

    @property
    def a_singular(self) -> str:
        return f"{self.article} {self.singular}"

    def item_path(self, item_id: int) -> str:
        return f"{self.path}/{item_id}"


def resolve_id(client: ApiClient, resource: Resource, ref: str | int) -> int:
    """An item's id from its id or, for resources with a ``lookup_field``, its name (or email)."""
    text = str(ref).strip()
    if text.isdigit():
        return int(text)
    if resource.lookup_field is None:
        raise CliError(f"'{text}' is not {resource.a_singular} id: give the number.")
    if resource.lookup_lowercase:
        text = text.lower()
    page = client.get(resource.path, params=[(resource.lookup_field, text), ("limit", 2)])
    matches = page.get("data", []) if isinstance(page, dict) else []
    if not matches:
        raise CliError(f"No {resource.singular} with {resource.lookup_field} '{text}'.")
    if len(matches) > 1:
        raise CliError(f"Several {resource.singular}s have {resource.lookup_field} '{text}'; use the id.")
    return int(matches[0]["id"])


def reference_to(resource: Resource) -> Converter:
    """A ``convert`` step for an option that names another resource by id or name."""

    def resolve(client: ApiClient, value: Any) -> int:
        return resolve_id(client, resource, value)

    return resolve


def build_body(
    client: ApiClient, fields: Sequence[OptionField], values: dict[str, Any], cleared: Sequence[str] = ()
) -> dict[str, Any]:
    """The JSON body from the options that were given (``None``: not given, so not sent) and the fields named
    by ``--clear``."""
    body: dict[str, Any] = {}
    for option in fields:
        if option.flag in cleared:
            if values.get(option.param) is not None:
                raise CliError(f"Give either --{option.flag} or --clear {option.flag}, not both.")
            body[option.key] = option.cleared
            continue
        value = values.get(option.param)
        if value is None:
            continue
        if option.convert is not None:
            value = option.convert(client, value)
        body[option.key] = value
    return body


def _ref_help(resource: Resource) -> str:
    if resource.lookup_field is None:
        return f"The {resource.singular}'s id."
    return f"The {resource.singular}'s id or {resource.lookup_field}."


def _with_signature(function: Callable[..., None], parameters: list[inspect.Parameter]) -> Callable[..., None]:
    """Gives ``function(**values)`` the signature Typer reads its options from."""
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return function


def _common_parameters() -> list[inspect.Parameter]:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return [inspect.Parameter("ctx", kind, annotation=typer.Context)]


def _json_parameter() -> inspect.Parameter:
    return inspect.Parameter("json_output", inspect.Parameter.KEYWORD_ONLY, annotation=JsonOption, default=False)


def _clear_parameter(fields: Sequence[OptionField]) -> list[inspect.Parameter]:
    names = tuple(option.flag for option in fields if option.clearable)
    if not names:
        return []
    info = typer.Option(
        "--clear",
        help=f"Empty this field (repeatable): {', '.join(names)}.",
        metavar="FIELD",
        show_default=False,
    )
    choice = StrEnum("ClearableField", {name.replace("-", "_"): name for name in names})  # type: ignore[misc]
    annotation = Annotated[list[choice] | None, info]
    return [inspect.Parameter("clear", inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)]


def _parse_filters(values: list[str]) -> QueryParams:
    params: QueryParams = []
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"'{value}' is not FIELD=VALUE.", param_hint="--filter")
        params.append((name.strip(), wanted))
    return params


def build_resource_app(resource: Resource) -> typer.Typer:
    app = typer.Typer(help=resource.help, no_args_is_help=True)
    singular = resource.singular
    ref_argument = typer.Argument(help=_ref_help(resource), metavar="ID", show_default=False)

    @app.command("list", help=f"List {singular}s (--json shows every field).")
    def list_items(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option(min=1, help="Page size.")] = 20,
        offset: Annotated[int, typer.Option(min=0, help="Items to skip.")] = 0,
        filters: Annotated[
            list[str] | None,
            typer.Option("--filter", "-f", metavar="FIELD=VALUE", help="Only items whose FIELD is VALUE (repeatable)."),
        ] = None,
        order_by: Annotated[str | None, typer.Option(help="Sort by this field (default: id).")] = None,
        desc: Annotated[bool, typer.Option("--desc", help="Sort in descending order.")] = False,
        json_output: JsonOption = False,
    ) -> None:
        params: QueryParams = [("limit", limit), ("offset", offset), *_parse_filters(filters or [])]
        if order_by is not None:
            params.append(("order_by", order_by))
        if desc:
            params.append(("order_direction", "desc"))
        with open_client(ctx) as client:
            page = client.get(resource.path, params=params)
        if json_output:
            print_json(page)
            return
        items = page.get("data", [])
        total = page.get("total", len(items))
        first = offset + 1 if items else 0
        caption = f"{first}-{offset + len(items)} of {total} {singular}s"
        if offset + len(items) < total:
            caption += f" (next page: --offset {offset + len(items)})"
        print_table(items, resource.columns, caption=caption)

    @app.command("get", help=f"Show one {singular}.")
    def get_item(ctx: typer.Context, ref: Annotated[str, ref_argument], json_output: JsonOption = False) -> None:
        with open_client(ctx) as client:
            item = client.get(resource.item_path(resolve_id(client, resource, ref)))
        if json_output:
            print_json(item)
        else:
            print_record(item, resource.columns)

    @app.command("delete", help=f"Delete {resource.a_singular}.")
    def delete_item(
        ctx: typer.Context,
        ref: Annotated[str, ref_argument],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        json_output: JsonOption = False,
    ) -> None:
        with open_client(ctx) as client:
            item_id = resolve_id(client, resource, ref)
            if not yes:
                typer.confirm(f"Delete {singular} {item_id}?", abort=True)
            answer = client.delete(resource.item_path(item_id))
        if json_output:
            print_json(answer)
        else:
            print_success(f"Deleted {singular} {item_id}.")

    create_fields = [option for option in resource.fields if option.on_create]
    update_fields = [option for option in resource.fields if option.on_update]

    def create_item(ctx: typer.Context, json_output: bool, **values: Any) -> None:
        with open_client(ctx) as client:
            item = client.post(resource.path, build_body(client, create_fields, values))
        if json_output:
            print_json(item)
        elif resource.after_create is not None:
            resource.after_create(item)
        else:
            print_success(f"Created {singular} {item.get('id')}.")
            print_record(item, resource.columns)

    def update_item(
        ctx: typer.Context, ref: str, json_output: bool, clear: list[str] | None = None, **values: Any
    ) -> None:
        if not clear and all(value is None for value in values.values()):
            command = f"switchyard {resource.command} update --help"
            raise CliError(f"Nothing to update: give at least one option (see '{command}').")
        with open_client(ctx) as client:
            item_id = resolve_id(client, resource, ref)
            body = build_body(client, update_fields, values, clear or ())
            item = client.patch(resource.item_path(item_id), body)
        if json_output:
            print_json(item)
        else:
            print_success(f"Updated {singular} {item_id}.")
            print_record(item, resource.columns)

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    ref_parameter = inspect.Parameter("ref", positional, annotation=Annotated[str, ref_argument])
    app.command("create", help=f"Create {resource.a_singular}.")(
        _with_signature(
            create_item,
            [
                *_common_parameters(),
                *(option.parameter(required=option.required) for option in create_fields),
                _json_parameter(),
            ],
        )
    )
    app.command("update", help=f"Change {resource.a_singular}; only the options given change.")(
        _with_signature(
            update_item,
            [
                *_common_parameters(),
                ref_parameter,
                *(option.parameter(required=False) for option in update_fields),
                *_clear_parameter(update_fields),
                _json_parameter(),
            ],
        )
    )
    for add_command in resource.extra_commands:
        add_command(app, resource)
    return app
