"""One request's run, whichever front end formats it: earlier thinking restored, the CLI
driven (warm process or spawned), each SDK message handed to the front end's builder, and the
finished answer remembered for the turns after it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Protocol

from .._agent.run import run_agent
from .._config import Config
from .answer import Answer
from .request import ClaudeRequest
from .runtime import pool_for
from .session import run_cold
from .thinking import plan, remember


class Builder(Protocol):
    """A front end's formatter: an `Answer`, and the wire chunks each SDK message gives."""

    id: str
    answer: Answer

    def feed(self, message: Any) -> list[dict[str, Any]]: ...

    def final(self, *, cut_short: bool = False) -> dict[str, Any]:
        """The whole answer in the wire format; ``cut_short``: a stream that never ended."""
        ...


def run_claude(request: ClaudeRequest, config: Config) -> AsyncGenerator[Any, None]:
    """A warm process when the pool is on (the default), else a process of its own."""
    return pool_for(config).run(request) if config.pool_cap > 0 else run_cold(request, config)


async def answer(request: ClaudeRequest, config: Config,
                 builder: Builder) -> AsyncGenerator[dict[str, Any], None]:
    """Run ``request`` with its earlier thinking restored; feed ``builder``; yield its chunks.
    A finished answer is remembered with its thinking blocks, for the turns after it."""
    if request.agent is not None:  # Claude Code's own tools, in a workspace (see _agent)
        async with aclosing(run_agent(request, config, builder)) as chunks:
            async for chunk in chunks:
                yield chunk
        return
    request = plan(request, config)
    async with aclosing(run_claude(request, config)) as messages:
        async for message in messages:
            for chunk in builder.feed(message):
                yield chunk
    if builder.answer.result is None:
        raise builder.answer.incomplete_error()
    remember(request, config, builder.answer.recorder.blocks, builder.answer.model)
