"""Every dialect the mock upstream speaks, installed on one server. Each dialect module adds its routes."""

from __future__ import annotations

from tests.mock_upstream import (
    anthropic_dialect,
    azure_dialect,
    cohere_dialect,
    gemini_dialect,
    openai_dialect,
    tei_dialect,
)
from tests.mock_upstream.server import MockUpstream


def install_dialects(server: MockUpstream) -> None:
    openai_dialect.install(server)
    anthropic_dialect.install(server)
    gemini_dialect.install(server)
    azure_dialect.install(server)
    tei_dialect.install(server)
    cohere_dialect.install(server)
