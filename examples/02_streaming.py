"""Streaming: print tokens as they arrive, then the usage, from sync or async code.

Shows `stream_chat_completion` (a plain iterator) and, with ``--async``,
`astream_chat_completion` (an async iterator) run with ``asyncio.run``.  Both ask for
``stream_options={"include_usage": True}``, so the last chunk carries the usage.

Run it (Claude Code must be logged in: ``claude login``, or set ANTHROPIC_API_KEY)::

    python examples/02_streaming.py          # sync
    python examples/02_streaming.py --async  # async
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from claude_openai import Config, astream_chat_completion, stream_chat_completion

REQUEST: dict[str, Any] = {
    "model": "sonnet",
    "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def show(chunk: dict[str, Any]) -> None:
    """Print a chunk's text, or the usage carried by the final chunk."""
    if chunk["choices"]:
        print(chunk["choices"][0]["delta"].get("content") or "", end="", flush=True)
    if chunk.get("usage"):
        print("\nusage:", chunk["usage"])


def run_sync() -> None:
    for chunk in stream_chat_completion(REQUEST, config=Config.from_env()):
        show(chunk)


async def run_async() -> None:
    async for chunk in astream_chat_completion(REQUEST, config=Config.from_env()):
        show(chunk)


if __name__ == "__main__":
    if "--async" in sys.argv[1:]:
        asyncio.run(run_async())
    else:
        run_sync()
