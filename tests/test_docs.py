"""The README documents every setting, exactly as the settings class describes it."""

from __future__ import annotations

from pathlib import Path

from switchyard.settings import Settings
from switchyard.settings_docs import END, START, render_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not missing, f"settings without a description: {missing}"


def test_readme_table_is_current() -> None:
    text = README.read_text()
    assert START in text and END in text, "README.md lost its settings markers"
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == render_table(), "README.md's configuration table is stale: run `make docs`"
    for name in Settings.model_fields:
        assert f"SWITCHYARD_{name.upper()}" in table


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make serve" in text and "make test" in text and "switchyard serve" in text
