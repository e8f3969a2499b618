"""The gateway resources the CLI manages: providers (one model at one upstream) and routers (the model names
clients call, over one or more providers), built with the generic builder in ``resources.py``; plus
``providers test``, which asks the server to send a provider a tiny request.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

import typer

from switchyard.cli.errors import CliError
from switchyard.cli.http_client import ApiClient
from switchyard.cli.identity_resources import CREDENTIALS, parse_pair
from switchyard.cli.output import Column, print_json, print_success
from switchyard.cli.resources import JsonOption, OptionField, Resource, reference_to, resolve_id
from switchyard.cli.state import open_client
from switchyard.domain.gateway import ROUTER_ALIASES, ModelType, RouterMode, Strategy, WireFormat

TIMEOUT_NAMES = ("connect", "first_byte", "total")
MEMBER_OPTION = re.compile(r"^(weight|priority)=(\d+)$")


def parse_switch(text: str) -> bool:
    """``yes``/``no`` (also true/false, on/off, 1/0)."""
    value = text.strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise typer.BadParameter(f"'{text}' is not yes or no.")


def parse_auth_header(text: str) -> dict[str, Any]:
    """``NAME[: PREFIX]`` → the provider's ``auth``: ``Authorization: Bearer`` or ``x-api-key``."""
    name, _, prefix = text.partition(":")
    if not name.strip() or " " in name.strip():
        raise typer.BadParameter(f"'{text}' is not a header name, optionally with ': PREFIX' (e.g. 'x-api-key').")
    return {"header_name": name.strip(), "header_prefix": prefix.strip(), "space_after_prefix": True}


STRATEGY_ALIASES = {name: value for name, value in ROUTER_ALIASES.items() if value in set(Strategy)}


def parse_strategy(text: str) -> str:
    if text in STRATEGY_ALIASES:
        return STRATEGY_ALIASES[text]
    if text not in set(Strategy):
        raise typer.BadParameter(f"'{text}' is not one of {', '.join([*Strategy, *STRATEGY_ALIASES])}.")
    return text


def parse_timeout(text: str) -> tuple[str, float]:
    """``NAME=SECONDS`` with NAME one of connect, first_byte, total."""
    name, value = parse_pair(text)
    name = name.replace("-", "_")
    if name not in TIMEOUT_NAMES:
        raise typer.BadParameter(f"'{text}': the timeout is one of {', '.join(TIMEOUT_NAMES)}.")
    try:
        return name, float(value)
    except ValueError:
        raise typer.BadParameter(f"'{text}': the seconds must be a number.") from None


def parse_option_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` where VALUE is read as JSON when it is JSON (``temperature=0.2``, ``stop=["\\n"]``), else
    as text (``user=ada``)."""
    key, raw = parse_pair(text)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def parse_member(text: str) -> dict[str, Any]:
    """``PROVIDER[,weight=N][,priority=N]`` → a router member (the provider still by name or id)."""
    parts = text.split(",")
    options: dict[str, Any] = {}
    while len(parts) > 1 and (match := MEMBER_OPTION.match(parts[-1].strip())):
        options[match.group(1)] = int(match.group(2))
        parts.pop()
    ref = ",".join(parts).strip()
    if not ref:
        raise typer.BadParameter(f"'{text}' is not PROVIDER[,weight=N][,priority=N].")
    return {"provider": ref, **options}


def _mapping(_: ApiClient, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


def _enum_value(_: ApiClient, value: StrEnum) -> str:
    return value.value


def format_members(members: list[dict[str, Any]]) -> str:
    """``3 (weight 2), 4 (priority 1)``: a router's providers by id, with what they override."""
    shown = []
    for member in members:
        extras = [f"{key} {member[key]}" for key in ("weight", "priority") if member.get(key) is not None]
        shown.append(f"{member.get('provider_id')}" + (f" ({', '.join(extras)})" if extras else ""))
    return ", ".join(shown) or "-"


def _add_test(app: typer.Typer, resource: Resource) -> None:
    @app.command("test")
    def test_provider(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(metavar="ID", help="The provider's id or name.", show_default=False)],
        json_output: JsonOption = False,
    ) -> None:
        """Send the provider a tiny request (chat, or embeddings for an embedding model); exit 1 when it fails."""
        with open_client(ctx) as client:
            provider_id = resolve_id(client, resource, ref)
            result = client.post(f"{resource.item_path(provider_id)}/test")
        if json_output:
            print_json(result)
            if not result.get("ok"):
                raise typer.Exit(1)
            return
        took = f"{result.get('latency_ms', 0):.0f} ms"
        if result.get("ok"):
            print_success(f"Provider {provider_id} answered {result.get('operation')} in {took}.")
            return
        error = result.get("error") or {}
        status = f"HTTP {result['status']}" if result.get("status") is not None else "no answer"
        raise CliError(
            f"Provider {provider_id} failed the {result.get('operation')} test after {took} ({status}): "
            f"{error.get('message', 'unknown error')}"
        )


PROVIDERS = Resource(
    command="providers",
    path="/api/v1/providers",
    singular="provider",
    help="Providers: one model at one upstream (an API or a self-hosted engine), in its wire format.",
    columns=(
        Column("id"),
        Column("name"),
        Column("wire_format", "FORMAT"),
        Column("upstream_model", "MODEL"),
        Column("base_url", "URL"),
        Column("weight"),
        Column("priority"),
        Column("enabled"),
        Column("api_key_hint", "KEY"),
    ),
    fields=(
        OptionField("name", str, "Unique name.", required=True),
        OptionField("wire_format", WireFormat, "The upstream's API.", required=True, convert=_enum_value),
        OptionField("base_url", str, "The upstream's base URL, e.g. https://api.openai.com/v1.", required=True),
        OptionField("upstream_model", str, "The model name the upstream knows.", required=True),
        OptionField("api_key", str, "The upstream's API key (sealed on the server; never shown).", clearable=True),
        OptionField(
            "credential",
            str,
            "A credential (name or id) whose api_key/token authenticates, instead of --api-key.",
            body_key="credential_id",
            convert=reference_to(CREDENTIALS),
            clearable=True,
        ),
        OptionField(
            "auth_header",
            str,
            "How the key is sent: 'Authorization: Bearer' (the default) or a header such as 'x-api-key'.",
            body_key="auth",
            metavar="NAME[: PREFIX]",
            parser=parse_auth_header,
        ),
        OptionField(
            "timeout",
            str,
            "A timeout in seconds: connect, first_byte or total (repeatable; on update, replaces all).",
            body_key="timeouts",
            multiple=True,
            metavar="NAME=SECONDS",
            parser=parse_timeout,
            convert=_mapping,
            mapping=True,
            clearable=True,
        ),
        OptionField(
            "path",
            str,
            "A path instead of the wire format's own, e.g. chat=/chat (repeatable; on update, replaces all).",
            body_key="paths",
            multiple=True,
            metavar="OPERATION=PATH",
            parser=parse_pair,
            convert=_mapping,
            mapping=True,
            clearable=True,
        ),
        OptionField(
            "header",
            str,
            "An extra header sent upstream (repeatable; on update, replaces all).",
            body_key="extra_headers",
            multiple=True,
            metavar="NAME=VALUE",
            parser=parse_pair,
            convert=_mapping,
            mapping=True,
            clearable=True,
        ),
        OptionField(
            "default_option",
            str,
            "A request field added when the client did not send it; the value is JSON or text (repeatable; "
            "on update, replaces all).",
            body_key="default_options",
            multiple=True,
            metavar="KEY=VALUE",
            parser=parse_option_value,
            convert=_mapping,
            mapping=True,
            clearable=True,
        ),
        OptionField("api_version", str, "The upstream API version (azure_openai).", clearable=True),
        OptionField("weight", int, "Share of the traffic within its priority tier (0: last resort)."),
        OptionField("priority", int, "Fallback order: lower is tried first."),
        OptionField("enabled", str, "yes or no.", metavar="yes|no", parser=parse_switch),
        OptionField("max_in_flight", int, "At most this many requests at once.", clearable=True),
        OptionField("context_length", int, "The model's context window, in tokens.", clearable=True),
        OptionField("vector_size", int, "Dimensions of the embeddings it returns.", clearable=True),
        OptionField("total_params_b", float, "Billions of parameters (carbon accounting).", clearable=True),
        OptionField("active_params_b", float, "Billions of active parameters (MoE).", clearable=True),
        OptionField("hosting_zone", str, "Where it runs: ISO 3166-1 alpha-3, or WOR for the world average."),
        OptionField(
            "capability",
            str,
            "What it can do: chat, completions, embeddings, rerank, images, audio_transcriptions, audio_speech, "
            "tools, vision (repeatable; on update, replaces the list).",
            body_key="capabilities",
            multiple=True,
            clearable=True,
        ),
    ),
    extra_commands=(_add_test,),
)


def _members(client: ApiClient, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resolved = []
    for member in members:
        options = {key: value for key, value in member.items() if key != "provider"}
        resolved.append({"provider_id": resolve_id(client, PROVIDERS, member["provider"]), **options})
    return resolved


ROUTERS = Resource(
    command="routers",
    path="/api/v1/routers",
    singular="router",
    help="Routers: the model names clients call, each over providers balanced or tried in order.",
    columns=(
        Column("id"),
        Column("name"),
        Column("aliases"),
        Column("model_type", "TYPE"),
        Column("mode"),
        Column("strategy"),
        Column("providers", format=format_members),
        Column("enabled"),
    ),
    fields=(
        OptionField("name", str, "The model name clients send.", required=True),
        OptionField(
            "alias",
            str,
            "Another name clients may send (repeatable; on update, replaces the list).",
            body_key="aliases",
            multiple=True,
            clearable=True,
        ),
        OptionField("description", str, "What it is for."),
        OptionField("model_type", ModelType, "What kind of model it is.", required=True, convert=_enum_value),
        OptionField("mode", RouterMode, "Spread the load, or try providers in order.", convert=_enum_value),
        OptionField(
            "strategy",
            str,
            "How a loadbalance router picks a provider.",
            metavar="|".join([*Strategy, *STRATEGY_ALIASES]),
            parser=parse_strategy,
        ),
        OptionField(
            "provider",
            str,
            "A provider by name or id, optionally overriding its weight or priority here (repeatable; in order; "
            "on update, replaces the list).",
            body_key="providers",
            multiple=True,
            metavar="PROVIDER[,weight=N][,priority=N]",
            parser=parse_member,
            convert=_members,
            clearable=True,
        ),
        OptionField("cost_prompt_tokens", float, "Price of one million prompt tokens."),
        OptionField("cost_completion_tokens", float, "Price of one million completion tokens."),
        OptionField(
            "usage_extras", str, "yes: add cost and carbon to answers' usage.", metavar="yes|no", parser=parse_switch
        ),
        OptionField("enabled", str, "yes or no.", metavar="yes|no", parser=parse_switch),
    ),
)

RESOURCES = (PROVIDERS, ROUTERS)
