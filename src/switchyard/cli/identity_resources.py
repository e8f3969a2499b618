"""The identity resources the CLI manages: organizations, roles, users, API keys and credentials.

Each is a ``Resource`` for the generic builder in ``resources.py``; what differs between them is here: the
columns, the options of ``create``/``update``, how an option's text becomes a body value, and the extras
(``keys create`` shows the new secret once; ``keys revoke``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from switchyard.cli.http_client import ApiClient
from switchyard.cli.output import Column, print_json, print_secret, print_success
from switchyard.cli.resources import JsonOption, OptionField, Resource, reference_to
from switchyard.cli.state import open_client

LIMIT_TYPES = ("rpm", "rpd", "tpm", "tpd")


class KeyStatus(StrEnum):
    active = "active"
    revoked = "revoked"


class CredentialType(StrEnum):
    hf = "hf"
    ngc = "ngc"
    s3 = "s3"
    provider = "provider"
    generic = "generic"


def parse_timestamp(text: str) -> str:
    """An ISO 8601 date or date-time, as the API takes it (``2026-01-31``, ``2026-01-31T12:00:00Z``)."""
    try:
        return datetime.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO 8601 date or time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)."
        ) from None


def parse_limit(text: str) -> dict[str, Any]:
    """``ROUTER:TYPE=VALUE`` (``*:rpm=60``, ``gpt-4o:tpd=100000``) → ``{"router", "type", "value"}``."""
    target, sep, amount = text.rpartition("=")
    router, colon, limit_type = target.rpartition(":")
    if not sep or not colon or not router or limit_type not in LIMIT_TYPES:
        raise typer.BadParameter(
            f"'{text}' is not ROUTER:TYPE=VALUE with TYPE one of {', '.join(LIMIT_TYPES)} (e.g. '*:rpm=60')."
        )
    try:
        value = int(amount)
    except ValueError:
        raise typer.BadParameter(f"'{text}': the VALUE must be a whole number.") from None
    if value < 0:
        raise typer.BadParameter(f"'{text}': the VALUE may not be negative.")
    return {"router": router, "type": limit_type, "value": value}


def format_limits(limits: list[dict[str, Any]]) -> str:
    """The inverse of ``parse_limit``: ``*:rpm=60, gpt-4o:tpd=100000``."""
    return ", ".join(f"{limit.get('router')}:{limit.get('type')}={limit.get('value')}" for limit in limits) or "-"


def parse_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may contain '=')."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"'{text}' is not KEY=VALUE.")
    return key.strip(), value


def _pairs_to_mapping(_: ApiClient, pairs: list[tuple[str, str]]) -> dict[str, str]:
    return dict(pairs)


def _enum_value(_: ApiClient, value: StrEnum) -> str:
    return value.value


EXPIRES_AT = OptionField(
    "expires_at",
    str,
    "When it stops working (ISO 8601, e.g. 2026-01-31T12:00:00Z).",
    parser=parse_timestamp,
    clearable=True,
)

ORGANIZATIONS = Resource(
    command="orgs",
    path="/api/v1/organizations",
    singular="organization",
    article="an",
    help="Organizations group users and share a budget.",
    columns=(Column("id"), Column("name"), Column("budget"), Column("created_at", "CREATED")),
    fields=(
        OptionField("name", str, "Unique name.", required=True),
        OptionField("budget", float, "Spending limit in the platform's currency.", clearable=True),
    ),
)

ROLES = Resource(
    command="roles",
    path="/api/v1/roles",
    singular="role",
    help="Roles grant permissions and set rate limits for their users.",
    columns=(
        Column("id"),
        Column("name"),
        Column("description"),
        Column("permissions"),
        Column("limits", format=format_limits),
    ),
    fields=(
        OptionField("name", str, "Unique name.", required=True),
        OptionField("description", str, "What the role is for."),
        OptionField(
            "permission",
            str,
            "A permission to grant (repeatable; on update, replaces the list). See GET /api/v1/permissions.",
            body_key="permissions",
            multiple=True,
            clearable=True,
        ),
        OptionField(
            "limit",
            str,
            "A rate limit, e.g. '*:rpm=60' for 60 requests a minute on every router (repeatable; on update, "
            "replaces the list). TYPE: rpm, rpd, tpm or tpd.",
            body_key="limits",
            multiple=True,
            clearable=True,
            metavar="ROUTER:TYPE=VALUE",
            parser=parse_limit,
        ),
    ),
)


USERS = Resource(
    command="users",
    path="/api/v1/users",
    singular="user",
    help="People (and services) that call the platform.",
    lookup_field="email",
    lookup_lowercase=True,
    columns=(
        Column("id"),
        Column("email"),
        Column("name"),
        Column("role_id", "ROLE"),
        Column("organization_id", "ORG"),
        Column("budget"),
        Column("priority"),
        Column("expires_at", "EXPIRES"),
    ),
    fields=(
        OptionField("email", str, "Email address, used to log in.", required=True),
        OptionField("name", str, "Display name."),
        OptionField("password", str, "Password for 'switchyard login' (8+ characters)."),
        OptionField(
            "role",
            str,
            "Role name or id (default on create: 'user').",
            body_key="role_id",
            convert=reference_to(ROLES),
        ),
        OptionField(
            "org",
            str,
            "Organization name or id.",
            body_key="organization_id",
            convert=reference_to(ORGANIZATIONS),
            clearable=True,
        ),
        OptionField("budget", float, "Spending limit in the platform's currency.", clearable=True),
        OptionField("priority", int, "Scheduling priority; higher is served first under load."),
        EXPIRES_AT,
    ),
)


def _show_new_key(item: dict[str, Any]) -> None:
    secret = item.get("key")
    print_secret(
        "API key created",
        [
            ("id", str(item.get("id"))),
            ("name", str(item.get("name"))),
            ("user", str(item.get("user_id"))),
            ("key", str(secret)),
        ],
        "Store the key now: it will not be shown again.",
    )


def _add_revoke(app: typer.Typer, resource: Resource) -> None:
    @app.command("revoke")
    def revoke_key(
        ctx: typer.Context,
        key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id.", show_default=False)],
        json_output: JsonOption = False,
    ) -> None:
        """Revoke a key: it stops working at once (the same as 'update ID --status revoked')."""
        with open_client(ctx) as client:
            item = client.patch(resource.item_path(key_id), {"status": KeyStatus.revoked.value})
        if json_output:
            print_json(item)
        else:
            print_success(f"Revoked API key {key_id} ({item.get('prefix')}…).")


KEYS = Resource(
    command="keys",
    path="/api/v1/keys",
    singular="API key",
    article="an",
    help="API keys: your own, or anyone's with the manage_keys permission.",
    lookup_field=None,
    columns=(
        Column("id"),
        Column("name"),
        Column("user_id", "USER"),
        Column("prefix"),
        Column("status"),
        Column("expires_at", "EXPIRES"),
        Column("allowed_routers", "ROUTERS"),
        Column("last_used_at", "LAST USED"),
    ),
    fields=(
        OptionField("name", str, "A name to tell the key apart.", required=True),
        OptionField(
            "user_id",
            str,
            "Owner: user id or email (default: you).",
            aliases=("--user",),
            on_update=False,
            convert=reference_to(USERS),
        ),
        OptionField("status", KeyStatus, "active or revoked.", on_create=False, convert=_enum_value),
        EXPIRES_AT,
        OptionField(
            "router",
            str,
            "A router the key may use (repeatable; on update, replaces the list; none given: all).",
            body_key="allowed_routers",
            multiple=True,
            clearable=True,
        ),
    ),
    after_create=_show_new_key,
    extra_commands=(_add_revoke,),
)

CREDENTIALS = Resource(
    command="credentials",
    path="/api/v1/credentials",
    singular="credential",
    help="Secrets (hf, ngc, s3, provider) sealed at rest; only masked values are ever shown.",
    columns=(
        Column("id"),
        Column("name"),
        Column("type"),
        Column("description"),
        Column("owner_id", "OWNER"),
        Column("data"),
    ),
    fields=(
        OptionField("name", str, "Unique name.", required=True),
        OptionField("type", CredentialType, "Kind of secret.", required=True, on_update=False, convert=_enum_value),
        OptionField("description", str, "What it is for."),
        OptionField(
            "data",
            str,
            "A secret field, e.g. token=hf_xxx (repeatable; on update, replaces all fields).",
            multiple=True,
            metavar="KEY=VALUE",
            parser=parse_pair,
            convert=_pairs_to_mapping,
        ),
    ),
)

RESOURCES = (USERS, ROLES, ORGANIZATIONS, KEYS, CREDENTIALS)
