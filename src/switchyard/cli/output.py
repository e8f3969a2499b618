"""How the CLI prints: tables and records with Rich, raw JSON for ``--json``, one red line per error.

Consoles are made per call so that they write to whatever ``sys.stdout``/``sys.stderr`` are at that moment
(a test runner swaps them) and decide colour and width for that stream. Output that is piped is not wrapped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from switchyard.cli.errors import CliError

EMPTY = "-"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a list table: the field of each record it shows, under ``header``."""

    field: str
    header: str | None = None
    format: Callable[[Any], str] | None = None
    """How the field's value reads in a cell; default ``format_value``."""

    @property
    def title(self) -> str:
        return self.header or self.field.replace("_", " ").upper()

    def cell(self, record: dict[str, Any]) -> str:
        value = record.get(self.field)
        return self.format(value) if self.format is not None and value is not None else format_value(value)


PIPE_WIDTH = 400
"""Width when stdout is not a terminal (and ``COLUMNS`` is unset): rows stay on one line for grep and awk."""


def stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """The answer exactly as the server sent it, indented; no colours or wrapping, so it can be piped."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_error(error: CliError) -> None:
    console = stderr()
    console.print(Text(error.line(), style="bold red"), soft_wrap=True)
    if error.hint:
        console.print(Text(error.hint, style="dim"), soft_wrap=True)


def print_success(message: str) -> None:
    stdout().print(Text(message, style="green"), soft_wrap=True)


def print_warning(message: str) -> None:
    stderr().print(Text(message, style="yellow"), soft_wrap=True)


def format_value(value: Any) -> str:
    """A field's value in a table cell: lists joined, mappings as ``key=value``, times to the second."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(format_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={format_value(item)}" for key, item in value.items())
    text = str(value)
    if _looks_like_timestamp(text):
        return text[:19].replace("T", " ")
    return text


def _looks_like_timestamp(text: str) -> bool:
    return len(text) >= 19 and text[4] == "-" and text[7] == "-" and text[10] == "T" and text[13] == ":"


def print_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    table = Table(title=title, caption=caption, header_style="bold", caption_justify="left")
    for column in columns:
        table.add_column(column.title, overflow="fold")
    for row in rows:
        table.add_row(*(Text(column.cell(row)) for column in columns))
    stdout().print(table)


def print_record(record: dict[str, Any], columns: Sequence[Column] = ()) -> None:
    """Every field of one resource, one per line; a field with a column in ``columns`` is shown as there."""
    by_field = {column.field: column for column in columns}
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in record:
        table.add_row(key, Text(by_field.get(key, Column(key)).cell(record)))
    stdout().print(table)


def print_secret(title: str, fields: Sequence[tuple[str, str]], warning: str) -> None:
    """A secret shown once, boxed so that it is noticed; the values are never wrapped or cut."""
    body = Text()
    for index, (label, value) in enumerate(fields):
        if index:
            body.append("\n")
        body.append(f"{label}: ", style="bold")
        body.append(value, style="green")
    body.append("\n\n")
    body.append(warning, style="yellow")
    stdout().print(Panel(body, title=title, title_align="left", border_style="yellow", expand=False))
