"""The agentic profile end to end: the real CLI runs Claude Code's own tools in a temporary
workspace, while the fake upstream plays an agent that asks for them.

What reaches the model (the tool results the CLI sent back) is checked as well as what the
client got: the answer, the steps in reasoning_content, the notes, the session path taken.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer, claude_children, wait_for_no_claude

from claude_openai import Config, chat_completion, create_app, create_response
from claude_openai._agent.ledger import forget_ledgers

pytestmark = pytest.mark.e2e

KEY = "sk-agent-test"
SECRET = "the secret word is plum"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.txt").write_text(SECRET + "\n")
    (root / ".env").write_text("TOKEN=do-not-leak\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the workspace\n")
    (root / "link.txt").symlink_to(outside)
    return root


def agent_config(workspace: Path, tmp_path: Path, preset: str = "read", **extra: Any) -> Config:
    return Config(agent_workspaces=f"proj:{preset}={workspace}", pool_size=0, timeout=60,
                  max_retries=0, api_key=KEY, agent_sessions_dir=str(tmp_path / "sessions"),
                  **extra)


def read(path: str | Path) -> dict[str, Any]:
    return {"name": "Read", "input": {"file_path": str(path)}}


def tool_results(call: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a model call's messages, in order."""
    return [block for message in call["messages"] if isinstance(message["content"], list)
            for block in message["content"] if block.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


def ask(config: Config, messages: list[dict[str, Any]], model: str = "agent:proj"
        ) -> dict[str, Any]:
    return chat_completion({"model": model, "messages": messages}, config=config)


def same_run(text: str) -> str:
    """``text`` without what differs from run to run: tool call ids, step durations."""
    return re.sub(r"\(\d+\.\d s\)", "(t)", re.sub(r'id="[^"]*"', 'id=""', text))


def message_of(completion: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = completion["choices"][0]["message"]
    return message


# -- tools, rules and the hook -------------------------------------------------------------------
def test_a_file_read_comes_back_into_the_answer(upstream: FakeUpstream, workspace: Path,
                                                 tmp_path: Path) -> None:
    upstream.queue(Reply(text="Let me look.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="The word is plum."))
    completion = ask(agent_config(workspace, tmp_path),
                     [{"role": "user", "content": "What is the secret word?"}])
    message = message_of(completion)
    assert message["content"] == "Let me look.\n\nThe word is plum."
    assert message["reasoning_content"].startswith("▸ Read notes.txt → ok (")
    assert "tool_calls" not in message and completion["choices"][0]["finish_reason"] == "stop"
    assert SECRET in result_text(tool_results(upstream.calls[1])[0])
    assert completion["model"] == "agent:proj"
    # summed over both model calls (the fake counts a word a token, 19 prompt tokens a call)
    assert completion["usage"]["completion_tokens"] == 3 + 4
    assert completion["usage"]["prompt_tokens"] == 2 * 19
    assert f"Primary working directory: {workspace}" in json.dumps(upstream.calls[0]["messages"])


@pytest.mark.parametrize("preset", ["edit", "read"])
def test_an_edit_lands_with_edit_and_is_refused_with_read(upstream: FakeUpstream,
                                                          workspace: Path, tmp_path: Path,
                                                          preset: str) -> None:
    target = workspace / "todo.txt"
    upstream.queue(Reply(text="Writing.", tools=[{"name": "Write", "input": {
        "file_path": str(target), "content": "buy milk\n"}}]), Reply(text="Done."))
    message = message_of(ask(agent_config(workspace, tmp_path, preset),
                             [{"role": "user", "content": "Note: buy milk"}]))
    result = result_text(tool_results(upstream.calls[1])[0])
    if preset == "edit":
        assert target.read_text() == "buy milk\n"
        assert message["content"].endswith("> ✎ Files changed: todo.txt\n\n")
        assert message["reasoning_content"].startswith("▸ Write todo.txt → ok (")
    else:
        assert not target.exists()
        assert "No such tool available: Write" in result
        assert "> ✗ Not allowed in this workspace: Write todo.txt" in message["content"]
        assert "▸ Write todo.txt → denied: No such tool available" in message["reasoning_content"]


@pytest.mark.parametrize("case", ["outside", "symlink", "dotdot", "env", "git", "tool"])
def test_reaching_out_is_denied_and_explained(upstream: FakeUpstream, workspace: Path,
                                              tmp_path: Path, case: str) -> None:
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[credential]\n helper = store\n")
    call = {"outside": read(tmp_path / "outside.txt"), "symlink": read(workspace / "link.txt"),
            "dotdot": read("../outside.txt"), "env": read(workspace / ".env"),
            "git": read(workspace / ".git" / "config"),
            "tool": {"name": "WebFetch", "input": {"url": "http://127.0.0.1:9/",
                                                   "prompt": "read it"}}}[case]
    upstream.queue(Reply(text="Trying.", tools=[call]), Reply(text="I could not."))
    message = message_of(ask(agent_config(workspace, tmp_path, "edit"),
                             [{"role": "user", "content": "Look around."}]))
    result = tool_results(upstream.calls[1])[0]
    assert result.get("is_error") is True
    text = result_text(result)
    why = {"outside": "refused: it is outside the workspace",
           "symlink": "refused: it is outside the workspace",  # the hook resolved the link
           "dotdot": "refused: it is outside the workspace",
           "env": "denied by your permission settings",  # the secret deny rules
           "git": "denied by your permission settings",
           "tool": "No such tool available: WebFetch"}[case]
    assert why in text
    for leaked in ("outside the workspace\n", "do-not-leak", "helper = store"):
        assert leaked not in text
    assert "> ✗ Not allowed in this workspace: " in message["content"]
    assert "→ denied: " in message["reasoning_content"]


@pytest.mark.parametrize(("limit", "sentence"), [
    ({"agent_max_turns": 2},
     "> ⏹ Stopped after 2 model turns, the limit for one request; say \"continue\""),
    ({"agent_max_budget_usd": 0.00015},
     "> ⏹ Stopped at the spending limit for one request ($0.00015)"),
])
def test_a_limit_stops_a_looping_agent(upstream: FakeUpstream, workspace: Path, tmp_path: Path,
                                       limit: dict[str, Any], sentence: str) -> None:
    upstream.queue(*[Reply(text=f"Again {i}.", tools=[read(workspace / "notes.txt")])
                     for i in range(6)])
    completion = ask(agent_config(workspace, tmp_path, **limit),
                     [{"role": "user", "content": "Loop."}])
    assert completion["choices"][0]["finish_reason"] == "length"
    assert sentence in message_of(completion)["content"]
    if "agent_max_turns" in limit:
        assert len(upstream.calls) == 2
    else:
        assert 1 < len(upstream.calls) < 6


def test_the_time_limit_interrupts_the_agent(upstream: FakeUpstream, workspace: Path,
                                             tmp_path: Path) -> None:
    upstream.queue(Reply(text="Reading.", tools=[read(workspace / "notes.txt")]),
                   Reply(text=" ".join(["slow"] * 100), delay=0.1))
    started = time.monotonic()
    completion = ask(agent_config(workspace, tmp_path, agent_timeout=2.5),
                     [{"role": "user", "content": "Take your time."}])
    assert time.monotonic() - started < 10
    assert completion["choices"][0]["finish_reason"] == "length"
    content = message_of(completion)["content"]
    assert "> ⏹ Stopped after 2.5 seconds, the time limit" in content
    assert wait_for_no_claude() == []
    upstream.queue(Reply(text="Going on."))  # "continue" resumes the interrupted session
    going_on = ask(agent_config(workspace, tmp_path, agent_timeout=2.5), [
        {"role": "user", "content": "Take your time."}, {"role": "assistant", "content": content},
        {"role": "user", "content": "continue"}])
    assert message_of(going_on)["content"] == "Going on."
    resent = upstream.calls[-1]["messages"]
    assert SECRET in json.dumps(resent), "the interrupted run's tool result came back"


# -- progress ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reasoning", "content", "openwebui", "off"])
def test_progress_modes_stream_and_not(upstream: FakeUpstream, workspace: Path, tmp_path: Path,
                                       mode: str) -> None:
    config = agent_config(workspace, tmp_path)
    replies = (Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
               Reply(text="Plum."))
    upstream.queue(*replies)
    whole = message_of(ask(config, [{"role": "user", "content": "Word?"}], f"agent:proj+{mode}"))
    upstream.queue(*replies)
    from claude_openai import stream_chat_completion

    chunks = list(stream_chat_completion({"model": f"agent:proj+{mode}", "stream": True,
                                          "messages": [{"role": "user", "content": "Word?"}]},
                                         config=config))
    for chunk in chunks:
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)
        assert "tool_calls" not in chunk["choices"][0]["delta"] if chunk["choices"] else True
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    assert same_run(streamed) == same_run(whole["content"])
    assert same_run(reasoning) == same_run(whole.get("reasoning_content") or "")
    if mode == "reasoning":
        assert whole["content"] == "Looking.\n\nPlum."
        assert reasoning.startswith("▸ Read notes.txt → ok (")
    elif mode == "content":
        assert whole["content"].startswith("Looking.\n\n> ▸ Read notes.txt → ok (")
        assert whole["content"].endswith(" s)\n\nPlum.")
    elif mode == "openwebui":
        assert '<details type="tool_calls" done="true"' in whole["content"]
        assert 'name="Read"' in whole["content"] and whole["content"].endswith("Plum.")
    else:
        assert whole["content"] == "Looking.\n\nPlum." and not reasoning


# -- conversations that go on --------------------------------------------------------------------
def test_a_conversation_resumes_its_session_and_rebuilds_after_a_restart(
        upstream: FakeUpstream, workspace: Path, tmp_path: Path) -> None:
    server = ThreadedServer(create_app(agent_config(workspace, tmp_path, "edit"))).start()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    messages: list[Any] = [{"role": "system", "content": "Be brief."}]
    paths = []
    try:
        for turn, (ask_for, replies) in enumerate([
            ("What is the word?", [Reply(text="Reading.", tools=[read(workspace / "notes.txt")]),
                                   Reply(text="Plum.")]),
            ("Write it down.", [Reply(text="Writing.", tools=[{"name": "Write", "input": {
                "file_path": str(workspace / "word.txt"), "content": "plum"}}]),
                Reply(text="Written.")]),
            ("Thanks!", [Reply(text="Welcome.")]),
        ]):
            messages.append({"role": "user", "content": ask_for})
            upstream.queue(*replies)
            before = len(upstream.calls)
            raw = client.chat.completions.with_raw_response.create(
                model="agent:proj+content", messages=messages)
            paths.append(raw.headers["x-claude-session"])
            completion = raw.parse()
            messages.append({"role": "assistant",
                             "content": completion.choices[0].message.content})
            first = upstream.calls[before]
            uses = [b["name"] for m in first["messages"] if isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_use"]
            assert uses == [[], ["Read"], ["Read", "Write"]][turn], "earlier tool calls resent"
        assert paths == ["new", "resumed", "resumed"]
        assert (workspace / "word.txt").read_text() == "plum"
        # the newest session and its parent are kept; the first turn's went with the third
        assert len(os.listdir(tmp_path / "sessions")) == 2

        forget_ledgers()  # what a restart does: the ledger is in memory
        messages.append({"role": "user", "content": "Still there?"})
        upstream.queue(Reply(text="Yes."))
        before = len(upstream.calls)
        raw = client.chat.completions.with_raw_response.create(model="agent:proj+content",
                                                               messages=messages)
        assert raw.headers["x-claude-session"] == "rebuilt"
        assert raw.parse().choices[0].message.content == "Yes."
        call = upstream.calls[before]
        assert "the tool calls and results of those turns are not available" in json.dumps(
            call["system"])
        assert not any(b.get("type") == "tool_use" for m in call["messages"]
                       if isinstance(m["content"], list) for b in m["content"])
        texts = json.dumps(call["messages"])
        assert "Write it down." in texts and "> ▸" not in texts, "our markup is not replayed"
    finally:
        client.close()
        server.stop()


def test_an_edited_history_is_not_resumed(upstream: FakeUpstream, workspace: Path,
                                          tmp_path: Path) -> None:
    config = agent_config(workspace, tmp_path)
    upstream.queue(Reply(text="Reading.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    first = ask(config, [{"role": "user", "content": "Word?"}])
    answer = message_of(first)["content"]
    upstream.queue(Reply(text="Ok."))
    ask(config, [{"role": "user", "content": "Word??"}, {"role": "assistant", "content": answer},
                 {"role": "user", "content": "And?"}])
    assert not any(b.get("type") == "tool_use" for m in upstream.calls[-1]["messages"]
                   if isinstance(m["content"], list) for b in m["content"])


# -- over HTTP: keys, refusals, clients, disconnects, one turn per workspace -----------------------
@pytest.fixture
def served(upstream: FakeUpstream, workspace: Path, tmp_path: Path) -> Iterator[ThreadedServer]:
    running = ThreadedServer(create_app(agent_config(workspace, tmp_path, agent_busy="refuse"))
                             ).start()
    yield running
    running.stop()


def test_http_refusals(served: ThreadedServer, upstream: FakeUpstream) -> None:
    body = {"model": "agent:proj", "messages": [{"role": "user", "content": "hi"}]}
    url = served.url + "/v1/chat/completions"
    with httpx.Client(timeout=30) as http:
        assert http.post(url, json=body).status_code == 401
        assert http.post(url, json=body, headers={"authorization": "Bearer nope"}
                         ).status_code == 401
        auth = {"authorization": f"Bearer {KEY}"}
        for bad, status, code in [
            ({**body, "model": "agent:nope"}, 404, "model_not_found"),
            ({**body, "model": "agent:/etc"}, 404, "model_not_found"),
            ({**body, "cwd": "/etc"}, 400, "agent_field_refused"),
            ({**body, "metadata": {"workspace": "/"}}, 400, "agent_field_refused"),
            ({**body, "tools": [{"type": "function", "function": {"name": "f"}}]}, 400,
             "agent_tools_refused"),
        ]:
            response = http.post(url, json=bad, headers=auth)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert upstream.calls == []


def test_official_client_and_litellm_against_an_agent(served: ThreadedServer,
                                                      upstream: FakeUpstream,
                                                      workspace: Path) -> None:
    import litellm

    client = openai.OpenAI(base_url=served.url + "/v1", api_key=KEY, max_retries=0)
    upstream.queue(Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    stream = client.chat.completions.create(
        model="agent:proj", messages=[{"role": "user", "content": "Word?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Looking.\n\nPlum."
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 2 * 19  # two model calls, summed
    upstream.queue(Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    with openai.OpenAI(base_url=served.url + "/v1", api_key=KEY, max_retries=0) as own:
        # litellm's own cached client would leave its socket open until exit
        response = litellm.completion(model="openai/agent:proj", api_base=served.url + "/v1",
                                      api_key=KEY, client=own,
                                      messages=[{"role": "user", "content": "Word?"}])
    assert response.choices[0].message.content == "Looking.\n\nPlum."
    assert "▸ Read notes.txt" in (response.choices[0].message.reasoning_content or "")
    models = [m.id for m in client.models.list()]
    assert "agent:proj" in models
    client.close()


def test_a_disconnect_mid_run_stops_the_cli(served: ThreadedServer, upstream: FakeUpstream,
                                            workspace: Path) -> None:
    upstream.queue(Reply(text="Reading.", tools=[read(workspace / "notes.txt")]),
                   Reply(text=" ".join(["w"] * 200), delay=0.05))
    body = {"model": "agent:proj", "messages": [{"role": "user", "content": "go"}],
            "stream": True}
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", served.url + "/v1/chat/completions", json=body,
            headers={"authorization": f"Bearer {KEY}"}) as response:
        for line in response.iter_lines():
            if '"content": " w"' in line or '"content":" w"' in line:
                break
        assert claude_children(), "the CLI should be running mid-answer"
    assert wait_for_no_claude(timeout=5) == []
    assert upstream.sent_deltas[-1] < 150, "the upstream call went on after the disconnect"


def test_one_request_at_a_time_per_workspace(served: ThreadedServer, upstream: FakeUpstream,
                                             workspace: Path) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 40), delay=0.05))
    body = {"model": "agent:proj", "messages": [{"role": "user", "content": "go"}],
            "stream": True}
    auth = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", served.url + "/v1/chat/completions", json=body, headers=auth) as first:
        lines = first.iter_lines()
        next(lines)
        second = http.post(served.url + "/v1/chat/completions",
                           json={**body, "stream": False}, headers=auth)
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "workspace_busy"
        assert "one request at a time" in second.json()["error"]["message"]
        assert any('"finish_reason":"stop"' in line.replace(" ", "") for line in lines)


def test_the_responses_api_drives_an_agent(upstream: FakeUpstream, workspace: Path,
                                           tmp_path: Path) -> None:
    upstream.queue(Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    response = create_response({"model": "agent:proj", "input": "Word?"},
                               config=agent_config(workspace, tmp_path))
    openai.types.responses.Response.model_validate(response)
    kinds = [item["type"] for item in response["output"]]
    assert kinds == ["message", "reasoning", "message"]  # as it happened: text, a step, text
    assert response["output"][1]["summary"][0]["text"].startswith("▸ Read notes.txt → ok (")
    texts = [item["content"][0]["text"] for item in response["output"] if item["type"] == "message"]
    assert texts == ["Looking.", "Plum."]
    assert SECRET in result_text(tool_results(upstream.calls[1])[0])


def test_a_regenerated_answer_continues_the_same_untouched_session(
        upstream: FakeUpstream, workspace: Path, tmp_path: Path) -> None:
    config = agent_config(workspace, tmp_path)
    upstream.queue(Reply(text="Reading.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Word?"}]
    messages.append({"role": "assistant", "content": message_of(ask(config, messages))["content"]})
    messages.append({"role": "user", "content": "Spell it."})
    sent = []
    for answer in ("P-L-U-M.", "p l u m"):  # the client regenerates the last answer
        upstream.queue(Reply(text=answer))
        assert message_of(ask(config, messages))["content"] == answer
        sent.append(upstream.calls[-1]["messages"])
    assert len(sent[0]) == len(sent[1]), "the first regeneration's turn is not in the second"
    assert "P-L-U-M." not in json.dumps(sent[1])
    assert any(b.get("type") == "tool_use" for m in sent[1] if isinstance(m["content"], list)
               for b in m["content"])


def test_a_claude_model_inside_the_agent_id(upstream: FakeUpstream, workspace: Path,
                                            tmp_path: Path) -> None:
    upstream.queue(Reply(text="Hi."))
    completion = ask(agent_config(workspace, tmp_path), [{"role": "user", "content": "hi"}],
                     "agent:proj:haiku")
    assert completion["model"] == "agent:proj:haiku"
    assert "haiku" in upstream.calls[0]["model"]


def test_the_shell_preset_runs_bash_in_the_workspace(upstream: FakeUpstream, workspace: Path,
                                                     tmp_path: Path) -> None:
    upstream.queue(Reply(text="Running.", tools=[{"name": "Bash", "input": {
        "command": "echo hello > hello.txt && pwd", "description": "write a file"}}]),
        Reply(text="Done."))
    message = message_of(ask(agent_config(workspace, tmp_path, "shell",
                                          agent_unsandboxed_shell=True),
                             [{"role": "user", "content": "Say hello in a file."}]))
    assert (workspace / "hello.txt").read_text() == "hello\n"
    assert str(workspace) in result_text(tool_results(upstream.calls[1])[0])
    assert "▸ Bash echo hello > hello.txt && pwd → ok (" in message["reasoning_content"]


def test_a_responses_chain_resumes_the_agent_session(upstream: FakeUpstream, workspace: Path,
                                                     tmp_path: Path) -> None:
    config = agent_config(workspace, tmp_path)
    upstream.queue(Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    first = create_response({"model": "agent:proj", "input": "Word?"}, config=config)
    upstream.queue(Reply(text="Yes."))
    second = create_response({"model": "agent:proj", "input": "Sure?",
                              "previous_response_id": first["id"]}, config=config)
    assert second["output"][-1]["content"][0]["text"] == "Yes."
    assert any(b.get("type") == "tool_use" for m in upstream.calls[-1]["messages"]
               if isinstance(m["content"], list) for b in m["content"]), "the session resumed"


def test_the_container_preset_still_keeps_paths_inside(upstream: FakeUpstream, workspace: Path,
                                                       tmp_path: Path) -> None:
    upstream.queue(Reply(text="Trying.", tools=[read(tmp_path / "outside.txt")]),
                   Reply(text="Writing.", tools=[{"name": "Write", "input": {
                       "file_path": str(workspace / "out.txt"), "content": "x"}}]),
                   Reply(text="Done."))
    message = message_of(ask(agent_config(workspace, tmp_path, "container", agent_container=True),
                             [{"role": "user", "content": "Go."}]))
    denied = tool_results(upstream.calls[1])[0]
    assert denied.get("is_error") is True and "outside the workspace" in result_text(denied)
    assert (workspace / "out.txt").read_text() == "x"
    assert f"> ✗ Not allowed in this workspace: Read {tmp_path / 'outside.txt'} (" in (
        message["content"])


def test_each_agent_request_leaves_an_audit_line(upstream: FakeUpstream, workspace: Path,
                                                 tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    upstream.queue(Reply(text="Go.", tools=[read(workspace / "notes.txt"),
                                           read(workspace / ".env")]),
                   Reply(text="Writing.", tools=[{"name": "Edit", "input": {
                       "file_path": str(workspace / "notes.txt"), "old_string": "plum",
                       "new_string": "pear"}}]),
                   Reply(text="Done."))
    with caplog.at_level("INFO", logger="claude_openai"):
        ask(agent_config(workspace, tmp_path, "edit"), [{"role": "user", "content": "Go."}])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("agent {")]
    assert len(lines) == 1
    audit = json.loads(lines[0].removeprefix("agent "))
    assert audit["key"] == "library" and audit["workspace"] == "proj"
    assert audit["tools"] == ["Read notes.txt", "Read .env", "Edit notes.txt"]
    assert audit["denied"] == ["Read .env"] and audit["files_changed"] == ["notes.txt"]
    assert audit["outcome"] == "ok" and audit["session"] == "new" and audit["cost_usd"] > 0
    assert (workspace / "notes.txt").read_text() == "the secret word is pear\n"


def test_grep_and_glob_over_the_workspace_leave_the_secrets_out(
        upstream: FakeUpstream, workspace: Path, tmp_path: Path) -> None:
    (workspace / "sub").mkdir()
    (workspace / "sub" / ".env.local").write_text("plum=sub-leak\n")
    (workspace / "id_rsa").write_text("plum private key\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("plum in git\n")
    upstream.queue(Reply(text="Grep.", tools=[{"name": "Grep", "input": {
        "pattern": "plum|TOKEN", "path": ".", "output_mode": "content"}}]),
        Reply(text="Glob.", tools=[{"name": "Glob", "input": {"pattern": "**/*"}}]),
        Reply(text="Done."))
    ask(agent_config(workspace, tmp_path), [{"role": "user", "content": "Search."}])
    grep = result_text(tool_results(upstream.calls[1])[0])
    glob = result_text(tool_results(upstream.calls[2])[1])
    assert grep.strip() == "notes.txt:1:the secret word is plum"
    assert "notes.txt" in glob
    for secret in (".env", "id_rsa", ".git"):
        assert secret not in glob and secret not in grep


def test_in_process_calls_get_the_preset_checks_too(upstream: FakeUpstream, workspace: Path,
                                                    tmp_path: Path) -> None:
    from claude_openai import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError, match="--agent-container") as refused:
        ask(agent_config(workspace, tmp_path, "container"), [{"role": "user", "content": "hi"}])
    assert refused.value.code == "agent_unavailable"
    assert upstream.calls == [] and claude_children() == []


def test_a_second_request_waits_for_the_workspace(upstream: FakeUpstream, workspace: Path,
                                                  tmp_path: Path) -> None:
    import anyio

    from claude_openai import achat_completion

    config = agent_config(workspace, tmp_path)
    upstream.queue(Reply(text=" ".join(["one"] * 20), delay=0.03), Reply(text="two"))
    answers: list[str] = []

    async def one(delay: float) -> None:
        await anyio.sleep(delay)
        done = await achat_completion({"model": "agent:proj", "messages": [
            {"role": "user", "content": "go"}]}, config=config)
        answers.append(message_of(done)["content"])

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(one, 0.0)
            group.start_soon(one, 0.3)

    anyio.run(both)
    assert answers == [" ".join(["one"] * 20), "two"]
    (first_start, first_end), (second_start, _) = upstream.send_times
    assert second_start >= first_end, "the second run began only once the first had ended"


def test_the_responses_stream_of_an_agent_validates(upstream: FakeUpstream, workspace: Path,
                                                    tmp_path: Path) -> None:
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    from claude_openai import stream_response

    upstream.queue(Reply(text="Looking.", tools=[read(workspace / "notes.txt")]),
                   Reply(text="Plum."))
    events = list(stream_response({"model": "agent:proj", "input": "Word?", "stream": True},
                                  config=agent_config(workspace, tmp_path)))
    adapter = TypeAdapter(ResponseStreamEvent)
    for event in events:
        adapter.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    steps = "".join(e["delta"] for e in events
                    if e["type"] == "response.reasoning_summary_text.delta")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert steps.startswith("▸ Read notes.txt → ok (") and text == "Looking.Plum."
    assert not any("function_call" in json.dumps(e) for e in events)


def test_a_stream_waiting_for_a_busy_workspace_gets_a_409_status(
        upstream: FakeUpstream, workspace: Path, tmp_path: Path) -> None:
    server = ThreadedServer(create_app(agent_config(
        workspace, tmp_path, queue_timeout=1.0, keepalive_interval=0.2))).start()
    upstream.queue(Reply(text=" ".join(["w"] * 60), delay=0.05))
    body = {"model": "agent:proj", "messages": [{"role": "user", "content": "go"}],
            "stream": True}
    auth = {"authorization": f"Bearer {KEY}"}
    url = server.url + "/v1/chat/completions"
    try:
        with httpx.Client(timeout=30) as http, http.stream("POST", url, json=body,
                                                           headers=auth) as first:
            lines = first.iter_lines()
            next(lines)
            started = time.monotonic()
            with http.stream("POST", url, json=body, headers=auth) as second:
                waited = time.monotonic() - started
                assert second.status_code == 409, "refused before the stream began"
                assert json.loads(second.read())["error"]["code"] == "workspace_busy"
            assert 0.9 < waited < 5, "it waited for the workspace, sending nothing"
            assert any('"finish_reason":"stop"' in line.replace(" ", "") for line in lines)
        upstream.queue(Reply(text="free again"))
        again = httpx.post(url, json={**body, "stream": False}, headers=auth, timeout=30)
        assert again.status_code == 200, "the workspace was released"
    finally:
        server.stop()
