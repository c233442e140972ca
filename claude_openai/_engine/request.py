"""PURE: `ClaudeRequest`, the one request model both OpenAI front ends translate into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tools import ToolConfig
from .turns import Block, Turn


@dataclass(frozen=True)
class ClaudeRequest:
    """A validated request, in Claude's terms, whichever OpenAI API it came from."""

    model: str | None  # the CLI --model value; None: the configured default
    system: str | None
    history: list[Turn]  # alternating turns before the prompt
    prompt: list[Block] | None  # the final user turn; None: continue after tool results
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    sampling: dict[str, float] = field(default_factory=dict)  # temperature / top_p
    effort: str | None = None
    include_usage: bool = False
    tools: ToolConfig = field(default_factory=ToolConfig)
    thinking_off: bool = False  # e.g. reasoning_effort "none" (see also _thinking.plan)
    thinking_budget: int | None = None  # manual-thinking models: budget_tokens (None: default)
    # conversation keys (see _thinking_store) of the visible turns so far: keys[i] is that of
    # the first i turns, the last one that of the whole conversation the answer continues
    keys: tuple[str, ...] = ("",)
    agent: Any = None  # an agent request's `_agent.job.AgentJob`; None: a plain model

    @property
    def conversation(self) -> str:
        return self.keys[-1]


def plain_request(system: str | None) -> ClaudeRequest:
    """A request with nothing but a system prompt: what a warm process is spawned with."""
    return ClaudeRequest(model=None, system=system, history=[], prompt=[])
