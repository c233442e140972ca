"""Who may reach the agentic profile: keys required, keys limited to workspaces, what the server
refuses to start with, what /v1/models shows each key, and the agent metrics."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fake_upstream import FakeUpstream, Reply
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import claude_openai
from claude_openai import Config, create_app, mount
from claude_openai._agent.access import ApiKey, api_keys, key_id, parse_key_line
from claude_openai._agent.startup import agent_report, check_agents
from claude_openai._server.cli import main
from claude_openai._server.guard import Guard, load_keys
from claude_openai._server.metrics import Metrics
from claude_openai._server.trace import Trace

ALL = "sk-agent-all-0001"  # may use every workspace (--api-key)
ONE = "sk-agent-one-0002"  # limited to ws1 (key file)
ALIASES = ["opus", "sonnet", "haiku"]


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    found = {name: tmp_path / name for name in ("ws1", "ws2")}
    for path in found.values():
        path.mkdir()
    return found


def spec(dirs: dict[str, Path], ws1: str = "read", ws2: str = "read") -> str:
    return f"ws1:{ws1}={dirs['ws1']},ws2:{ws2}={dirs['ws2']}"


def agents(dirs: dict[str, Path], tmp_path: Path, key_file: str = f"{ONE} ws1\n",
           **fields: Any) -> Config:
    keys = tmp_path / "keys"
    keys.write_text(key_file)
    return Config(**{"agent_workspaces": spec(dirs), "api_key": ALL,
                     "api_key_file": str(keys), "pool_size": 0, "max_retries": 0,
                     "agent_sessions_dir": str(tmp_path / "sessions"), **fields})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


# -- keys ----------------------------------------------------------------------------------------
def test_workspaces_without_a_key_are_refused_even_on_loopback(dirs: dict[str, Path]) -> None:
    config = Config(agent_workspaces=spec(dirs), host="127.0.0.1")
    with pytest.raises(ValueError, match="needs an API key"):
        create_app(config)
    with pytest.raises(ValueError, match="needs an API key"):
        mount(Starlette(), "/v1", config)
    create_app(Config(agent_workspaces=spec(dirs), api_key=ALL))  # with a key it starts
    create_app(Config())  # and without workspaces nothing changes


def test_a_wrong_key_is_401_before_any_agent_check(dirs: dict[str, Path],
                                                   tmp_path: Path) -> None:
    client = TestClient(create_app(agents(dirs, tmp_path)))
    for headers in ({}, bearer("sk-wrong"), bearer(f"{ONE} ws1")):
        response = client.post("/v1/chat/completions", json=ask("agent:ws1"), headers=headers)
        assert error_of(response, 401)["code"] == "invalid_api_key"
    assert client.get("/v1/models", headers=bearer("sk-wrong")).status_code == 401


def test_a_limited_key_sees_and_reaches_only_its_workspaces(dirs: dict[str, Path],
                                                            tmp_path: Path) -> None:
    client = TestClient(create_app(agents(dirs, tmp_path)))
    listed = [m["id"] for m in client.get("/v1/models", headers=bearer(ONE)).json()["data"]]
    assert listed == [*ALIASES, "agent:ws1"]
    listed = [m["id"] for m in client.get("/v1/models", headers=bearer(ALL)).json()["data"]]
    assert listed == [*ALIASES, "agent:ws1", "agent:ws2"]
    assert client.get("/v1/models/agent:ws1", headers=bearer(ONE)).json()["id"] == "agent:ws1"
    assert client.get("/v1/models/agent:ws2", headers=bearer(ALL)).status_code == 200
    # ws2 exists, but for this key it is the same 404 as a workspace that does not
    hidden = error_of(client.get("/v1/models/agent:ws2", headers=bearer(ONE)), 404)
    unknown = error_of(client.get("/v1/models/agent:nope", headers=bearer(ONE)), 404)
    assert hidden["code"] == unknown["code"] == "model_not_found"
    assert hidden["message"].replace("ws2", "nope") == unknown["message"]
    assert "ws2" not in unknown["message"]
    posted = client.post("/v1/chat/completions", json=ask("agent:ws2"), headers=bearer(ONE))
    assert (error_of(posted, 404)["code"], posted.json()["error"]["param"]) == (
        "model_not_found", "model")
    posted = client.post("/v1/responses", json={"model": "agent:ws2", "input": "hi"},
                         headers=bearer(ONE))
    assert error_of(posted, 404)["code"] == "model_not_found"
    # ws1 is open to it: the request gets past the workspace (and stops at the body check)
    posted = client.post("/v1/chat/completions", json=ask("agent:ws1", cwd="/"),
                         headers=bearer(ONE))
    assert error_of(posted, 400)["code"] == "agent_field_refused"


def test_models_show_no_agents_when_the_profile_is_off() -> None:
    client = TestClient(create_app(Config(api_key=ALL)))
    listed = [m["id"] for m in client.get("/v1/models", headers=bearer(ALL)).json()["data"]]
    assert listed == ALIASES
    error = error_of(client.get("/v1/models/agent:ws1", headers=bearer(ALL)), 404)
    assert "agentic profile is off" in error["message"]


@pytest.mark.parametrize("model", ["agent:nope", "agent:/etc", "agent:../ws1", "agent:",
                                   "agent:ws1:gpt-4o", "agent:ws1+loud", "agent:/tmp/ws1"])
def test_unknown_workspaces_and_paths_are_404(model: str, dirs: dict[str, Path],
                                              tmp_path: Path) -> None:
    client = TestClient(create_app(agents(dirs, tmp_path)))
    assert error_of(client.get(f"/v1/models/{model}", headers=bearer(ALL)),
                    404)["code"] == "model_not_found"
    if model != "agent:ws1:gpt-4o":  # a Claude model inside the id is checked after the body
        posted = client.post("/v1/chat/completions", json=ask(model), headers=bearer(ALL))
        assert error_of(posted, 404)["code"] == "model_not_found"


@pytest.mark.parametrize("extra", [{"cwd": "/etc"}, {"metadata": {"cwd": "/etc"}},
                                   {"add_dirs": ["/"]}, {"permission_mode": "bypassPermissions"},
                                   {"metadata": {"workspace": "ws2"}}])
def test_a_request_cannot_choose_a_directory_or_permissions(extra: dict[str, Any],
                                                            dirs: dict[str, Path],
                                                            tmp_path: Path) -> None:
    client = TestClient(create_app(agents(dirs, tmp_path)))
    field = next(iter(extra))
    param = field if field != "metadata" else "metadata." + next(iter(extra[field]))
    for path, body in (("/v1/chat/completions", ask("agent:ws1", **extra)),
                       ("/v1/responses", {"model": "agent:ws1", "input": "hi", **extra})):
        error = error_of(client.post(path, json=body, headers=bearer(ALL)), 400)
        assert (error["code"], error["param"]) == ("agent_field_refused", param)


def test_the_guard_names_the_caller_by_an_id_never_the_key(tmp_path: Path) -> None:
    async def who(request: Request) -> JSONResponse:
        principal = request.state.principal
        return JSONResponse({"id": principal.id, "workspaces": sorted(principal.workspaces)
                             if principal.workspaces is not None else None})

    keys = tmp_path / "keys"
    keys.write_text(f"# comment\n\n  {ONE}   ws1 ws2  # the bot\n")
    app = Guard(Starlette(routes=[Route("/who", who)]), Config(api_key=ALL,
                                                               api_key_file=str(keys)))
    client = TestClient(app)
    limited = client.get("/who", headers=bearer(ONE)).json()
    assert limited == {"id": "key_" + hashlib.sha256(ONE.encode()).hexdigest()[:10],
                       "workspaces": ["ws1", "ws2"]}
    assert client.get("/who", headers=bearer(ALL)).json() == {"id": key_id(ALL),
                                                              "workspaces": None}
    assert ONE not in json.dumps(limited) and len(limited["id"]) == 14
    assert load_keys(Config(api_key=ALL, api_key_file=str(keys))) == [ALL, ONE]


def test_key_file_lines() -> None:
    assert parse_key_line("sk-a") == parse_key_line("  sk-a  # note") == ApiKey("sk-a")
    assert parse_key_line("sk-a blog\tdocs #x") == ApiKey("sk-a", frozenset({"blog", "docs"}))
    assert parse_key_line("# sk-a blog") is None and parse_key_line("   ") is None
    assert [k.workspaces for k in api_keys(Config(api_key=" sk-a , sk-b "))] == [None, None]


# -- what the server refuses to start with -------------------------------------------------------
def refusal(config: Config) -> str:
    with pytest.raises(ValueError) as info:
        check_agents(config)
    with pytest.raises(ValueError):
        create_app(config)
    return str(info.value)


def test_a_shell_workspace_needs_the_sandbox(dirs: dict[str, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    shell = agents(dirs, tmp_path, agent_workspaces=spec(dirs, ws2="shell"))
    monkeypatch.setattr("claude_openai._agent.startup.sandbox_missing",
                        lambda: "bwrap and socat not installed")
    message = refusal(shell)
    assert "'ws2'" in message and "bwrap and socat not installed" in message
    assert "--agent-unsandboxed-shell" in message
    check_agents(agents(dirs, tmp_path, agent_workspaces=spec(dirs, ws2="shell"),
                        agent_unsandboxed_shell=True))
    monkeypatch.setattr("claude_openai._agent.startup.sandbox_missing", lambda: None)
    check_agents(shell)


def test_a_container_workspace_needs_the_declaration(dirs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    container = spec(dirs, ws1="container")
    assert "--agent-container" in refusal(agents(dirs, tmp_path, agent_workspaces=container))
    check_agents(agents(dirs, tmp_path, agent_workspaces=container, agent_container=True))


@pytest.mark.parametrize("where", ["root", "home", "package", "above the package"])
def test_unsafe_directories_are_refused(where: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    package = Path(claude_openai.__file__).resolve().parent
    directory = {"root": Path("/"), "home": home, "package": package,
                 "above the package": package.parent}[where]
    message = refusal(Config(agent_workspaces=f"w={directory}", api_key=ALL))
    assert "'w'" in message
    assert {"root": "root directory", "home": "home directory", "package": "installation",
            "above the package": "installation"}[where] in message


@pytest.mark.parametrize(("case", "says"), [
    ("cors", "--cors-origins"),
    ("unknown workspace", "ws9"),
    ("listed twice", "listed twice"),
    ("bad spec", "NAME=DIR"),
    ("missing mcp", "--agent-mcp-config"),
    ("bad mcp", "--agent-mcp-config"),
    ("missing key file", "--api-key-file"),
])
def test_other_setups_are_refused(case: str, says: str, dirs: dict[str, Path],
                                  tmp_path: Path) -> None:
    bad_mcp = tmp_path / "mcp.json"
    bad_mcp.write_text("[1, 2]")
    config = agents(dirs, tmp_path, **{
        "cors": {"cors_origins": "https://app.example"},
        "unknown workspace": {"key_file": f"{ONE} ws1 ws9\n"},
        "listed twice": {"key_file": f"{ALL} ws1\n"},
        "bad spec": {"agent_workspaces": "ws1"},
        "missing mcp": {"agent_mcp_config": str(tmp_path / "absent.json")},
        "bad mcp": {"agent_mcp_config": str(bad_mcp)},
        "missing key file": {"api_key_file": str(tmp_path / "absent")},
    }[case])
    assert says in refusal(config)


def test_a_limited_key_without_the_profile_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{ONE} ws1\n")
    assert "profile is off" in refusal(Config(api_key_file=str(keys)))
    keys.write_text(f"{ONE}\n")
    check_agents(Config(api_key_file=str(keys)))


def test_serve_exits_2_with_the_reason(dirs: dict[str, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    def no_serving(*args: Any) -> None:
        raise AssertionError("the server should not have started")

    monkeypatch.setattr("claude_openai._server.serve.serve", no_serving)
    monkeypatch.setattr("claude_openai._agent.startup.sandbox_missing", lambda: "bwrap missing")
    for argv, says in (
            ([], "needs an API key"),
            (["--api-key", ALL, "--allow-unauthenticated", "--host", "0.0.0.0"],
             "'ws2' has the shell preset"),
            (["--api-key", ALL, "--cors-origins", "https://a.example"], "--cors-origins")):
        with pytest.raises(SystemExit) as info:
            main(["serve", "--agent-workspaces", f"ws1={dirs['ws1']}",
                  "--agent-workspaces", f"ws2:shell={dirs['ws2']}", *argv])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("claude-openai: ") and says in err


# -- what the start-up log says ------------------------------------------------------------------
def test_the_start_up_log_names_workspaces_limited_keys_and_risks(dirs: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    config = agents(dirs, tmp_path, host="0.0.0.0")
    report = agent_report(config, loopback=False, root=True)
    lines = [line for _, line in report]
    assert lines[:3] == [f"agent workspace ws1 (preset read): {dirs['ws1']}",
                         f"agent workspace ws2 (preset read): {dirs['ws2']}",
                         f"API key {key_id(ONE)} may use only the agent workspace(s) ws1"]
    assert [level for level, _ in report[3:]] == [logging.WARNING, logging.WARNING]
    assert "0.0.0.0" in lines[3] and "root" in lines[4] and "--agent-container" in lines[4]
    assert ONE not in "\n".join(lines) and ALL not in "\n".join(lines)
    assert len(agent_report(config, loopback=True, root=False)) == 3
    assert len(agent_report(agents(dirs, tmp_path, agent_container=True), loopback=True,
                            root=True)) == 3
    assert agent_report(Config(), loopback=False, root=True) == []


# -- metrics -------------------------------------------------------------------------------------
def test_agent_requests_are_counted_by_workspace_and_status() -> None:
    metrics = Metrics()
    for workspace, status in (("ws1", 200), ("ws1", 200), ("ws1", 504), ("ws2", 200),
                              (None, 200)):
        trace = Trace(workspace=workspace)
        trace.end(status)
        metrics.observe(trace)
    page = metrics.exposition({"running": 0, "waiting": 0}, None)
    assert 'claude_openai_agent_requests_total{workspace="ws1",status="200"} 2\n' in page
    assert 'claude_openai_agent_requests_total{workspace="ws1",status="504"} 1\n' in page
    assert 'claude_openai_agent_requests_total{workspace="ws2",status="200"} 1\n' in page
    assert 'claude_openai_agent_cost_usd_total{workspace="ws2"} 0\n' in page
    assert 'claude_openai_requests_total{status="200"} 4\n' in page


@pytest.mark.e2e
def test_a_limited_key_runs_an_agent_and_the_metrics_count_it(
        upstream: FakeUpstream, dirs: dict[str, Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    (dirs["ws1"] / "notes.txt").write_text("plum\n")
    upstream.queue(Reply(text="Looking.", tools=[{"name": "Read", "input": {
        "file_path": str(dirs["ws1"] / "notes.txt")}}]), Reply(text="Plum."))
    client = TestClient(create_app(agents(dirs, tmp_path, timeout=60)))
    with caplog.at_level(logging.INFO, logger="claude_openai"):
        answered = client.post("/v1/chat/completions", json=ask("agent:ws1"),
                               headers=bearer(ONE))
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "Looking.\n\nPlum."
    assert client.post("/v1/chat/completions", json=ask("agent:ws2"),
                       headers=bearer(ONE)).status_code == 404
    page = client.get("/metrics", headers=bearer(ONE)).text
    assert 'claude_openai_agent_requests_total{workspace="ws1",status="200"} 1\n' in page
    assert 'workspace="ws2"' not in page  # refused before it was an agent request
    cost = next(line for line in page.splitlines()
                if line.startswith('claude_openai_agent_cost_usd_total{workspace="ws1"}'))
    assert float(cost.split()[-1]) > 0
    [audit] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("agent {")]
    assert json.loads(audit.removeprefix("agent "))["key"] == key_id(ONE)
    assert ONE not in "\n".join(r.getMessage() for r in caplog.records)
