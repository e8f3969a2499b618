"""``switchyard providers`` and ``switchyard routers`` against a real server: the options become the API's
fields (names resolved to ids), and ``providers test`` reports what the upstream did."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import typer

from switchyard.cli.gateway_resources import parse_auth_header, parse_member, parse_option_value, parse_timeout
from tests.cli.conftest import Invoke, LiveServer
from tests.mock_upstream.server import MockUpstream


def _json(invoke: Invoke, *args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _provider(invoke: Invoke, upstream: MockUpstream, name: str, model: str, *extra: str) -> dict[str, Any]:
    return dict(
        _json(
            invoke,
            "providers",
            "create",
            "--name",
            name,
            "--wire-format",
            "openai",
            "--base-url",
            f"{upstream.url}/v1",
            "--upstream-model",
            model,
            "--api-key",
            "sk-cli-secret-123456",
            *extra,
        )  # fmt: skip
    )


def test_parsers() -> None:
    assert parse_member("gpt-a") == {"provider": "gpt-a"}
    assert parse_member("a,b,weight=3,priority=1") == {"provider": "a,b", "weight": 3, "priority": 1}
    assert parse_auth_header("x-api-key") == {
        "header_name": "x-api-key",
        "header_prefix": "",
        "space_after_prefix": True,
    }
    assert parse_auth_header("Authorization: Token")["header_prefix"] == "Token"
    assert parse_timeout("first-byte=2.5") == ("first_byte", 2.5)
    assert parse_option_value('stop=["\\n"]') == ("stop", ["\n"])
    assert parse_option_value("user=ada") == ("user", "ada")
    for bad in (lambda: parse_timeout("read=1"), lambda: parse_member(",weight=1"), lambda: parse_auth_header("a b")):
        with pytest.raises(typer.BadParameter):
            bad()


def test_providers_create_update_test_and_delete(
    invoke: Invoke, logged_in: LiveServer, mock_upstream: MockUpstream
) -> None:
    model = f"cli-{uuid.uuid4().hex[:8]}"
    provider = _provider(
        invoke, mock_upstream, "cli-openai", model,
        "--auth-header", "x-api-key", "--timeout", "connect=3", "--timeout", "total=60",
        "--path", "chat=/chat/completions", "--header", "X-Team=ml", "--default-option", "temperature=0.1",
        "--weight", "3", "--priority", "1", "--enabled", "no", "--capability", "chat", "--context-length", "4096",
    )  # fmt: skip
    assert provider["auth"] == {"header_name": "x-api-key", "header_prefix": "", "space_after_prefix": True}
    assert provider["timeouts"] == {"connect": 3, "first_byte": 120, "total": 60}
    assert provider["paths"] == {"chat": "/chat/completions"} and provider["extra_headers"] == {"X-Team": "ml"}
    assert provider["default_options"] == {"temperature": 0.1}
    assert (provider["weight"], provider["priority"], provider["enabled"]) == (3, 1, False)
    assert provider["api_key_hint"] and "sk-cli-secret-123456" not in json.dumps(provider)

    updated = _json(invoke, "providers", "update", "cli-openai", "--enabled", "yes", "--clear", "context-length")
    assert (updated["enabled"], updated["context_length"]) == (True, None)

    tested = invoke("providers", "test", "cli-openai")
    assert tested.exit_code == 0, tested.output
    assert tested.stdout.startswith(f"Provider {provider['id']} answered chat in ")
    sent = mock_upstream.received(model=model)[-1]
    assert sent.headers["x-api-key"] == "sk-cli-secret-123456" and sent.headers["X-Team"] == "ml"
    assert sent.body["temperature"] == 0.1 and sent.body["max_tokens"] == 1

    emptied = _json(
        invoke, "providers", "update", "cli-openai",
        "--clear", "path", "--clear", "header", "--clear", "default-option", "--clear", "timeout",
    )  # fmt: skip
    assert (emptied["paths"], emptied["extra_headers"], emptied["default_options"]) == ({}, {}, {})
    assert emptied["timeouts"] == {"connect": 10, "first_byte": 120, "total": 600}

    _provider(invoke, mock_upstream, "cli-broken", f"cli-fail-503-{uuid.uuid4().hex[:8]}")
    failed = invoke("providers", "test", "cli-broken")
    assert failed.exit_code == 1 and failed.stdout == ""
    assert "failed the chat test after" in failed.stderr and "(HTTP 503)" in failed.stderr
    as_json = invoke("providers", "test", "cli-broken", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["status"] == 503

    listed = invoke("providers", "list")
    assert "cli-openai" in listed.stdout and "x-api-key" not in listed.stdout
    assert _json(invoke, "providers", "delete", "cli-broken", "--yes")["deleted"] is True


def test_routers_take_providers_by_name_with_weights(
    invoke: Invoke, logged_in: LiveServer, mock_upstream: MockUpstream
) -> None:
    first = _provider(invoke, mock_upstream, "rt-a", "rt-a")
    second = _provider(invoke, mock_upstream, "rt-b", "rt-b")
    router = _json(
        invoke, "routers", "create", "--name", "chat", "--alias", "gpt", "--model-type", "text-generation",
        "--mode", "fallback", "--provider", "rt-a,priority=0", "--provider", f"{second['id']},weight=5,priority=1",
        "--cost-prompt-tokens", "2.5", "--usage-extras", "yes",
    )  # fmt: skip
    assert router["providers"] == [
        {"provider_id": first["id"], "weight": None, "priority": 0},
        {"provider_id": second["id"], "weight": 5, "priority": 1},
    ]
    assert (router["aliases"], router["mode"], router["usage_extras"]) == (["gpt"], "fallback", True)

    shown = invoke("routers", "get", "chat")
    assert f"{first['id']} (priority 0), {second['id']} (weight 5, priority 1)" in shown.stdout
    updated = _json(invoke, "routers", "update", "chat", "--strategy", "round_robin", "--clear", "alias")
    assert (updated["strategy"], updated["aliases"]) == ("round_robin", [])
    assert _json(invoke, "routers", "update", "chat", "--strategy", "shuffle")["strategy"] == "weighted"
    bad = invoke("routers", "update", "chat", "--strategy", "fastest")
    assert bad.exit_code == 2 and "'fastest' is not one of weighted" in bad.stderr and "shuffle" in bad.stderr

    unknown = invoke("routers", "create", "--name", "x", "--model-type", "text-generation", "--provider", "nope")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "Error: No provider with name 'nope'."
    in_use = invoke("providers", "delete", "rt-a", "--yes")
    assert in_use.exit_code == 1 and in_use.stderr.startswith("Error (409): ")
