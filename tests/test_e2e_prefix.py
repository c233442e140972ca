"""End to end: a conversation's requests to the model each begin with the whole of the one
before, whichever process serves them, so the prompt cache written by one turn is read by the
next.  What the model gets from a rebuilt history is what a live session sends."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fake_upstream import FakeUpstream, Reply

from claude_openai import Config, chat_completion, close_pools
from claude_openai._engine import session_context
from claude_openai._engine.options import working_directory

pytestmark = pytest.mark.e2e

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
                                          "properties": {"city": {"type": "string"}}}}}
CONFIGS = {
    "defaults": Config(max_retries=0, pool_prime=False),
    "one-request-per-process": Config(max_retries=0, pool_prime=False, pool_max_requests=1),
    "pool-off": Config(max_retries=0, pool_size=0),
}


def canonical(call: dict[str, Any]) -> list[Any]:
    """What the prompt cache compares: tools, system, then each message's blocks, in order;
    the cache markers themselves move from request to request and are left out."""
    def blocks(content: Any) -> list[Any]:
        listed = content if isinstance(content, list) else [{"type": "text", "text": content}]
        return [{k: v for k, v in b.items() if k != "cache_control"} for b in listed]

    system = call.get("system")
    return [*(("tool", t["name"], json.dumps(t, sort_keys=True)) for t in call.get("tools", [])),
            *(("system", b) for b in blocks(system or [])),
            *((m["role"], b) for m in call["messages"] for b in blocks(m["content"]))]


def conversation(upstream: FakeUpstream, config: Config) -> list[dict[str, Any]]:
    """A plain turn, a tool call, its result, and two plain turns more."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo?"}]

    def ask(reply: Reply) -> dict[str, Any]:
        upstream.queue(reply)
        answer = chat_completion({"model": "sonnet", "messages": messages, "tools": [WEATHER]},
                                 config=config)["choices"][0]["message"]
        messages.append({k: v for k, v in answer.items() if k in ("role", "content",
                                                                    "tool_calls")})
        return answer

    ask(Reply(text="Let me look.", tools=[{"name": "get_weather", "input": {"city": "Oslo"},
                                           "id": "toolu_oslo"}]))
    messages.append({"role": "tool", "tool_call_id": "toolu_oslo", "content": "-3 C"})
    ask(Reply(text="It is cold in Oslo."))
    for question in ("And tomorrow?", "Thanks!"):
        messages.append({"role": "user", "content": question})
        ask(Reply(text=f"Answer to {question}"))
    return upstream.calls


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_request_begins_with_the_whole_of_the_one_before(upstream: FakeUpstream,
                                                              name: str) -> None:
    try:
        calls = conversation(upstream, CONFIGS[name])
    finally:
        close_pools()
    assert len(calls) == 4
    for n in range(1, len(calls)):
        before, now = canonical(calls[n - 1]), canonical(calls[n])
        assert now[:len(before)] == before, f"request {n + 1} parts from request {n}"
    first_context = calls[0]["messages"][1]  # Claude Code's environment, after the first turn
    assert first_context["role"] == "system"
    assert "Primary working directory" in json.dumps(first_context)


def test_a_rebuilt_history_reaches_the_model_as_the_live_session_sends_it(
        upstream: FakeUpstream) -> None:
    try:
        live = conversation(upstream, CONFIGS["defaults"])  # the last turns: a sticky process
    finally:
        close_pools()
    upstream.reset()
    rebuilt = conversation(upstream, CONFIGS["pool-off"])  # every turn: a history rebuilt
    assert [canonical(c) for c in live] == [canonical(c) for c in rebuilt]


def test_learning_the_session_context_leaves_no_session_file(
        upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_context, "_known", {})  # learned afresh in this test
    conversation(upstream, CONFIGS["pool-off"])
    [learned] = session_context._known.values()
    assert learned is not None
    assert [a["type"] for a in learned] == ["environment", "model", "session_context"]
    assert learned[0]["snapshot"]["workingDirectory"] == working_directory()
    projects = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects"
    assert not list(projects.rglob("*.jsonl"))  # the probe's session file is gone
    assert len(upstream.calls) == 4  # and the probe never reached the model
