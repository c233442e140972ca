"""What reaches the model for a one-word prompt: claude-openai's defaults against the SDK's.

Runs the real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no
credentials, no network) and prints, for each setup, the upstream calls it made and their bytes.

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


def measure(upstream: FakeUpstream) -> dict[str, Any]:
    calls = upstream.calls
    main = calls[0] if calls else {}
    return {
        "http_requests": len(upstream.requests),
        "model_calls": len(calls),
        "all_bytes": sum(len(json.dumps(r.body)) for r in upstream.requests if r.body),
        "main_call_bytes": len(json.dumps(main)),
        "system_chars": len(json.dumps(main.get("system", ""))),
        "tools": len(main.get("tools", [])),
        "messages_chars": len(json.dumps(main.get("messages", []))),
    }


async def sdk_defaults() -> None:
    from claude_agent_sdk import ClaudeAgentOptions, query

    async for _ in query(prompt=PROMPT, options=ClaudeAgentOptions()):
        pass


def ours() -> None:
    from claude_openai import Config, chat_completion

    chat_completion({"messages": [{"role": "user", "content": PROMPT}]},
                    config=Config(max_retries=0))


def main() -> None:
    upstream = FakeUpstream()
    upstream.start()
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    rows = []
    try:
        for name, run in (("claude-openai defaults", ours),
                          ("SDK defaults", lambda: anyio.run(sdk_defaults))):
            upstream.reset()
            run()
            rows.append((name, measure(upstream)))
    finally:
        upstream.stop()
    keys = list(rows[0][1])
    print(f"one-word prompt {PROMPT!r}")
    print(f"{'setup':<24}" + "".join(f"{k:>17}" for k in keys))
    for name, row in rows:
        print(f"{name:<24}" + "".join(f"{row[k]:>17}" for k in keys))
    ratio = rows[0][1]["all_bytes"] / rows[1][1]["all_bytes"]
    print(f"claude-openai sends {ratio:.3f}x the bytes of the SDK defaults")


if __name__ == "__main__":
    main()
