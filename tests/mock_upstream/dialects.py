"""Every dialect the mock upstream speaks, installed on one server. Each dialect module adds its routes."""

from __future__ import annotations

from tests.mock_upstream import openai_dialect
from tests.mock_upstream.server import MockUpstream


def install_dialects(server: MockUpstream) -> None:
    openai_dialect.install(server)
