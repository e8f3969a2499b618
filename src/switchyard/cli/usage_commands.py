"""``switchyard usage list|summary|limits`` (and ``switchyard limits``): usage records, their sums per day,
router, user, key…, and what is left of one's rate limits and budgets.

Without ``--all``, ``--user`` or ``--org`` the commands read one's own usage (``/api/v1/me/usage``); with one of
them, anyone's (``/api/v1/usage``, which needs the ``read_usage`` permission).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from switchyard.cli.http_client import ApiClient, QueryParams
from switchyard.cli.identity_resources import ORGANIZATIONS, USERS
from switchyard.cli.output import Column, print_json, print_table, stdout
from switchyard.cli.resources import JsonOption, resolve_id
from switchyard.cli.state import open_client

app = typer.Typer(help="Usage records, their sums, and what is left of your limits and budgets.", no_args_is_help=True)

DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` → a duration."""
    match = DURATION.match(text.lower())
    if not match:
        raise typer.BadParameter(f"'{text}' is not a duration such as 30m, 24h, 7d or 2w.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str) -> str:
    """An ISO 8601 date or time, or Unix seconds, as the API takes it (naive times are UTC)."""
    value = text.strip()
    if value.replace(".", "", 1).isdigit():
        return value
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00:00Z) or Unix seconds."
        ) from None


Since = Annotated[
    timedelta | None,
    typer.Option("--since", parser=parse_since, metavar="DURATION", help="From this long ago: 30m, 24h, 7d, 2w."),
]
Start = Annotated[
    str | None, typer.Option("--start", parser=parse_moment, help="From (ISO 8601 or Unix seconds), included.")
]
End = Annotated[
    str | None, typer.Option("--end", parser=parse_moment, help="Until (ISO 8601 or Unix seconds), excluded.")
]
Routers = Annotated[list[str] | None, typer.Option("--router", help="Only this router (repeatable).")]
Keys = Annotated[list[int] | None, typer.Option("--key", help="Only this API key id (repeatable).")]
Endpoints = Annotated[list[str] | None, typer.Option("--endpoint", help="Only this endpoint: chat, embeddings, …")]
Statuses = Annotated[list[str] | None, typer.Option("--status", help="Only this status (429) or class (5xx).")]
Everyone = Annotated[bool, typer.Option("--all", help="Everyone's usage (needs read_usage).")]
User = Annotated[str | None, typer.Option("--user", help="This user's usage, by email or id (needs read_usage).")]
Org = Annotated[str | None, typer.Option("--org", help="This organization's usage, by name or id (needs read_usage).")]


def _range(since: timedelta | None, start: str | None, end: str | None) -> QueryParams:
    if since is not None and start is not None:
        raise typer.BadParameter("Give --since or --start, not both.", param_hint="--since")
    if since is not None:
        start = (datetime.now(UTC) - since).isoformat()
    return [(name, value) for name, value in (("start", start), ("end", end)) if value is not None]


def _query(
    client: ApiClient,
    *,
    since: timedelta | None,
    start: str | None,
    end: str | None,
    routers: list[str] | None,
    keys: list[int] | None,
    endpoints: list[str] | None,
    statuses: list[str] | None,
    everyone: bool,
    user: str | None,
    org: str | None,
) -> tuple[str, QueryParams]:
    """The collection to read (one's own or anyone's) and the query parameters."""
    params = _range(since, start, end)
    for name, values in (("router", routers), ("key_id", keys), ("endpoint", endpoints), ("status", statuses)):
        params += [(name, value) for value in values or ()]
    if user is not None:
        params.append(("user_id", resolve_id(client, USERS, user)))
    if org is not None:
        params.append(("organization_id", resolve_id(client, ORGANIZATIONS, org)))
    return ("/api/v1/usage" if everyone or user or org else "/api/v1/me/usage"), params


def _cost(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _small(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)


def _ms(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else str(value)


RECORD_COLUMNS = (
    Column("created_at", "TIME"),
    Column("router"),
    Column("endpoint"),
    Column("status"),
    Column("prompt_tokens", "PROMPT"),
    Column("completion_tokens", "COMPLETION"),
    Column("cost", format=_cost),
    Column("latency_ms", "LATENCY MS", format=_ms),
    Column("key_id", "KEY"),
)
FIGURE_COLUMNS = (
    Column("requests"),
    Column("errors"),
    Column("prompt_tokens", "PROMPT"),
    Column("completion_tokens", "COMPLETION"),
    Column("cost", format=_cost),
    Column("kwh", "KWH", format=_small),
    Column("kgco2eq", "KGCO2EQ", format=_small),
)


@app.command("list")
def list_usage(
    ctx: typer.Context,
    since: Since = None,
    start: Start = None,
    end: End = None,
    routers: Routers = None,
    keys: Keys = None,
    endpoints: Endpoints = None,
    statuses: Statuses = None,
    everyone: Everyone = False,
    user: User = None,
    org: Org = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Records to show.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Records to skip.")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Usage records, newest first: your own, or with --all/--user/--org anyone's."""
    with open_client(ctx) as client:
        path, params = _query(
            client, since=since, start=start, end=end, routers=routers, keys=keys, endpoints=endpoints,
            statuses=statuses, everyone=everyone, user=user, org=org,
        )  # fmt: skip
        page = client.get(path, params=[*params, ("limit", limit), ("offset", offset)])
    if json_output:
        print_json(page)
        return
    records = page.get("data", [])
    columns = RECORD_COLUMNS if path.endswith("/me/usage") else (*RECORD_COLUMNS, Column("user_id", "USER"))
    total = f"{page.get('total')}{'+' if page.get('total_capped') else ''}"
    shown = f"{offset + 1}-{offset + len(records)} of {total}" if records else f"none of {total}"
    print_table(records, columns, caption=f"Records {shown}, newest first")


@app.command("summary")
def summarize_usage(
    ctx: typer.Context,
    group_by: Annotated[
        list[str] | None,
        typer.Option(
            "--group-by",
            "-g",
            help="day, router, user, key, organization, endpoint, provider (comma-separated or repeated).",
        ),
    ] = None,
    since: Since = None,
    start: Start = None,
    end: End = None,
    routers: Routers = None,
    keys: Keys = None,
    endpoints: Endpoints = None,
    statuses: Statuses = None,
    everyone: Everyone = False,
    user: User = None,
    org: Org = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Groups to show.")] = 1000,
    json_output: JsonOption = False,
) -> None:
    """Requests, errors, tokens, cost, kWh and kgCO2eq summed per group (days are UTC days)."""
    with open_client(ctx) as client:
        path, params = _query(
            client, since=since, start=start, end=end, routers=routers, keys=keys, endpoints=endpoints,
            statuses=statuses, everyone=everyone, user=user, org=org,
        )  # fmt: skip
        groups = [("group_by", g) for g in group_by or ()]
        summary = client.get(f"{path}/summary", params=[*params, *groups, ("limit", limit)])
    if json_output:
        print_json(summary)
        return
    names = [_GROUP_FIELDS.get(g, g) for g in summary.get("group_by", [])]
    rows = [{**row["group"], **row} for row in summary.get("data", [])]
    if names:
        rows.append({names[0]: "total", **summary.get("totals", {})})
    columns = (*(Column(name, name.removesuffix("_id").upper()) for name in names), *FIGURE_COLUMNS)
    caption = "Only the first groups are shown (--limit); the total covers all." if summary.get("truncated") else None
    print_table(rows, columns, caption=caption)


_GROUP_FIELDS = {"user": "user_id", "key": "key_id", "organization": "organization_id"}


def _resets(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    seconds = max(0, int((moment - datetime.now(UTC)).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"in {hours}h{rest // 60:02d}m" if hours else f"in {rest // 60}m{rest % 60:02d}s"


LIMIT_COLUMNS = (
    Column("router"),
    Column("scope"),
    Column("type"),
    Column("value", "LIMIT"),
    Column("used"),
    Column("remaining"),
    Column("resets_at", "RESETS", format=_resets),
)
BUDGET_COLUMNS = (
    Column("scope"),
    Column("owner_id", "OWNER"),
    Column("amount", format=_cost),
    Column("spent", format=_cost),
    Column("left", format=_cost),
)


def limits(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Your rate limits on each router you may use, with what is used and left, and your budgets."""
    with open_client(ctx) as client:
        report = client.get("/api/v1/me/limits")
    if json_output:
        print_json(report)
        return
    rows: list[dict[str, Any]] = []
    for entry in report.get("routers", []):
        name = entry["router"] + (" *" if entry.get("has_rule") else "")
        rows += [{"router": name, **limit} for limit in entry.get("limits", [])] or [{"router": name, "scope": "none"}]
    ruled = any(entry.get("has_rule") for entry in report.get("routers", []))
    note = "* The router's rate-limit rule may count your requests in another bucket." if ruled else None
    if rows:
        print_table(rows, LIMIT_COLUMNS, title="Rate limits", caption=note)
    else:
        stdout().print("No router you may use.")
    budgets = report.get("budgets", [])
    if budgets:
        print_table(budgets, BUDGET_COLUMNS, title="Budgets")


app.command("limits")(limits)
