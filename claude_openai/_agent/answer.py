"""PURE: an agent's run read into the same events as a plain answer, for either front end.

The agent's narration and answer are text (``TextDelta``), the turns set apart by a blank line.
Its tool calls are Claude Code's own and never become the client's tool calls: each step is
shown as progress (`steps`), in reasoning (``ThinkingDelta`` on a block of its own) or in the
text, by mode.  A stop at a limit is not an error: the answer ends with a sentence saying so
and ``stop_reason`` ``max_tokens`` (``finish_reason`` "length").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    SystemMessage,
    ToolUseBlock,
    UserMessage,
)
from claude_agent_sdk.types import ToolResultBlock

from .._engine.answer import Answer, Event, Finished, TextDelta, ThinkingDelta
from .steps import Notes, Step, notes_text, shown_path, step_end, step_line, step_start

STEPS_BLOCK = -1  # the reasoning "block" the steps are written to
EDITS = ("Edit", "Write", "NotebookEdit")
LIMIT_SUBTYPES = {"error_max_turns": "turns", "error_max_budget_usd": "budget"}
DENIAL_MARKS = ("has been denied", "denied by your permission settings", "No such tool available",
                "refused:", "blocked by", "Permission denied by hook")


class TimeLimit:
    """Fed to `AgentAnswer` when the run reached its wall-clock limit and was interrupted."""


class AgentAnswer(Answer):
    def __init__(self, *, model: str, root: str, progress: str, reasoning: bool = True,
                 limits: dict[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(model=model, reasoning=reasoning)
        self.root = root
        self.progress = progress
        self.limits = limits or {"turns": 0, "budget": 0.0, "seconds": 0.0}
        self.clock = clock
        self.steps: dict[str, Step] = {}
        self.notes = Notes()
        self._requested_model = model
        self.session_id: str | None = None  # the run's session (a fork's own id), from its start
        self._gap = False  # a step came since the last text: the next text starts a paragraph
        self._open: str | None = None  # the step whose line in reasoning awaits its outcome

    # -- the SDK's messages ----------------------------------------------------------------------
    def feed(self, message: Any) -> list[Event]:
        if isinstance(message, TimeLimit):
            return self._finish("time")
        if isinstance(message, SystemMessage) and message.subtype == "init":
            self.session_id = str(message.data.get("session_id") or "") or None
        if isinstance(message, AssistantMessage):
            events = [e for b in message.content if isinstance(b, ToolUseBlock)
                      for e in self._called(b)]
            return events + super().feed(message)
        if isinstance(message, UserMessage) and isinstance(message.content, list):
            return [e for b in message.content if isinstance(b, ToolResultBlock)
                    for e in self._returned(b)]
        if isinstance(message, ResultMessage):
            self.result = message
            self.raise_for_error()
            return self._finish(LIMIT_SUBTYPES.get(message.subtype))
        return super().feed(message)

    def _on_event(self, event: dict[str, Any]) -> list[Event]:
        events = super()._on_event(event)
        self.model = self._requested_model  # the client named the agent, not the model
        return events

    def _start(self, index: int, block: dict[str, Any]) -> list[Event]:
        return []  # Claude Code's own tool calls: steps, never the client's calls

    def _stop(self, index: int) -> list[Event]:
        return []  # signed thinking stays in the session; nothing for the client to carry

    def _on_delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        events = super()._on_delta(index, delta)
        if events and isinstance(events[0], TextDelta):
            if self._gap and len(self.text) > 1:  # a later turn's first text
                self.text[-1] = "\n\n" + self.text[-1]
                events[0] = TextDelta(events[0].text, gap="\n\n")
            self._gap = False
        return events

    # -- steps -----------------------------------------------------------------------------------
    def _called(self, block: ToolUseBlock) -> list[Event]:
        step = Step(block.id, block.name, dict(block.input or {}), self.clock())
        self.steps[block.id] = step
        self._gap = True
        if self.progress == "reasoning":
            # a call while another awaits its result (parallel calls): that line ends first
            text = ("\n" if self._line_open() else "") + step_start(step, self.root)
            self._open = step.id
            return self._reason(text)
        return []

    def _returned(self, block: ToolResultBlock) -> list[Event]:
        step = self.steps.get(block.tool_use_id)
        if step is None:
            return []
        step.ended = self.clock()
        step.result = _text_of(block.content)
        step.ok = not block.is_error
        step.denied = bool(block.is_error) and any(m in step.result for m in DENIAL_MARKS)
        if step.denied:
            self.notes.denied.append(step)
        elif step.ok and step.tool in EDITS:
            self._changed(step)
        if self.progress == "reasoning":
            if self._line_open() and self._open == step.id:
                text = step_end(step)
            else:  # its line was ended by another step (or thinking): the whole line again
                text = (("\n" if self._line_open() else "") + step_start(step, self.root)
                        + step_end(step))
            self._open = None
            return self._reason(text)
        if self.progress in ("content", "openwebui"):
            return self._say(step_line(step, self.root, self.progress))
        return []

    def _changed(self, step: Step) -> None:
        path = step.input.get("file_path") or step.input.get("notebook_path")
        if isinstance(path, str) and (shown := shown_path(path, self.root)) not in self.notes.files:
            self.notes.files.append(shown)

    def _line_open(self) -> bool:
        """A step's start is the last thing in reasoning, its outcome still to come."""
        return self._open is not None and self._thinking_block == STEPS_BLOCK

    def _reason(self, text: str) -> list[Event]:
        if self._thinking_block != STEPS_BLOCK:
            self.reasoning.append("")
            self._thinking_block = STEPS_BLOCK
        self.reasoning[-1] += text
        return [ThinkingDelta(text, STEPS_BLOCK)]

    def _say(self, text: str) -> list[Event]:
        gap = "\n\n" if self.text and not self.text[-1].endswith("\n") else ""
        self.text.append(gap + text)
        self._gap = False
        return [TextDelta(text, gap)]

    # -- the end ---------------------------------------------------------------------------------
    def _finish(self, limit: str | None) -> list[Event]:
        self.notes.limit = limit
        if limit is not None:
            self.stop_reason = "max_tokens"  # "length": the client may ask to go on
        note = notes_text(self.notes, self.root, turns=int(self.limits["turns"]),
                          budget=self.limits["budget"], seconds=self.limits["seconds"])
        events: list[Event] = self._say(note) if note else []
        return [*events, Finished()]

    def raise_for_error(self) -> None:
        result = self.result
        if result is not None and result.subtype in LIMIT_SUBTYPES:
            return
        super().raise_for_error()

    @property
    def cost(self) -> float:
        result = self.result
        return float(result.total_cost_usd or 0.0) if result is not None else 0.0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    return ""
