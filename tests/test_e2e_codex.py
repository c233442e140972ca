"""End to end: the real Codex CLI (``codex exec``) driving Claude through ``/v1/responses``.

Codex talks to our server as a custom Responses provider; our server runs the real Claude Code
CLI against the fake upstream.  Each test checks both sides: what Codex did and printed, and
what reached the model.  Codex is pinned and installed by ``.ci/run`` (see ``codex_support``);
without it these tests skip, saying how to install it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from codex_support import (
    BASE_INSTRUCTIONS,
    INSTALL_HINT,
    CodexRun,
    find_codex,
    run_codex,
    write_home,
)
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

SLUG = "claude-sonnet-4-5"
API_KEY = "sk-codex-test"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"


@pytest.fixture(scope="module")
def codex() -> Path:
    found = find_codex()
    if found is None:
        pytest.skip(f"Codex CLI not found: {INSTALL_HINT}")
    if not found.exists():
        pytest.fail(f"CLAUDE_OPENAI_CODEX names {found}, which does not exist")
    return found


@pytest.fixture
def server(upstream: FakeUpstream, config: Config) -> Iterator[ThreadedServer]:
    running = ThreadedServer(create_app(replace(config, api_key=API_KEY))).start()
    yield running
    running.stop()


def codex_exec(codex: Path, server: ThreadedServer, tmp_path: Path, prompt: str,
               *extra: str) -> tuple[CodexRun, Path]:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    work.mkdir()
    write_home(home, server.url, SLUG)
    run = run_codex(codex, home, work, prompt, API_KEY, extra=extra)
    assert run.outbound == [], f"Codex tried to reach beyond 127.0.0.1: {run.outbound}"
    return run, work


def system_text(call: dict[str, Any]) -> str:
    system = call.get("system") or ""
    return system if isinstance(system, str) else "\n".join(b["text"] for b in system)


def tool_results(call: dict[str, Any]) -> dict[str, str]:
    """The tool_result blocks of a model call: tool_use id -> its text."""
    found = {}
    for message in call["messages"]:
        if message["role"] != "user" or isinstance(message["content"], str):
            continue
        for block in message["content"]:
            if block.get("type") == "tool_result":
                content = block["content"]
                found[block["tool_use_id"]] = content if isinstance(content, str) else "".join(
                    b.get("text", "") for b in content)
    return found


def test_codex_runs_a_command_applies_a_patch_and_answers(
        codex: Path, server: ThreadedServer, upstream: FakeUpstream, tmp_path: Path) -> None:
    shell_tool = "exec_command"
    upstream.queue(
        Reply(text="I'll create out.txt first.",
              tools=[{"name": shell_tool, "input": {"cmd": "echo hello > out.txt"},
                      "id": "toolu_shell1"}]),
        Reply(text="", tools=[{"name": "apply_patch", "input": {"input": PATCH},
                               "id": "toolu_patch1"}]),
        Reply(text="Done: out.txt says hello and hello.txt says hi."),
    )
    run, work = codex_exec(codex, server, tmp_path,
                           "Create out.txt with hello in it, then add hello.txt containing hi.")

    # Codex's side: it ran the command, applied the patch, printed the final message.
    assert run.returncode == 0, run.explain()
    assert (work / "out.txt").read_text() == "hello\n", run.explain()
    assert (work / "hello.txt").read_text() == "hi\n", run.explain()
    assert run.stdout.strip() == "Done: out.txt says hello and hello.txt says hi.", run.explain()
    assert run.seconds < 30, run.explain()
    assert "ERROR" not in run.stderr, run.explain()

    # The model's side: one call per Codex turn, each with Codex's prompt and tools.
    assert len(upstream.calls) == 3, run.explain()
    first, second, third = upstream.calls
    offered = {t["name"]: t for t in first["tools"]}
    # function tools as they are, the multi_agent_v1 namespace flattened, the hosted
    # web_search left out (Claude cannot run it for Codex)
    assert {shell_tool, "write_stdin", "apply_patch", "spawn_agent"} <= set(offered), offered
    assert offered[shell_tool]["input_schema"]["required"] == ["cmd"]
    patch_schema = offered["apply_patch"]["input_schema"]
    assert patch_schema["properties"]["input"]["type"] == "string"
    assert patch_schema["required"] == ["input"]
    assert "FREEFORM" in offered["apply_patch"]["description"]
    for call in upstream.calls:
        assert BASE_INSTRUCTIONS in system_text(call), "Codex's developer prompt is the system"
        assert {t["name"] for t in call["tools"]} == set(offered), "the same tools every turn"

    shell_result = tool_results(second)
    assert list(shell_result) == ["toolu_shell1"]
    assert "Process exited with code 0" in shell_result["toolu_shell1"]
    patch_result = tool_results(third)
    assert list(patch_result) == ["toolu_shell1", "toolu_patch1"]
    assert "Success. Updated the following files" in patch_result["toolu_patch1"]
    assert "A hello.txt" in patch_result["toolu_patch1"]
    # Claude's turns came back through Codex as it made them: the thinking first (Codex
    # echoed the reasoning items; the fake refuses a thinking block that was altered), then
    # the calls, the patch as the raw text Codex applied
    answers = [m["content"] for m in third["messages"] if m["role"] == "assistant"]
    assert [[b["type"] for b in blocks] for blocks in answers] == [
        ["thinking", "text", "tool_use"], ["thinking", "tool_use"]]
    assert answers[0][2]["input"] == {"cmd": "echo hello > out.txt"}
    assert answers[1][1]["input"] == {"input": PATCH}


def test_codex_asks_a_plain_question(codex: Path, server: ThreadedServer,
                                     upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.queue(Reply(text="The capital of France is Paris.",
                         usage={"input_tokens": 1200, "cache_read_input_tokens": 800}))
    run, _ = codex_exec(codex, server, tmp_path, "What is the capital of France?", "--json")

    assert run.returncode == 0, run.explain()
    events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    messages = [e["item"]["text"] for e in events if e["type"] == "item.completed"
                and e["item"]["type"] == "agent_message"]
    assert messages == ["The capital of France is Paris."], run.explain()
    # the model's usage reached Codex's meter: input counts the cache reads (800) and writes
    # (the fake's 3); output counts the thinking (one token a word) and the six words
    [usage] = [e["usage"] for e in events if e["type"] == "turn.completed"]
    assert (usage["input_tokens"], usage["cached_input_tokens"],
            usage["cache_write_input_tokens"]) == (1200 + 800 + 3, 800, 3), usage
    assert usage["reasoning_output_tokens"] > 0, usage
    assert usage["output_tokens"] == usage["reasoning_output_tokens"] + 6, usage
    assert run.seconds < 30, run.explain()
    assert "ERROR" not in run.stderr, run.explain()

    [call] = upstream.calls
    assert BASE_INSTRUCTIONS in system_text(call)
    user = [m for m in call["messages"] if m["role"] == "user"]
    assert "What is the capital of France?" in json.dumps(user[-1]["content"])
