"""What reaches the model for a one-word prompt: every part of the upstream body, and its bytes.

Runs the real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no
credentials, no network) and prints, for each setup, the upstream calls made and the parts of
the model call: the ``system`` blocks, each message, the tools and the other fields, with their
sizes in bytes of compact JSON.  The SDK's own defaults run in the same process as a baseline.

    python benchmarks/request_bytes.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream  # noqa: E402

PROMPT = "hello"
SYSTEM = "Answer in French."


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def describe(text: str) -> str:
    """A part's first line, shortened, with Claude Code's own markers named."""
    first = text.strip().splitlines()[0] if text.strip() else "(empty)"
    return first if len(first) <= 70 else first[:67] + "..."


def parts(body: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(where, bytes, what) for each part of a model call."""
    rows: list[tuple[str, int, str]] = []
    for i, block in enumerate(body.get("system") or []):
        rows.append((f"system[{i}]", size(block), describe(block.get("text", ""))))
    for i, message in enumerate(body.get("messages") or []):
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not blocks:
            rows.append((f"messages[{i}] {message['role']}", size(message), "EMPTY"))
        for j, block in enumerate(blocks):
            what = block.get("text") if block.get("type") == "text" else block.get("type")
            rows.append((f"messages[{i}] {message['role']} [{j}]", size(block),
                         describe(str(what))))
    for key in sorted(k for k in body if k not in ("system", "messages")):
        rows.append((key, size(body[key]), describe(json.dumps(body[key]))))
    return rows


def ours(messages: list[dict[str, Any]], *, reused: bool = False) -> None:
    from claude_openai import Config, achat_completion, aclose_pools

    async def main() -> None:
        config = Config(max_retries=0, pool_size=1 if reused else 0)
        try:
            if reused:  # one request first: the measured one runs on the same process after it
                await achat_completion({"messages": [{"role": "user", "content": "x"}]},
                                       config=config)
            await achat_completion({"messages": messages}, config=config)
        finally:
            await aclose_pools()

    anyio.run(main)


async def sdk_defaults() -> None:
    from claude_agent_sdk import ClaudeAgentOptions, query

    async for _ in query(prompt=PROMPT, options=ClaudeAgentOptions()):
        pass


SETUPS = {
    "no system message": lambda: ours([{"role": "user", "content": PROMPT}]),
    "with a system message": lambda: ours([{"role": "system", "content": SYSTEM},
                                           {"role": "user", "content": PROMPT}]),
    "on a reused warm process": lambda: ours([{"role": "user", "content": PROMPT}], reused=True),
    "a resumed history (2 turns)": lambda: ours([
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "ECHO: hi"},
        {"role": "user", "content": PROMPT}]),
    "SDK defaults (baseline)": lambda: anyio.run(sdk_defaults),
}


def main() -> None:
    upstream = FakeUpstream()
    upstream.start()
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    totals: dict[str, tuple[int, int, int]] = {}
    try:
        for name, run in SETUPS.items():
            upstream.reset()
            run()
            calls = upstream.calls
            main_call = calls[-1] if calls else {}
            totals[name] = (len(calls), size(main_call), sum(size(c) for c in calls))
            print(f"\n## {name}: {len(calls)} model call(s), the last {size(main_call)} bytes")
            if name.startswith("SDK"):
                continue
            for where, n, what in parts(main_call):
                print(f"  {where:<28}{n:>7}  {what}")
            upstream.check_refusals()
    finally:
        upstream.stop()
    baseline = totals["SDK defaults (baseline)"][2]
    print(f"\n{'setup':<30}{'calls':>6}{'last call':>11}{'all calls':>11}{'× SDK':>8}")
    for name, (count, last, whole) in totals.items():
        print(f"{name:<30}{count:>6}{last:>11}{whole:>11}{whole / baseline:>8.3f}")


if __name__ == "__main__":
    main()
