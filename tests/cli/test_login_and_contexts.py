from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from switchyard.cli import config_store
from switchyard.cli.config_store import CliConfig, Context, CredentialKind
from tests.cli.conftest import Invoke, LiveServer
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD


def _saved(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _recording_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": [], "total": 0, "limit": 20, "offset": 0})

    return httpx.MockTransport(handler)


def _two_contexts(path: Path, current: str = "one") -> None:
    config_store.save(
        CliConfig(
            current=current,
            contexts={
                "one": Context("one", "http://one.test:1", "token-one", CredentialKind.api_key, "a@x"),
                "two": Context("two", "http://two.test:2", "token-two", CredentialKind.session, "b@x"),
            },
        ),
        path,
    )


def test_login_with_email_stores_a_session_token_in_a_0600_file(
    invoke: Invoke, live_server: LiveServer, cli_config: Path
) -> None:
    result = invoke("login", live_server.url, "--email", "admin@localhost", "--password", ADMIN_PASSWORD)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(cli_config.stat().st_mode) == 0o600
    name = live_server.url.removeprefix("http://")
    saved = _saved(cli_config)
    assert saved["current"] == name
    context = saved["contexts"][name]  # type: ignore[index]
    assert context["kind"] == "session" and context["token"].startswith("sy-sess-")
    assert context["email"] == "admin@localhost" and context["expires_at"]

    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {context['token']}"})
    assert me.status_code == 200 and me.json()["email"] == "admin@localhost"


def test_login_prompts_for_the_password_without_echoing_it(
    invoke: Invoke, live_server: LiveServer, cli_config: Path
) -> None:
    result = invoke("login", live_server.url, "--email", "admin@localhost", input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert ADMIN_PASSWORD not in result.output
    assert _saved(cli_config)["current"]


def test_wrong_password_is_one_error_line_and_saves_nothing(
    invoke: Invoke, live_server: LiveServer, cli_config: Path
) -> None:
    result = invoke("login", live_server.url, "--email", "admin@localhost", "--password", "wrong-password")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error (401): Invalid email or password."]
    assert not cli_config.exists()


def test_login_with_api_key_checks_it_and_names_the_context(
    invoke: Invoke, live_server: LiveServer, cli_config: Path
) -> None:
    bad = invoke("login", live_server.url, "--api-key", "sy-not-a-real-key", "--context", "prod")
    assert bad.exit_code == 1 and "Error (401)" in bad.stderr
    assert not cli_config.exists()

    good = invoke("login", live_server.url, "--api-key", ADMIN_KEY, "--context", "prod")
    assert good.exit_code == 0, good.output
    saved = _saved(cli_config)
    assert saved["current"] == "prod"
    assert saved["contexts"]["prod"]["kind"] == "api_key"  # type: ignore[index]
    assert saved["contexts"]["prod"]["email"] == "admin@localhost"  # type: ignore[index]


def test_context_list_marks_the_current_one_and_never_prints_tokens(invoke: Invoke, cli_config: Path) -> None:
    _two_contexts(cli_config, current="two")
    table = invoke("context", "list")
    assert table.exit_code == 0, table.output
    assert "token-one" not in table.output and "token-two" not in table.output
    marked = [line for line in table.output.splitlines() if "*" in line]
    assert len(marked) == 1 and "two" in marked[0]

    as_json = invoke("context", "list", "--json")
    assert "token-" not in as_json.output
    listed = json.loads(as_json.stdout)
    assert listed["current"] == "two"
    assert [(c["name"], c["current"], c["auth"]) for c in listed["contexts"]] == [
        ("one", False, "API key"),
        ("two", True, "session token"),
    ]


def test_select_and_delete(invoke: Invoke, cli_config: Path) -> None:
    _two_contexts(cli_config)
    assert invoke("context", "select", "two").exit_code == 0
    assert _saved(cli_config)["current"] == "two"

    missing = invoke("context", "select", "three")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "Error: No context named 'three'. Contexts: one, two."

    assert invoke("context", "delete", "two").exit_code == 0
    saved = _saved(cli_config)
    assert saved["current"] is None and list(saved["contexts"]) == ["one"]  # type: ignore[call-overload]
    assert stat.S_IMODE(cli_config.stat().st_mode) == 0o600


def test_requests_go_to_the_current_context_with_its_credential(invoke: Invoke, cli_config: Path) -> None:
    _two_contexts(cli_config, current="one")
    seen: list[httpx.Request] = []
    assert invoke("orgs", "list", transport=_recording_transport(seen)).exit_code == 0
    assert seen[0].url.host == "one.test" and seen[0].headers["authorization"] == "Bearer token-one"


def test_global_context_option_overrides_the_current_one_for_one_command(invoke: Invoke, cli_config: Path) -> None:
    _two_contexts(cli_config, current="one")
    seen: list[httpx.Request] = []
    result = invoke("--context", "two", "orgs", "list", "--json", transport=_recording_transport(seen))
    assert result.exit_code == 0, result.output
    assert seen[0].url.host == "two.test" and seen[0].headers["authorization"] == "Bearer token-two"
    assert _saved(cli_config)["current"] == "one"  # the override changed nothing saved

    unknown = invoke("--context", "nope", "orgs", "list", transport=_recording_transport(seen))
    assert unknown.exit_code == 1 and "No context named 'nope'" in unknown.stderr


def test_context_environment_variable_overrides_too(
    invoke: Invoke, cli_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_contexts(cli_config, current="one")
    monkeypatch.setenv("SWITCHYARD_CONTEXT", "two")
    seen: list[httpx.Request] = []
    result = invoke("users", "list", transport=_recording_transport(seen))
    assert result.exit_code == 0 and seen[0].url.host == "two.test"
    assert invoke("-c", "one", "users", "list", transport=_recording_transport(seen)).exit_code == 0
    assert seen[1].url.host == "one.test"  # the option beats the variable


def test_without_any_context_commands_say_to_log_in(invoke: Invoke) -> None:
    result = invoke("users", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: No current context."
    assert "switchyard login URL" in result.stderr


def test_logout_revokes_the_session_and_forgets_it(invoke: Invoke, live_server: LiveServer, cli_config: Path) -> None:
    assert invoke("login", live_server.url, "-e", "admin@localhost", "-p", ADMIN_PASSWORD).exit_code == 0
    name = live_server.url.removeprefix("http://")
    token = _saved(cli_config)["contexts"][name]["token"]  # type: ignore[index]

    result = invoke("logout")
    assert result.exit_code == 0, result.output
    assert _saved(cli_config)["contexts"][name]["token"] is None  # type: ignore[index]
    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    after = invoke("orgs", "list")
    assert after.exit_code == 1 and "has no credential" in after.stderr
    assert "switchyard login" in after.stderr


def test_logout_of_an_api_key_context_does_not_revoke_the_key(
    invoke: Invoke, logged_in: LiveServer, cli_config: Path
) -> None:
    assert invoke("logout").exit_code == 0
    me = httpx.get(f"{logged_in.url}/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert me.status_code == 200
