"""How fast closing a stream ends the Claude run: claude-openai against a bare SDK `query()`.

Both run the real bundled CLI against the tests' fake Anthropic API on 127.0.0.1, streaming 200
deltas 50 ms apart; each consumer stops after the first text and closes its iterator.
Measured: the time from that stop until the CLI process is gone, and how many deltas the upstream
still sent after it.  Medians over N runs; the ratio is taken inside this one run.  The
baseline's CLI outlives its event loop, so asyncio prints "Event loop is closed" noise on stderr.

    python benchmarks/cancel.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream, Reply  # noqa: E402
from servers import claude_children, wait_for_no_claude  # noqa: E402

REPLY = Reply(text=" ".join(["w"] * 200), delay=0.05)


async def ours() -> float:
    from claude_openai import Config, astream_chat_completion

    stream = astream_chat_completion({"messages": [{"role": "user", "content": "go"}]},
                                     config=Config(max_retries=0))
    async with aclosing(stream) as chunks:
        async for _ in chunks:
            return time.monotonic()  # the consumer stops here; aclosing closes the stream
    raise AssertionError("no chunk")


async def bare_query() -> float:
    from claude_agent_sdk import ClaudeAgentOptions, StreamEvent, query

    options = ClaudeAgentOptions(tools=[], setting_sources=[], include_partial_messages=True)
    async with aclosing(query(prompt="go", options=options)) as messages:
        async for message in messages:
            if isinstance(message, StreamEvent) and message.event.get("type") == (
                    "content_block_delta"):
                return time.monotonic()
    raise AssertionError("no delta")


def one(upstream: FakeUpstream, run: Any) -> tuple[float, int]:
    upstream.reset()
    upstream.queue(REPLY)
    closed = anyio.run(run)
    sent_at_close = upstream.sent_deltas[0]
    wait_for_no_claude(timeout=30)
    gone = time.monotonic() - closed
    time.sleep(0.3)
    return gone * 1000, upstream.sent_deltas[0] - sent_at_close


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    upstream = FakeUpstream()
    upstream.start()
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    results: dict[str, list[tuple[float, int]]] = {"claude-openai": [], "bare query()": []}
    try:
        for _ in range(runs):
            results["claude-openai"].append(one(upstream, ours))
            results["bare query()"].append(one(upstream, bare_query))
    finally:
        upstream.stop()
    assert claude_children() == []
    print(f"{'consumer':<16}{'CLI gone after stop (ms)':>28}{'deltas sent after stop':>26}")
    medians = {}
    for name, rows in results.items():
        medians[name] = statistics.median(r[0] for r in rows)
        after = statistics.median(r[1] for r in rows)
        print(f"{name:<16}{medians[name]:>28.1f}{after:>26.0f}")
    ratio = medians["claude-openai"] / medians["bare query()"]
    print(f"claude-openai ends the run in {ratio:.5f}x the bare query()'s time (median of {runs})")


if __name__ == "__main__":
    main()
