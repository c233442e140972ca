"""PURE: a conversation in Claude's terms: alternating user and assistant turns of blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]  # an Anthropic content block


@dataclass(frozen=True)
class Echo:
    """One assistant message as the client echoed it: what it shows, and any signed thinking
    blocks it carried back (LiteLLM's ``thinking_blocks``, OpenRouter's ``reasoning_details``)."""

    blocks: list[Block]
    signed: list[Block] = field(default_factory=list)
    model: str | None = None  # the model id that signed them, when the client's carrier says


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    blocks: list[Block]
    echoes: tuple[Echo, ...] = ()  # assistant turns: the message(s) it was made of
    model: str | None = None  # assistant turns restored with thinking: the model that answered


def append_turn(turns: list[Turn], turn: Turn) -> None:
    """Add a turn, merging it into the previous one when the role repeats; drop empty ones."""
    if not turn.blocks:
        return
    if turns and turns[-1].role == turn.role:
        turns[-1] = Turn(turn.role, turns[-1].blocks + turn.blocks,
                         turns[-1].echoes + turn.echoes)
    else:
        turns.append(turn)


def uses_tools(turns: list[Turn]) -> bool:
    return any(b.get("type") == "tool_use" for t in turns for b in t.blocks)


def split_prompt(turns: list[Turn]) -> tuple[list[Turn], list[Block] | None]:
    """The history and the prompt: the last turn, or None when it hands back tool results
    (Claude then continues after them, with no new prompt)."""
    if any(b.get("type") == "tool_result" for b in turns[-1].blocks):
        return turns, None
    return turns[:-1], turns[-1].blocks
