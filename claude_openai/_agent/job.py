"""PURE: what an agent request carries beyond a plain one: who asks, where, and which session
its conversation continues (decided before the run, so the response can say so up front)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._engine.turns import Block
from .workspaces import AgentTarget

RESUMED, REBUILT, NEW = "resumed", "rebuilt", "new"
REBUILT_NOTE = (
    "Note from the server: this conversation's earlier turns were rebuilt from the chat as the "
    "client showed it; the tool calls and results of those turns are not available. Re-read "
    "files before relying on what earlier turns said about them.")


@dataclass(frozen=True)
class AgentJob:
    target: AgentTarget
    principal: str  # the API key's id ("library": called in-process)
    scope: tuple[str, ...]  # the ledger scope (see ledger.scope_of)
    turns: list[tuple[str, list[Block]]] = field(default_factory=list)  # history + prompt
    session: str | None = None  # the session to continue (a ledger hit)
    held: list[Any] = field(default_factory=list)  # the workspace's `gate.Turn`, if taken early

    @property
    def path(self) -> str:
        """How the conversation goes on: resumed (a ledger hit), rebuilt, or new."""
        if self.session is not None:
            return RESUMED
        return REBUILT if len(self.turns) > 1 else NEW
