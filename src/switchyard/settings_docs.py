"""Generates the configuration table of the README from the ``Settings`` class.

``python -m switchyard.settings_docs`` prints it; ``--write README.md`` replaces the part between the markers.
``tests/test_docs.py`` fails when the README's table is not the one this module renders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from switchyard.settings import Settings

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return "see description"
    if field.default is None or field.default is PydanticUndefined:
        return "unset"
    return f"`{field.default}`"


def render_table() -> str:
    lines = [
        "| variable | default | description |",
        "| --- | --- | --- |",
        "| `SWITCHYARD_CONFIG` | unset | Path of an optional YAML file with any of the settings below "
        "(lower-case names, e.g. `port: 9000`); environment variables win over it. |",
    ]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `SWITCHYARD_{name.upper()}` | {_default(field)} | {description} |")
    return "\n".join(lines)


def replace_table(text: str) -> str:
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START} and {END} are missing")
    return f"{head}{START}\n{render_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="a Markdown file whose table to replace")
    args = parser.parse_args(argv)
    if args.write is None:
        print(render_table())
        return 0
    args.write.write_text(replace_table(args.write.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
