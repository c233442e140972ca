"""End to end: what reaches the model is what the client sent plus what Claude Code cannot do
without, on every path a request can take (a process of its own, a warm one, a warm one
reused, a resumed history, a sticky follow-up, a tool-result follow-up).

Never: the one-call guard's budget line, a /clear's record, an empty message (the strict fake
refuses that one anyway), an earlier request's text.  Always, and only: Claude Code's billing
header and identity line before the client's system prompt (see the README's "What the model
receives").
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from fake_upstream import FakeUpstream, Reply

from claude_openai import Config, achat_completion, aclose_pools
from claude_openai._engine.runtime import pool_for

pytestmark = pytest.mark.e2e

MARKERS = ("USD budget", "local-command", "<command-name>", "/clear")
IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def check(call: dict[str, Any], system: str | None, *, earlier: tuple[str, ...] = ()) -> None:
    sent = json.dumps(call)
    for marker in MARKERS:
        assert marker not in sent, f"{marker!r} reached the model"
    for text in earlier:
        assert text not in sent, f"an earlier request's {text!r} reached the model"
    for message in call["messages"]:
        assert message["content"] not in ([], ""), f"an empty {message['role']} message"
    texts = [b["text"] for b in call["system"]]
    assert texts[0].startswith("x-anthropic-billing-header:")
    assert texts[1:] == [IDENTITY, *([system] if system else [])]


@pytest.mark.parametrize("system", [None, "Answer in French."], ids=["no-system", "system"])
def test_cold_and_resumed(upstream: FakeUpstream, config: Config, system: str | None) -> None:
    head = [{"role": "system", "content": system}] if system else []

    async def main() -> None:
        await achat_completion({"messages": [*head, user("hello")]}, config=config)
        await achat_completion({"messages": [*head, user("hello"), {
            "role": "assistant", "content": "ECHO: hello"}, user("again")]}, config=config)
        upstream.queue(Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Oslo"},
                                              "id": "toolu_ctx1"}]))
        asked = [*head, user("weather?")]
        first = await achat_completion({"messages": asked, "tools": [WEATHER]}, config=config)
        message = first["choices"][0]["message"]
        await achat_completion({"messages": [*asked, {
            "role": "assistant", "content": None, "tool_calls": message["tool_calls"]}, {
            "role": "tool", "tool_call_id": "toolu_ctx1", "content": "sunny"}],
            "tools": [WEATHER]}, config=config)

    anyio.run(main)
    assert len(upstream.calls) == 4
    for call in upstream.calls:
        check(call, system)


@pytest.mark.parametrize("system", [None, "Answer in French."], ids=["no-system", "system"])
def test_warm_reused_and_sticky(upstream: FakeUpstream, system: str | None) -> None:
    config = Config(timeout=60, max_retries=0, pool_size=2, pool_spares=1)
    head = [{"role": "system", "content": system}] if system else []

    async def main() -> dict[str, int]:
        try:
            pool = pool_for(config)
            await pool.start()
            with anyio.fail_after(30):
                while not pool.idle:
                    await anyio.sleep(0.02)
            for text in ("first words", "second words", "third words"):  # warm, then reused
                await achat_completion({"messages": [*head, user(text)]}, config=config)
            history = [*head, user("third words"), {"role": "assistant",
                                                     "content": "ECHO: third words"}]
            await achat_completion({"messages": [*history, user("fourth")]}, config=config)
            await achat_completion({"messages": [*history, user("fourth"), {
                "role": "assistant", "content": "ECHO: fourth"}, user("fifth")]}, config=config)
            return dict(pool.counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    # (the first spare is for no system prompt: with one, the first request starts its own)
    assert counts["warm"] + counts.get("spawned_for_request", 0) == 3, counts
    assert counts["warm"] >= 2 and counts.get("sticky") == 1, counts
    calls = upstream.calls
    assert len(calls) == 5
    check(calls[0], system)
    check(calls[1], system, earlier=("first words",))
    check(calls[2], system, earlier=("first words", "second words"))
    for call in calls[3:]:
        check(call, system, earlier=("first words", "second words"))
