"""How failures reach the user: one line, exit code 1, never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from switchyard import __version__
from switchyard.cli import config_store
from switchyard.cli.config_store import CliConfig, Context, CredentialKind
from tests.cli.conftest import Invoke


@pytest.fixture
def one_context(cli_config: Path) -> Context:
    context = Context("test", "http://gateway.test:8080", "sy-token", CredentialKind.api_key, "a@x")
    config_store.save(CliConfig(current="test", contexts={"test": context}), cli_config)
    return context


def _answer(status: int, body: object | None = None, content: bytes | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"switchyard {__version__}"


def test_api_error_is_one_red_line_with_status_and_message(invoke: Invoke, one_context: Context) -> None:
    body = {
        "error": {
            "message": "User 7 not found.",
            "type": "not_found_error",
            "code": "not_found",
            "param": None,
        }
    }
    result = invoke("users", "get", "7", transport=_answer(404, body))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error (404): User 7 not found."]
    assert result.stdout == "" and "Traceback" not in result.output


def test_401_with_a_saved_credential_says_how_to_log_in_again(invoke: Invoke, one_context: Context) -> None:
    body = {"error": {"message": "Invalid, revoked or expired API key or token.", "type": "authentication_error"}}
    result = invoke("orgs", "list", transport=_answer(401, body))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Error (401): Invalid, revoked or expired API key or token."
    assert "switchyard login http://gateway.test:8080 --context test" in lines[1]


def test_error_from_something_that_is_not_switchyard(invoke: Invoke, one_context: Context) -> None:
    result = invoke("orgs", "list", transport=_answer(502, content=b"<html>Bad Gateway</html>"))
    assert result.exit_code == 1 and result.stderr.strip() == "Error (502): Bad Gateway"

    not_json = invoke("orgs", "list", transport=_answer(200, content=b"<html>hello</html>"))
    assert not_json.exit_code == 1 and "is it a Switchyard server?" in not_json.stderr


def test_unreachable_server_is_a_clear_message(invoke: Invoke, cli_config: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        result = invoke("login", url, "--api-key", "sy-anything")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: Cannot connect to {url} (connection refused). Is the server running, and is the URL right?"
    )
    assert "Traceback" not in result.output


def test_timeouts_are_reported_as_such(invoke: Invoke, one_context: Context) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    result = invoke("orgs", "list", transport=httpx.MockTransport(handler))
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: http://gateway.test:8080 did not answer within 30 s."


def test_json_flag_prints_the_answer_as_sent(invoke: Invoke, one_context: Context) -> None:
    page = {
        "object": "list",
        "data": [{"object": "organization", "id": 1, "name": "acme", "budget": 2.5}],
        "total": 1,
        "limit": 20,
        "offset": 0,
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=page)

    result = invoke(
        "orgs",
        "list",
        "--json",
        "--limit",
        "5",
        "--offset",
        "10",
        "-f",
        "name=acme",
        "--filter",
        "budget=2.5",
        "--order-by",
        "name",
        "--desc",
        transport=httpx.MockTransport(handler),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == page
    assert seen[0].url.path == "/api/v1/organizations"
    assert list(seen[0].url.params.multi_items()) == [
        ("limit", "5"),
        ("offset", "10"),
        ("name", "acme"),
        ("budget", "2.5"),
        ("order_by", "name"),
        ("order_direction", "desc"),
    ]


def test_table_output_shows_columns_and_the_paging_caption(invoke: Invoke, one_context: Context) -> None:
    page = {
        "object": "list",
        "data": [
            {
                "id": 1,
                "name": "dev",
                "description": "",
                "permissions": ["manage_keys"],
                "limits": [{"router": "*", "type": "rpm", "value": 60}],
            }
        ],
        "total": 3,
        "limit": 1,
        "offset": 0,
    }
    result = invoke("roles", "list", "--limit", "1", transport=_answer(200, page))
    assert result.exit_code == 0, result.output
    assert "manage_keys" in result.stdout and "*:rpm=60" in result.stdout
    assert "1-1 of 3 roles (next page: --offset 1)" in result.stdout


def test_bad_option_values_are_usage_errors_before_any_request(invoke: Invoke, one_context: Context) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    transport = httpx.MockTransport(refuse)
    limit = invoke("roles", "create", "--name", "r", "--limit", "*:rph=60", transport=transport)
    assert limit.exit_code == 2 and "ROUTER:TYPE=VALUE" in limit.output
    expires = invoke("keys", "create", "--name", "k", "--expires-at", "tomorrow", transport=transport)
    assert expires.exit_code == 2 and "ISO 8601" in expires.output
    data = invoke("credentials", "create", "--name", "c", "--type", "hf", "--data", "token", transport=transport)
    assert data.exit_code == 2 and "KEY=VALUE" in data.output
    kind = invoke("credentials", "create", "--name", "c", "--type", "ftp", "--data", "a=b", transport=transport)
    assert kind.exit_code == 2
    nothing = invoke("users", "update", "3", transport=transport)
    assert nothing.exit_code == 1 and "Nothing to update" in nothing.stderr
    both = invoke("users", "update", "3", "--budget", "5", "--clear", "budget", transport=transport)
    assert both.exit_code == 1 and "not both" in both.stderr
