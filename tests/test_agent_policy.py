"""The agentic profile's pure parts, without the CLI: workspaces and ``agent:`` model ids, each
preset's tools and the path check its hook runs, the SDK options of a run, and the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import claude_openai
from claude_openai import Config
from claude_openai._agent import ledger as ledger_module
from claude_openai._agent.ledger import Ledger, conversation_key, scope_of
from claude_openai._agent.options import agent_options
from claude_openai._agent.policy import (
    ALWAYS_DENIED,
    PRESETS,
    WEB_TOOLS,
    deny_rules,
    refusal,
    tool_lists,
)
from claude_openai._agent.workspaces import (
    Workspace,
    agent_model_ids,
    agent_target,
    check_directory,
    parse_workspaces,
)
from claude_openai._engine.request import ClaudeRequest
from claude_openai._exceptions import ModelNotFoundError

PACKAGE = Path(claude_openai.__file__).resolve().parent


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace directory (resolved: the tmp directory may lie behind a symlink)."""
    path = tmp_path / "ws"
    (path / "sub").mkdir(parents=True)
    (path / "a.txt").write_text("hello")
    return path.resolve()


# -- workspaces --------------------------------------------------------------------------------
def test_a_spec_without_a_preset_is_read_only_and_its_directory_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    found = parse_workspaces(f" proj={tmp_path / 'link'} , docs:edit={tmp_path / 'real'}/ ,")
    real = str((tmp_path / "real").resolve())
    assert found == {"proj": Workspace("proj", real, "read"),
                     "docs": Workspace("docs", real, "edit")}
    assert parse_workspaces(None) == {} and parse_workspaces(" , ") == {}


@pytest.mark.parametrize("preset", ["read", "edit", "shell", "container"])
def test_every_preset_parses(tmp_path: Path, preset: str) -> None:
    assert parse_workspaces(f"w:{preset}={tmp_path}")["w"].preset == preset


@pytest.mark.parametrize(("spec", "message"), [
    ("-bad={dir}", "a name is letters"),
    ("a b={dir}", "a name is letters"),
    ("{dir}", "write NAME=DIR"),
    ("w:write={dir}", "unknown preset 'write'"),
    ("w:Read={dir}", "unknown preset 'Read'"),
    ("w={dir},w:edit={dir}", "'w' is named twice"),
    ("w=relative/dir", "is not an absolute path"),
    ("w={dir}/missing", "is not a directory"),
    ("w={dir}/file.txt", "is not a directory"),
    ("w=/", "the root directory is refused"),
])
def test_a_bad_spec_is_refused_naming_the_entry(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_workspaces(spec.format(dir=tmp_path))


def test_unchecked_specs_keep_the_directory_as_written() -> None:
    assert parse_workspaces("w:shell=relative/dir", check=False) == {
        "w": Workspace("w", "relative/dir", "shell")}


def test_the_home_directory_itself_is_refused_but_a_project_in_it_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "project").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert Path.home() == home
    with pytest.raises(ValueError, match="the home directory itself is refused"):
        check_directory("w", str(home))
    with pytest.raises(ValueError, match="the home directory itself is refused"):
        check_directory("w", "~")
    assert check_directory("w", "~/project") == str((home / "project").resolve())
    assert check_directory("w", f"{home}/project/../project") == str((home / "project").resolve())


@pytest.mark.parametrize("directory", [PACKAGE, PACKAGE.parent, PACKAGE / "_agent"])
def test_the_servers_own_installation_is_refused(directory: Path) -> None:
    assert directory.is_dir()
    with pytest.raises(ValueError, match="holds claude-openai's own installation"):
        check_directory("w", str(directory))


@pytest.fixture
def two(tmp_path: Path) -> Config:
    (tmp_path / "p").mkdir()
    (tmp_path / "d").mkdir()
    return Config(agent_workspaces=f"proj:edit={tmp_path / 'p'},docs={tmp_path / 'd'}")


def test_agent_target_reads_the_name_the_model_and_the_mode(two: Config, tmp_path: Path) -> None:
    target = agent_target("agent:proj", two)
    assert target.workspace == Workspace("proj", str((tmp_path / "p").resolve()), "edit")
    assert (target.model, target.progress) == (None, "reasoning")
    assert agent_target("agent:docs:opus", two).model == "opus"
    target = agent_target("agent:docs+content", two)
    assert (target.workspace.name, target.model, target.progress) == ("docs", None, "content")
    target = agent_target("agent:proj:claude-sonnet-4-5+openwebui", two)
    assert (target.model, target.progress) == ("claude-sonnet-4-5", "openwebui")
    off = Config(agent_workspaces=two.agent_workspaces, agent_progress="off")
    assert agent_target("agent:proj", off).progress == "off"
    assert agent_model_ids(two) == ["agent:proj", "agent:docs"]
    assert agent_model_ids(two, frozenset({"docs"})) == ["agent:docs"]


def test_an_unknown_progress_mode_is_a_404(two: Config) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        agent_target("agent:proj+loud", two)
    error = caught.value
    assert (error.status_code, error.code, error.param) == (404, "model_not_found", "model")
    assert "unknown progress mode 'loud'" in error.message


def not_found(model: str, config: Config, allowed: frozenset[str] | None = None) -> str:
    with pytest.raises(ModelNotFoundError) as caught:
        agent_target(model, config, allowed)
    assert (caught.value.status_code, caught.value.code) == (404, "model_not_found")
    return caught.value.message


def test_an_unknown_workspace_is_a_404_offering_the_known_ones(two: Config) -> None:
    assert not_found("agent:nope", two) == (
        "The model 'agent:nope' does not exist here. Agent models here: agent:proj, agent:docs.")
    assert "The agentic profile is off" in not_found("agent:proj", Config())


def test_a_workspace_the_key_may_not_use_looks_exactly_like_an_unknown_one(two: Config) -> None:
    only_docs = frozenset({"docs"})
    hidden = not_found("agent:proj", two, only_docs)
    unknown = not_found("agent:nope", two, only_docs)
    assert hidden.replace("agent:proj", "M") == unknown.replace("agent:nope", "M")
    assert hidden == ("The model 'agent:proj' does not exist here. Agent models here: "
                      "agent:docs.")
    none = frozenset[str]()
    assert not_found("agent:proj", two, none).replace("agent:proj", "M") == \
        not_found("agent:zzz", two, none).replace("agent:zzz", "M")
    assert "No agent workspace is open to this key." in not_found("agent:proj", two, none)
    assert agent_target("agent:docs", two, only_docs).workspace.name == "docs"


# -- policy: tools -----------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["read", "edit", "shell", "container"])
@pytest.mark.parametrize("web", [False, True])
def test_tool_lists_scope_every_file_rule_to_the_workspace(preset: str, web: bool) -> None:
    root = "/srv/work/proj"
    lists = tool_lists(preset, root, web=web, mcp=["docs"])
    allowed, denied = lists["allowed_tools"], lists["disallowed_tools"]
    assert PRESETS[preset].bypass == (preset == "container")
    for tool in ("Read", "Edit", "Write", "NotebookEdit", "Glob", "Grep"):
        assert tool not in allowed  # a bare rule would approve the tool anywhere
        for rule in allowed:
            if rule.startswith(tool + "("):
                assert rule == f"{tool}(//srv/work/proj/**)"
    assert "Read(//srv/work/proj/**)" in allowed
    edits = preset != "read"
    assert ("Edit(//srv/work/proj/**)" in allowed) == edits
    assert ("Write(//srv/work/proj/**)" in allowed) == edits
    assert ("Edit" in lists["tools"]) == edits
    shell = preset in ("shell", "container")
    assert ("Bash" in denied) == (not shell)
    assert ("Bash" in allowed) == shell == ("Bash" in lists["tools"])
    for tool in WEB_TOOLS:
        assert (tool in denied) == (not web)
        assert (tool in allowed) == web == (tool in lists["tools"])
    assert "mcp__docs" in allowed
    for tool in ("AskUserQuestion", "Agent", "Task", "CronCreate", "EnterWorktree",
                 "EnterPlanMode"):
        assert tool in denied and tool in ALWAYS_DENIED
        assert tool not in lists["tools"] and not any(r.startswith(tool) for r in allowed)


def test_a_trailing_slash_on_the_root_makes_the_same_rule() -> None:
    assert tool_lists("read", "/srv/p/", web=False, mcp=[])["allowed_tools"] == ["Read(//srv/p/**)"]


def test_deny_rules_keep_the_secrets_from_reading_and_writing() -> None:
    rules = deny_rules()
    for rule in ("Read(**/.env)", "Read(**/.env.*)", "Edit(**/*.pem)", "Write(**/id_rsa*)",
                 "Read(**/.git/**)", "Edit(**/.git/**)", "Write(**/.ssh/**)"):
        assert rule in rules
    assert len(rules) == len(set(rules))


# -- policy: the hook's path check -------------------------------------------------------------
@pytest.mark.parametrize(("tool", "tool_input"), [
    ("Read", {"file_path": "a.txt"}),
    ("Read", {"file_path": "sub/new.txt"}),
    ("Read", {"file_path": "./sub/../a.txt"}),
    ("Write", {"file_path": "{ws}/sub/b.py"}),
    ("Read", {"file_path": "{ws}"}),
    ("Glob", {"pattern": "**/*.py"}),
    ("Glob", {"pattern": "*.txt", "path": "sub"}),
    ("Grep", {"pattern": r"\.\./\.\.|a..b", "path": "{ws}/sub"}),
    ("Grep", {"pattern": "..", "glob": "*.py"}),
    ("Bash", {"command": "cat /etc/passwd"}),  # the sandbox's business, not the hook's
    ("Read", {"file_path": ".envrc"}),
    ("Read", {"file_path": ""}),
])
def test_paths_inside_the_workspace_pass(ws: Path, tool: str, tool_input: dict[str, str]) -> None:
    filled = {k: v.format(ws=ws) for k, v in tool_input.items()}
    assert refusal(tool, filled, [str(ws)]) is None


OUTSIDE = "refused: it is outside the workspace"
SECRET = "refused: the workspace's secrets are off limits"
CLIMBS = "refused: it reaches outside the workspace"


@pytest.mark.parametrize(("tool", "tool_input", "reason"), [
    ("Read", {"file_path": "../x"}, "Read of ../x " + OUTSIDE),
    ("Read", {"file_path": "sub/../../x"}, OUTSIDE),
    ("Read", {"file_path": "/etc/passwd"}, "Read of /etc/passwd " + OUTSIDE),
    ("Edit", {"file_path": "~/.bashrc"}, OUTSIDE),
    ("Write", {"file_path": "{ws}x/a.txt"}, OUTSIDE),  # a sibling sharing the prefix
    ("Read", {"file_path": "out/secret.txt"}, OUTSIDE),  # a symlink pointing out
    ("Read", {"file_path": "pw"}, OUTSIDE),  # a symlink to a file outside
    ("NotebookEdit", {"notebook_path": "/tmp/n.ipynb"}, OUTSIDE),
    ("Grep", {"pattern": "x", "path": "/etc"}, "Grep of /etc " + OUTSIDE),
    ("Glob", {"pattern": "*.py", "path": ".."}, OUTSIDE),
    ("Read", {"file_path": ".env"}, "Read of .env " + SECRET),
    ("Read", {"file_path": ".env.local"}, SECRET),
    ("Read", {"file_path": "sub/.git/config"}, SECRET),
    ("Read", {"file_path": "{ws}/.git"}, SECRET),
    ("Read", {"file_path": "id_rsa"}, SECRET),
    ("Read", {"file_path": "sub/server.pem"}, SECRET),
    ("Write", {"file_path": ".claude/settings.json"}, SECRET),
    ("Glob", {"pattern": "/etc/*"}, "Glob pattern /etc/* " + CLIMBS),
    ("Glob", {"pattern": "../**"}, CLIMBS),
    ("Glob", {"pattern": "src/../../**"}, CLIMBS),
    ("Glob", {"pattern": "~/*"}, CLIMBS),
    ("Grep", {"pattern": "x", "glob": "../*.py"}, CLIMBS),
])
def test_paths_leaving_the_workspace_or_naming_secrets_are_refused(
        ws: Path, tool: str, tool_input: dict[str, str], reason: str) -> None:
    outside = ws.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (ws / "out").symlink_to(outside)
    (ws / "pw").symlink_to(outside / "secret.txt")
    filled = {k: v.format(ws=ws) for k, v in tool_input.items()}
    found = refusal(tool, filled, [str(ws)])
    assert found is not None and reason in found


def test_a_second_root_is_inside_too(ws: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    assert refusal("Read", {"file_path": str(extra / "f")}, [str(ws), str(extra)]) is None
    assert refusal("Read", {"file_path": str(extra / ".env")}, [str(ws), str(extra)]) is not None


# -- options -----------------------------------------------------------------------------------
def request(system: str | None = None) -> ClaudeRequest:
    return ClaudeRequest(model=None, system=system, history=[],
                         prompt=[{"type": "text", "text": "hi"}])


def options_for(ws: Path, preset: str, config: Config | None = None, *,
                req: ClaudeRequest | None = None, resume: str | None = None,
                note: str | None = None) -> Any:
    return agent_options(req or request(), Workspace("w", str(ws), preset), config or Config(),
                         workdir="/tmp/wd", config_dir="/tmp/run-config", resume=resume,
                         note=note)


@pytest.mark.parametrize("preset", ["read", "edit", "shell", "container"])
def test_options_fence_each_preset_in(ws: Path, preset: str) -> None:
    options = options_for(ws, preset)
    container = preset == "container"
    assert options.permission_mode == ("bypassPermissions" if container else "dontAsk")
    settings = json.loads(options.settings)
    assert set(settings["permissions"]["deny"]) >= set(deny_rules())
    assert "Read(~/.ssh/**)" in settings["permissions"]["deny"]
    assert ("disableBypassPermissionsMode" in settings["permissions"]) == (not container)
    if not container:
        assert settings["permissions"]["disableBypassPermissionsMode"] == "disable"
    if preset == "shell":
        assert options.sandbox == {"enabled": True, "autoAllowBashIfSandboxed": True,
                                   "allowUnsandboxedCommands": False}
    else:
        assert options.sandbox is None
    assert options.setting_sources == [] and options.skills == []
    assert options.strict_mcp_config is True and options.verbatim_prompts is True
    assert options.include_partial_messages is True
    assert options.cwd == str(ws)
    assert options.env["CLAUDE_CONFIG_DIR"] == "/tmp/run-config"
    assert options.env["CLAUDE_CODE_TMPDIR"] == "/tmp/wd"
    assert ("IS_SANDBOX" in options.env) == container
    assert "CLAUDE_CODE_RESUME_INTERRUPTED_TURN" not in options.env
    assert "no-session-persistence" not in options.extra_args  # the ledger resumes sessions
    assert options.tools == tool_lists(preset, str(ws), web=False, mcp=[])["tools"]
    assert options.allowed_tools == tool_lists(preset, str(ws), web=False, mcp=[])[
        "allowed_tools"]
    assert "AskUserQuestion" in options.disallowed_tools
    assert options.resume is None and options.fork_session is False


def test_an_unsandboxed_shell_only_when_the_operator_says_so(ws: Path) -> None:
    assert options_for(ws, "shell", Config(agent_unsandboxed_shell=True)).sandbox is None


def test_limits_come_from_the_config_and_a_resumed_session_is_forked(ws: Path) -> None:
    config = Config(agent_max_turns=7, agent_max_budget_usd=0.25, agent_web=True)
    options = options_for(ws, "read", config, resume="abc-123")
    assert (options.max_turns, options.max_budget_usd) == (7, 0.25)
    assert (options.resume, options.fork_session) == ("abc-123", True)
    assert "WebFetch" in options.allowed_tools and "WebFetch" not in options.disallowed_tools


def test_mcp_servers_come_only_from_the_operators_file(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    servers = {"docs": {"command": "docs-server", "args": []}}
    path.write_text(json.dumps({"mcpServers": servers}))
    options = options_for(ws, "read", Config(agent_mcp_config=str(path)))
    assert options.mcp_servers == servers and "mcp__docs" in options.allowed_tools


def hook_answer(options: Any, tool: str, tool_input: dict[str, Any]) -> Any:
    hook = options.hooks["PreToolUse"][0].hooks[0]
    return asyncio.run(hook({"tool_name": tool, "tool_input": tool_input}, None, None))


@pytest.mark.parametrize("preset", ["read", "container"])
def test_the_pre_tool_use_hook_denies_what_leaves_the_workspace(ws: Path, preset: str) -> None:
    options = options_for(ws, preset)
    denied = hook_answer(options, "Read", {"file_path": "/etc/passwd"})
    assert denied == {"hookSpecificOutput": {
        "hookEventName": "PreToolUse", "permissionDecision": "deny",
        "permissionDecisionReason": "Read of /etc/passwd refused: it is outside the workspace"}}
    assert hook_answer(options, "Read", {"file_path": str(ws / "a.txt")}) == {}
    assert hook_answer(options, "Read", {"file_path": "a.txt"}) == {}
    assert hook_answer(options, "Edit", {"file_path": ".env"})["hookSpecificOutput"][
        "permissionDecision"] == "deny"
    assert hook_answer(options, "Read", "not a dict") == {}  # type: ignore[arg-type]


def test_claude_md_joins_the_system_prompt_only_when_the_operator_says_so(ws: Path) -> None:
    (ws / "CLAUDE.md").write_text("Indent with tabs.")
    plain = options_for(ws, "edit", req=request("Be brief."), note="A note.")
    assert plain.system_prompt == {"type": "preset", "preset": "claude_code",
                                   "append": "Be brief.\n\nA note."}
    assert options_for(ws, "edit").system_prompt == {"type": "preset", "preset": "claude_code"}
    with_md = options_for(ws, "edit", Config(agent_claude_md=True), req=request("Be brief."))
    append = with_md.system_prompt["append"]
    assert append.startswith("Be brief.\n\nContents of ")
    assert append.endswith("(project instructions):\n\nIndent with tabs.")
    assert str(ws / "CLAUDE.md") in append


# -- ledger ------------------------------------------------------------------------------------
SCOPE = scope_of("key-1", "proj", "edit", "sonnet")
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": value}]


def conversation(answer: str = "Let me look.\n\nThe word is plum.",
                 first: str = "What is the word?") -> list[tuple[str, list[dict[str, Any]]]]:
    return [("user", text(first)), ("assistant", text(answer)), ("user", text("Thanks"))]


def key(scope: tuple[str, ...] = SCOPE, system: str | None = "Be brief.",
        turns: list[tuple[str, list[dict[str, Any]]]] | None = None) -> str:
    return conversation_key(scope, system, conversation() if turns is None else turns)


def test_the_key_ignores_our_markup_and_whitespace() -> None:
    marked = ("Let me look.\n\n> ▸ Read notes.txt → ok (0.1 s)\n\n"
              "<details type=\"tool_calls\" done=\"true\" id=\"t\" name=\"Read\" arguments=\"{}\" "
              "result=\"ok\">\n<summary>Tool Executed</summary>\n</details>\n"
              "The word is plum.\n\n> ✎ Files changed: a.txt\n\n")
    assert key(turns=conversation(marked)) == key()
    assert key(turns=conversation("Let me look.\nThe word is plum.  \n\n")) == key()
    thought = "<think>hmm</think>Let me look.\n\nThe word is plum."
    assert key(turns=conversation(thought)) == key()
    assert key(system="Be brief.\n") == key()
    split = [("user", text("What is the word?")),
             ("assistant", text("Let me look.") + text("The word is plum.")),
             ("user", text("Thanks"))]
    assert key(turns=split) == key()


def test_the_key_changes_with_who_where_what_and_every_earlier_turn() -> None:
    keys = {
        key(),
        key(scope=scope_of("key-2", "proj", "edit", "sonnet")),
        key(scope=scope_of("key-1", "docs", "edit", "sonnet")),
        key(scope=scope_of("key-1", "proj", "shell", "sonnet")),
        key(scope=scope_of("key-1", "proj", "edit", "opus")),
        key(scope=scope_of("key-1", "proj", "edit", None)),
        key(system="Be thorough."),
        key(system=None),
        key(turns=conversation(first="What is the other word?")),
        key(turns=conversation("Let me look.\n\nThe word is pear.")),
        key(turns=conversation()[:2]),
    }
    assert len(keys) == 11


def test_images_count_by_content() -> None:
    def with_image(image: dict[str, Any]) -> str:
        return key(turns=[("user", [*text("What is this?"), image])])

    same = {"type": "image", "source": dict(reversed(list(IMAGE["source"].items())))}
    other = {"type": "image", "source": {**IMAGE["source"], "data": "BBBB"}}
    assert with_image(IMAGE) == with_image(same)
    assert with_image(IMAGE) != with_image(other)
    assert with_image(IMAGE) != key(turns=[("user", text("What is this?"))])


def test_the_ledger_finds_a_kept_session_while_its_file_lasts(tmp_path: Path) -> None:
    transcript = tmp_path / "cli.jsonl"
    transcript.write_text('{"type": "user"}\n')
    ledger = Ledger(str(tmp_path / "sessions"), max_age=3600)
    assert ledger.find(key()) is None
    ledger.keep(key(), "sess-1", transcript)
    assert ledger.find(key()) == "sess-1" and len(ledger) == 1
    assert ledger.path("sess-1").read_text() == '{"type": "user"}\n'
    assert ledger.find(key(system=None)) is None
    assert (tmp_path / "sessions").stat().st_mode & 0o777 == 0o700
    ledger.path("sess-1").unlink()
    assert ledger.find(key()) is None


def test_an_expired_entry_is_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = tmp_path / "cli.jsonl"
    transcript.write_text("{}\n")
    ledger = Ledger(str(tmp_path / "sessions"), max_age=100)
    ledger.keep(key(), "sess-1", transcript)
    now = time.time()
    monkeypatch.setattr(ledger_module, "time", SimpleNamespace(time=lambda: now + 50))
    assert ledger.find(key()) == "sess-1"
    monkeypatch.setattr(ledger_module, "time", SimpleNamespace(time=lambda: now + 101))
    assert ledger.find(key()) is None


def test_prune_deletes_old_entries_and_files(tmp_path: Path) -> None:
    transcript = tmp_path / "cli.jsonl"
    transcript.write_text("{}\n")
    ledger = Ledger(str(tmp_path / "sessions"), max_age=100)
    ledger.keep(key(), "old", transcript)
    now = time.time()
    os.utime(ledger.path("old"), (now - 200, now - 200))
    ledger.keep(key(system=None), "new", transcript)
    stray = tmp_path / "sessions" / "stray.jsonl"
    stray.write_text("{}\n")
    os.utime(stray, (now - 500, now - 500))
    ledger.prune(now=now)
    assert not ledger.path("old").exists() and not stray.exists()
    assert ledger.path("new").exists() and ledger.find(key(system=None)) == "new"
    assert len(ledger) == 2  # the entries are both young: "old" is only gone from disk
    assert ledger.find(key()) is None
    ledger.prune(now=now + 150)
    assert len(ledger) == 0 and not ledger.path("new").exists()


@pytest.mark.parametrize("directory", ["/etc", "/usr", "/usr/bin", "/proc", "/proc/self",
                                       "/var", "/tmp"])
def test_system_directories_are_refused(directory: str) -> None:
    with pytest.raises(ValueError, match="is a system directory"):
        check_directory("w", directory)


def test_a_project_under_a_system_directory_is_not(tmp_path: Path) -> None:
    assert check_directory("w", str(tmp_path)) == str(tmp_path.resolve())


def test_a_line_of_sessions_keeps_the_newest_and_its_parent(tmp_path: Path) -> None:
    transcript = tmp_path / "cli.jsonl"
    transcript.write_text("{}\n")
    ledger = Ledger(str(tmp_path / "sessions"), max_age=3600)
    turns = [("user", text(f"turn {n}")) for n in range(4)]
    for n, session in enumerate(("s1", "s2", "s3")):
        ledger.keep(key(turns=turns[: n + 1]), session, transcript,
                    parent=None if n == 0 else f"s{n}")
    assert sorted(p.name for p in (tmp_path / "sessions").iterdir()) == ["s2.jsonl", "s3.jsonl"]
    assert ledger.find(key(turns=turns[:1])) is None  # s1: its entry went with its file
    assert ledger.find(key(turns=turns[:2])) == "s2"  # the newest answer can be regenerated
    assert ledger.find(key(turns=turns[:3])) == "s3"
    ledger.keep(key(turns=turns[:3] + [("user", text("other"))]), "s3b", transcript,
                parent="s2")  # a regenerated third answer: s2's parent s1 is already gone
    assert ledger.find(key(turns=turns[:3])) == "s3" and ledger.path("s2").exists()
