"""Sticky conversations: which later turns may go to the warm process holding their history."""

from __future__ import annotations

import hashlib
import json

from claude_agent_sdk import Message, ResultMessage

from .._config import Config
from .options import request_env
from .request import ClaudeRequest


def sticky_eligible(request: ClaudeRequest) -> bool:
    """A later turn of a plain conversation.  Sticky processes keep their session, so the
    per-session one-call budget guard cannot apply: a request that sets ``max_tokens`` (where
    one call is promised) runs on a guarded process of its own instead."""
    return (bool(request.history) and request.prompt is not None
            and request.tools.schema is None and request.max_tokens is None)


def fingerprint(request: ClaudeRequest, config: Config, conversation: str) -> str:
    """What a sticky process holds: the conversation so far as the client sees it (its key, see
    ``_thinking_store``: thinking blocks restored or not), and every setting it was started with.

    A live session with turns cannot be re-configured without Claude Code noting it in the
    conversation ("Set model to …"), so a later turn only sticks when nothing changed."""
    tools = [(t.name, t.description, t.parameters) for t in request.tools.tools]
    held = [request.system, tools, request.model or config.model, request_env(request),
            request.effort, conversation]
    return hashlib.sha256(json.dumps(held, sort_keys=True, default=str).encode()).hexdigest()


class Answer:
    """Watches a sticky turn: is the conversation, with this answer, worth keeping warm?"""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.stop: str | None = None
        self.tool_use = self.failed = self.finished = False

    def observe(self, message: Message) -> None:
        if isinstance(message, ResultMessage):
            self.finished, self.failed = True, message.is_error
            return
        event = getattr(message, "event", None) or {}
        if event.get("type") == "content_block_start":
            self.tool_use |= (event.get("content_block") or {}).get("type") == "tool_use"
        elif event.get("type") == "content_block_delta":
            self.parts.append((event.get("delta") or {}).get("text") or "")
        elif event.get("type") == "message_delta":
            self.stop = (event.get("delta") or {}).get("stop_reason")

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def reusable(self) -> bool:
        return (self.finished and not self.failed and not self.tool_use and bool(self.text)
                and self.stop in ("end_turn", "stop_sequence"))
