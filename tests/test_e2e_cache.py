"""End to end: the prompt cache, as the fake plays it (``simulate_cache``), over a conversation.

Per request: does a turn read back everything the turn before sent (its input, read and written
tokens)?  The whole picture, ten turns in four configurations, is ``benchmarks/cache.py``.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from fake_upstream import FakeUpstream, Reply

from claude_openai import Config, achat_completion, aclose_pools
from claude_openai._engine.runtime import pool_for

pytestmark = pytest.mark.e2e

LONG = ("A reply of a realistic size, a few hundred bytes: the old town is best explored on "
        "foot in the morning, and most museums open at ten. ") * 3


def converse(upstream: FakeUpstream, config: Config, turns: int,
             ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``turns`` plain user turns; the client's usage of each, and the pool's counts."""
    upstream.simulate_cache = True
    messages: list[Any] = [{"role": "system", "content": "Be brief."}]

    async def main() -> tuple[list[dict[str, Any]], dict[str, int]]:
        usages = []
        try:
            for n in range(turns):
                messages.append({"role": "user", "content": f"question {n}"})
                upstream.queue(Reply(text=LONG))
                completion = await achat_completion({"messages": messages}, config=config)
                messages.append(completion["choices"][0]["message"])
                usages.append(completion["usage"])
            counts = dict(pool_for(config).counts) if config.pool_cap else {}
            return usages, counts
        finally:
            await aclose_pools()

    return anyio.run(main)


def read_back(upstream: FakeUpstream, n: int) -> tuple[int, int]:
    """What request ``n`` read, and everything request ``n - 1`` sent."""
    return (upstream.usages[n]["cache_read_input_tokens"], sum(upstream.usages[n - 1].values()))


def test_the_client_sees_the_reads_the_fake_reports(upstream: FakeUpstream) -> None:
    usages, _ = converse(upstream, Config(timeout=60, max_retries=0, pool_size=0), 2)
    reads = [u["cache_read_input_tokens"] for u in upstream.usages]
    assert [u["prompt_tokens_details"]["cached_tokens"] for u in usages] == reads
    assert reads[0] == 0 and reads[1] > 0  # the second reads at least the tools and system


def test_a_sticky_turn_reads_everything_the_turn_before_sent(upstream: FakeUpstream) -> None:
    config = Config(timeout=60, max_retries=0, pool_size=2, pool_spares=0)
    _, counts = converse(upstream, config, 3)
    assert counts["sticky_started"] == 1 and counts["sticky"] == 1
    read, sent = read_back(upstream, 2)  # turn 3, on the process that answered turn 2
    assert read == sent


def test_a_resumed_turn_reads_everything_the_turn_before_sent(upstream: FakeUpstream) -> None:
    # Each turn on a new process that resumes the history (the pool off): the rebuilt history
    # must reach the model exactly as the live session sent it (issue 12 §2)
    converse(upstream, Config(timeout=60, max_retries=0, pool_size=0), 2)
    read, sent = read_back(upstream, 1)
    assert read == sent


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}}}}


def test_a_tool_round_trip_reads_everything_the_turn_before_sent(upstream: FakeUpstream) -> None:
    """A tool call, its result sent back, then a plain turn: each request reads back all the
    one before sent, the tool result's request included."""
    upstream.simulate_cache = True
    config = Config(timeout=60, max_retries=0, pool_size=0)
    messages: list[Any] = [{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "weather in Oslo?"}]

    async def main() -> None:
        upstream.queue(Reply(text="Checking.", tools=[{"name": "get_weather",
                                                      "input": {"city": "Oslo"}}]))
        call = await achat_completion({"messages": messages, "tools": [WEATHER]}, config=config)
        message = call["choices"][0]["message"]
        messages.append(message)
        messages.append({"role": "tool", "tool_call_id": message["tool_calls"][0]["id"],
                         "content": "4C and snowing"})
        upstream.queue(Reply(text=LONG))
        answer = await achat_completion({"messages": messages, "tools": [WEATHER]}, config=config)
        messages.append(answer["choices"][0]["message"])
        messages.append({"role": "user", "content": "and tomorrow?"})
        upstream.queue(Reply(text=LONG))
        await achat_completion({"messages": messages, "tools": [WEATHER]}, config=config)

    anyio.run(main)
    assert [read_back(upstream, n) for n in (1, 2)] == [
        (sum(upstream.usages[n - 1].values()),) * 2 for n in (1, 2)]
