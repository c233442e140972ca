"""End to end: the warm pool with the real CLI.  Correctness, not speed (see benchmarks/)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import aclosing
from typing import Any

import anyio
import httpx
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import children_of, claude_children
from starlette.testclient import TestClient

from claude_openai import (
    Config,
    achat_completion,
    aclose_pools,
    astream_chat_completion,
    chat_completion,
    close_pools,
    create_app,
)
from claude_openai._engine.runtime import pool_for

pytestmark = pytest.mark.e2e


def pooled(**fields: Any) -> Config:
    return Config(**{"timeout": 60, "max_retries": 0, "pool_size": 1, "pool_spares": 1, **fields})


async def ready(config: Config, idle: int = 1) -> None:
    """Wait until the pool has ``idle`` warm processes (spares start in the background)."""
    pool = pool_for(config)
    await pool.start()
    with anyio.fail_after(30):
        while len(pool.idle) < idle:
            await anyio.sleep(0.02)


def tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


CONVERSATIONS = {
    "A": {"messages": [{"role": "system", "content": "You are A."},
                       {"role": "user", "content": "alpha apples"}],
          "tools": [tool("a_tool")], "stop": ["ZZA"], "model": "claude-sonnet-5-5"},
    "B": {"messages": [{"role": "system", "content": "You are A."},
                       {"role": "user", "content": "beta bananas"}],
          "tools": [tool("a_tool")], "temperature": 0.5, "reasoning_effort": "high"},
}


def assert_own(call: dict[str, Any], name: str) -> None:
    """What reached the model for conversation ``name`` holds nothing of the other."""
    other = "B" if name == "A" else "A"
    sent = json.dumps(call)
    own_text = CONVERSATIONS[name]["messages"][-1]["content"]
    other_text = CONVERSATIONS[other]["messages"][-1]["content"]
    assert own_text in sent and other_text not in sent
    assert [t["name"] for t in call["tools"]] == [
        t["function"]["name"] for t in CONVERSATIONS[name].get("tools", [])]
    assert call["model"] == CONVERSATIONS[name].get("model", "claude-opus-5-5")
    assert call.get("stop_sequences") == CONVERSATIONS[name].get("stop")
    assert call.get("temperature") == CONVERSATIONS[name].get("temperature")
    assert ("thinking" in call) is ("temperature" not in CONVERSATIONS[name])
    assert call["output_config"]["effort"] == ("high" if name == "B" else "medium")
    user_turns = [m for m in call["messages"] if m["role"] == "user"]
    assert len(user_turns) == 1, "an earlier request's turn is still in the conversation"


@pytest.mark.parametrize("max_requests", [1, 10], ids=["fresh-process", "reused-after-rewind"])
def test_two_conversations_interleaved_over_one_process(upstream: FakeUpstream,
                                                       max_requests: int) -> None:
    config = pooled(pool_max_requests=max_requests)
    order = ["A", "B", "A", "B"]

    async def main() -> dict[str, int]:
        try:
            for name in order:
                await ready(config)
                completion = await achat_completion(CONVERSATIONS[name], config=config)
                assert completion["choices"][0]["message"]["content"].endswith(
                    CONVERSATIONS[name]["messages"][-1]["content"])
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    # The first request of a new system prompt starts its own process; the rest are warm.
    assert counts["warm"] == 3 and counts["spawned_for_request"] == 1
    assert counts.get("cold", 0) == 0
    assert len(upstream.calls) == 4
    for name, call in zip(order, upstream.calls, strict=True):
        assert_own(call, name)
    system_texts = [[b["text"] for b in c["system"]] for c in upstream.calls]
    assert all("You are A." in texts for texts in system_texts)


def test_tools_and_max_tokens_choose_their_own_processes(upstream: FakeUpstream) -> None:
    # A session keeps announcing a tool once listed (until a /clear, which would leave its
    # record), so a process serves one tool set; a max_tokens request needs the one-call
    # guard, whose budget counts until a /clear: its process serves it alone.
    config = pooled(pool_size=4, pool_max_requests=10)
    plain = {"messages": [{"role": "user", "content": "no tools"}]}
    with_tool = {**plain, "tools": [tool("a_tool")]}
    capped = {**plain, "max_tokens": 50}

    async def main() -> dict[str, int]:
        try:
            for request in (with_tool, plain, with_tool, plain, capped, capped):
                await ready(config)
                await achat_completion(request, config=config)
            await anyio.sleep(0.3)  # past the upkeep delay
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    assert [[t["name"] for t in c["tools"]] for c in upstream.calls] == [
        ["a_tool"], [], ["a_tool"], [], [], []]
    assert [c["max_tokens"] for c in upstream.calls[4:]] == [50, 50]
    assert counts["retired"] == 2, counts  # each guarded process served one request
    assert all(len([m for m in c["messages"] if m["role"] == "user"]) == 1
               for c in upstream.calls), "an earlier request is still in the conversation"
    assert "local-command" not in json.dumps(upstream.calls)


def test_different_system_prompts_get_different_processes(upstream: FakeUpstream) -> None:
    config = pooled(pool_max_requests=10)

    async def main() -> None:
        try:
            for system in ("First system.", "Second system.", "First system."):
                await achat_completion({"messages": [{"role": "system", "content": system},
                                                     {"role": "user", "content": "hi"}]},
                                       config=config)
        finally:
            await aclose_pools()

    anyio.run(main)
    systems = [[b["text"] for b in c["system"]][-1] for c in upstream.calls]
    assert systems == ["First system.", "Second system.", "First system."]


def test_max_tokens_on_a_warm_process_is_one_call(upstream: FakeUpstream) -> None:
    config = pooled()

    async def main() -> dict[str, Any]:
        try:
            await ready(config)
            return await achat_completion(
                {"messages": [{"role": "user", "content": "one two three four five"}],
                 "max_tokens": 2}, config=config)
        finally:
            await aclose_pools()

    completion = anyio.run(main)
    assert completion["choices"][0]["finish_reason"] == "length"
    assert [c["max_tokens"] for c in upstream.calls] == [2]


@pytest.mark.parametrize("max_requests", [1, 10], ids=["fresh-process", "reused-after-rewind"])
def test_disconnect_mid_stream_leaves_no_poisoned_process(upstream: FakeUpstream,
                                                          max_requests: int) -> None:
    config = pooled(pool_max_requests=max_requests)
    upstream.queue(Reply(text=" ".join(["w"] * 100), delay=0.05))

    async def main() -> dict[str, Any]:
        try:
            await ready(config)
            stream = astream_chat_completion(
                {"messages": [{"role": "user", "content": "long one"}]}, config=config)
            async with aclosing(stream) as chunks:
                async for _ in chunks:
                    break
            await ready(config)
            return await achat_completion(
                {"messages": [{"role": "user", "content": "next one"}]}, config=config)
        finally:
            await aclose_pools()

    completion = anyio.run(main)
    assert completion["choices"][0]["message"]["content"].endswith("next one")
    assert upstream.sent_deltas[0] < 100, "the first upstream call was not ended"
    last = json.dumps(upstream.calls[-1]["messages"])
    assert "long one" not in last and "interrupted" not in last.lower()


def test_a_killed_process_is_replaced(upstream: FakeUpstream) -> None:
    config = pooled(pool_max_requests=10)

    async def main() -> dict[str, Any]:
        try:
            await ready(config)
            pool = pool_for(config)
            os.kill(pool.idle[0].client._transport._process.pid, signal.SIGKILL)  # type: ignore[union-attr]
            await anyio.sleep(0.2)
            completion = await achat_completion(
                {"messages": [{"role": "user", "content": "after the crash"}]}, config=config)
            assert pool.counts["replaced"] >= 1
            return completion
        finally:
            await aclose_pools()

    assert anyio.run(main)["choices"][0]["message"]["content"] == "ECHO: after the crash"


def test_the_sync_functions_reuse_warm_processes(upstream: FakeUpstream) -> None:
    config = pooled(pool_size=2, pool_spares=2)
    try:
        chat_completion({"messages": [{"role": "user", "content": "first"}]}, config=config)
        time.sleep(1.0)  # let the spares start
        before = len(upstream.calls)
        answer = chat_completion({"messages": [{"role": "user", "content": "second"}]},
                                 config=config)
        assert answer["choices"][0]["message"]["content"] == "ECHO: second"
        assert len(upstream.calls) == before + 1
        assert claude_children(), "warm processes should be waiting"
    finally:
        close_pools()
    assert claude_children() == []


def test_requests_in_a_row_reuse_one_process(upstream: FakeUpstream) -> None:
    # Default reuse: each request waits the few ms for the last one's rewind, and no extra
    # process is started beside it (they would only compete for the CPU).
    config = pooled(pool_size=4, pool_max_requests=100)

    async def main() -> dict[str, int]:
        try:
            await ready(config)
            for i in range(5):
                done = await achat_completion(
                    {"messages": [{"role": "user", "content": f"turn {i}"}]}, config=config)
                assert done["choices"][0]["message"]["content"] == f"ECHO: turn {i}"
            await anyio.sleep(0.3)  # past the upkeep delay: any extra start has begun
            pool = pool_for(config)
            assert pool.size == 1, pool.state()
            return dict(pool.counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    assert counts["warm"] == 5 and counts["started"] == 1, counts
    assert not counts.get("spawned_for_request") and not counts.get("cold"), counts
    users = [[m for m in call["messages"] if m["role"] == "user"] for call in upstream.calls]
    assert [len(turns) for turns in users] == [1] * 5


def test_health_shows_the_pool(upstream: FakeUpstream) -> None:
    with TestClient(create_app(pooled())) as client:
        client.post("/v1/chat/completions", json={"messages": [
            {"role": "user", "content": "hi"}]})
        [pool] = client.get("/health").json()["pools"]
    assert pool["size"] == 1 and pool["counts"]["started"] >= 1


def test_serve_warms_up_and_leaves_no_process_after_sigterm(upstream: FakeUpstream) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "claude_openai", "serve", "--port", str(port), "--pool-size", "2",
         "--pool-spares", "2", "--max-retries", "0"], env=os.environ.copy(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not children_of(server.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        for _ in range(100):
            try:
                response = httpx.post(url, json={"messages": [{"role": "user", "content": "hi"}]},
                                      timeout=30)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response.json()["choices"][0]["message"]["content"] == "ECHO: hi"
        warm = children_of(server.pid)
        assert warm, "serve should keep warm processes"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not [pid for pid in warm if os.path.exists(f"/proc/{pid}")], "orphaned CLI processes"


def turns(call: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for m in call["messages"]:
        if m["role"] == "system":
            continue
        blocks = m["content"] if isinstance(m["content"], list) else [
            {"type": "text", "text": m["content"]}]
        out.append((m["role"], " ".join(b["text"] for b in blocks if b.get("type") == "text")))
    return out


def test_a_conversation_sticks_to_its_warm_process(upstream: FakeUpstream) -> None:
    config = pooled(pool_size=2, pool_spares=0)
    messages: list[Any] = [{"role": "system", "content": "Chat."},
                           {"role": "user", "content": "my name is Ada"}]

    async def main() -> dict[str, int]:
        try:
            for follow_up in ("what is my name?", "say it again", None):
                completion = await achat_completion({"messages": messages}, config=config)
                if follow_up is None:
                    break
                messages.append(completion["choices"][0]["message"])
                messages.append({"role": "user", "content": follow_up})
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    # Turn 2 resumes the history on a process that stays warm; turn 3 goes straight to it.
    assert counts["sticky_started"] == 1 and counts["sticky"] == 1
    assert turns(upstream.calls[2]) == [
        ("user", "my name is Ada"), ("assistant", "ECHO: my name is Ada"),
        ("user", "what is my name?"), ("assistant", "ECHO: what is my name?"),
        ("user", "say it again")]
    assert "local-command" not in json.dumps(upstream.calls), "a Claude Code note leaked in"


def test_a_changed_history_does_not_stick(upstream: FakeUpstream) -> None:
    config = pooled(pool_size=2, pool_spares=0)
    base = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "ECHO: a"}]

    async def main() -> dict[str, int]:
        try:
            await achat_completion({"messages": [*base, {"role": "user", "content": "b"}]},
                                   config=config)
            edited = [{"role": "user", "content": "a"},
                      {"role": "assistant", "content": "an edited answer"},
                      {"role": "user", "content": "b"},
                      {"role": "assistant", "content": "ECHO: b"},
                      {"role": "user", "content": "c"}]
            await achat_completion({"messages": edited}, config=config)
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    assert counts["sticky_started"] == 2 and counts.get("sticky", 0) == 0
    assert ("assistant", "an edited answer") in turns(upstream.calls[1])


def test_max_tokens_in_a_later_turn_keeps_one_call(upstream: FakeUpstream) -> None:
    config = pooled(pool_size=2, pool_spares=0)
    request = {"messages": [{"role": "user", "content": "a"},
                            {"role": "assistant", "content": "ECHO: a"},
                            {"role": "user", "content": "one two three four"}], "max_tokens": 2}

    async def main() -> tuple[dict[str, Any], dict[str, int]]:
        try:
            completion = await achat_completion(request, config=config)
            return completion, dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    completion, counts = anyio.run(main)
    assert completion["choices"][0]["finish_reason"] == "length"
    assert len(upstream.calls) == 1 and counts.get("sticky_started", 0) == 0


def test_a_later_turn_with_other_settings_does_not_stick(upstream: FakeUpstream) -> None:
    config = pooled(pool_size=3, pool_spares=0)
    messages: list[Any] = [{"role": "user", "content": "a"},
                           {"role": "assistant", "content": "ECHO: a"},
                           {"role": "user", "content": "b"}]

    async def main() -> dict[str, int]:
        try:
            await achat_completion({"model": "sonnet", "messages": messages}, config=config)
            messages.extend([{"role": "assistant", "content": "ECHO: b"},
                             {"role": "user", "content": "c"}])
            await achat_completion({"model": "haiku", "messages": messages}, config=config)
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    assert counts["sticky_started"] == 2 and counts.get("sticky", 0) == 0
    assert [c["model"] for c in upstream.calls] == ["claude-sonnet-5-5", "claude-haiku-5-5"]
    assert "local-command" not in json.dumps(upstream.calls), "a Claude Code note leaked in"


def test_a_later_turn_without_a_cli_is_a_clean_503(upstream: FakeUpstream) -> None:
    from claude_openai import ServiceUnavailableError

    config = pooled(pool_size=2, cli_path="/nonexistent/claude")
    with pytest.raises(ServiceUnavailableError) as info:
        chat_completion({"messages": [{"role": "user", "content": "a"},
                                      {"role": "assistant", "content": "b"},
                                      {"role": "user", "content": "c"}]}, config=config)
    close_pools()
    assert info.value.code == "cli_not_found"


def test_each_request_reports_its_own_cost(upstream: FakeUpstream) -> None:
    # A reused or sticky process's CLI adds its session's cost up (a rewind does not reset
    # it): the pool hands each request only its own share.
    from claude_agent_sdk import ResultMessage

    from claude_openai._chat.request import parse_request

    config = pooled(pool_size=2, pool_max_requests=10)
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "ECHO: a"}]

    async def cost(messages: list[dict[str, Any]]) -> float:
        request = parse_request({"messages": messages}, config)
        results = [m async for m in pool_for(config).run(request)
                   if isinstance(m, ResultMessage)]
        return float(results[-1].total_cost_usd or 0)

    async def main() -> list[float]:
        try:
            await ready(config)
            costs = [await cost([{"role": "user", "content": "same"}]) for _ in range(3)]
            costs += [await cost([*history, {"role": "user", "content": "b"}])]
            costs += [await cost([*history, {"role": "user", "content": "b"}, {
                "role": "assistant", "content": "ECHO: b"}, {"role": "user", "content": "c"}])]
            assert pool_for(config).counts["sticky"] == 1
            return costs
        finally:
            await aclose_pools()

    costs = anyio.run(main)
    assert costs[0] > 0 and costs[1:3] == pytest.approx([costs[0]] * 2), costs
    assert 0 < costs[4] < 2 * costs[3], costs  # the sticky turn's own, not the session's


def test_a_retry_after_a_crash_keeps_the_request_clocks(upstream: FakeUpstream,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The warm process dies while the request is applied to it (after 2 s); the retry on a
    # fresh process must not get a fresh `timeout`: 2 s, a start, then a 1.5 s answer > 3 s.
    from claude_openai import GatewayTimeoutError
    from claude_openai._engine.warm import WarmProcess

    prepare = WarmProcess.prepare

    async def dying(self: WarmProcess, request: Any, config: Config) -> None:
        await prepare(self, request, config)
        await anyio.sleep(2.0)
        self.client._transport._process.kill()  # type: ignore[union-attr]
        await anyio.sleep(0.2)

    monkeypatch.setattr(WarmProcess, "prepare", dying)

    async def main(config: Config, text: str) -> dict[str, Any]:
        try:
            await ready(config)
            return await achat_completion(
                {"messages": [{"role": "user", "content": text}]}, config=config)
        finally:
            counts = dict(pool_for(config).counts)
            await aclose_pools()
            assert counts.get("retried") == 1, counts

    roomy = pooled(timeout=30)
    assert anyio.run(main, roomy, "retried")["choices"][0]["message"]["content"] == (
        "ECHO: retried")
    upstream.queue(Reply(first_delay=1.5))
    with pytest.raises(GatewayTimeoutError):
        anyio.run(main, pooled(timeout=3, first_token_timeout=0), "too late")


def test_processes_started_for_a_burst_stay_warm_for_the_next(upstream: FakeUpstream) -> None:
    # The pool is elastic up to max_concurrent (pool_size unset): a process started because
    # every warm one was busy joins the pool, so the next burst finds them all warm (the
    # fixed pool of four before ran two of six on processes thrown away, every burst).
    config = Config(timeout=60, max_retries=0, max_concurrent=6, pool_spares=1)
    assert config.pool_cap == 6

    async def burst(tag: str) -> None:
        upstream.queue(*[Reply(text="slow answer here", delay=0.1) for _ in range(6)])
        async def one(i: int) -> None:
            await achat_completion({"messages": [{"role": "user", "content": f"{tag} {i}"}]},
                                   config=config)

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)

    async def main() -> tuple[dict[str, int], dict[str, int]]:
        try:
            await ready(config)
            pool = pool_for(config)
            await burst("first")
            with anyio.fail_after(30):  # all six back, reset and idle
                while len(pool.idle) < 6 or pool.starting:
                    await anyio.sleep(0.02)
            first = dict(pool.counts)
            await burst("second")
            return first, dict(pool.counts)
        finally:
            await aclose_pools()

    first, second = anyio.run(main)
    assert first.get("cold", 0) == 0 and first["spawned_for_request"] == 5, first
    assert second["warm"] - first["warm"] == 6, second  # the whole second burst ran warm
    assert second.get("cold", 0) == 0 and second["spawned_for_request"] == 5, second
