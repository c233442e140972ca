"""PURE: an agent's tool steps and closing notes as text, in each progress mode, and the
markup they leave in ``content`` recognised again when a client sends its history back.

Modes: ``reasoning`` (steps go to reasoning_content, never into the answer), ``content``
(quoted lines in the answer), ``openwebui`` (Open WebUI's own ``<details type="tool_calls">``
cards) and ``off``.  Notes (a limit reached, denials, files changed) are always quoted lines in
the answer.  Everything we add to ``content`` starts with a mark `strip_markup` removes.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

STEP, DENIED, STOP, FILES = "▸", "✗", "⏹", "✎"
_OURS = re.compile(rf"^> [{STEP}{DENIED}{STOP}{FILES}] .*$\n?", re.MULTILINE)
_CARD = re.compile(r"<details type=\"tool_calls\"[^>]*>.*?</details>\n?", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>|<details type=\"reasoning\"[^>]*>.*?</details>",
                    re.DOTALL)
KEY_ARGS = ("file_path", "notebook_path", "command", "pattern", "path", "url", "query",
            "description")
PATH_ARGS = ("file_path", "notebook_path", "path")
SHORT = 80


def shown_path(path: str, root: str) -> str:
    """A path as the client is shown it: relative to the workspace when inside it."""
    if not os.path.isabs(path):
        return path
    relative = os.path.relpath(path, root)
    return path if relative.startswith("..") else relative


@dataclass
class Step:
    """One tool call the agent made, from its call to its result."""

    id: str
    tool: str
    input: dict[str, Any]
    started: float
    ended: float | None = None
    ok: bool = True
    denied: bool = False
    result: str = ""

    def subject(self, root: str) -> str:
        """The call's main argument: a path (as `shown_path`), a command, a pattern, ..."""
        for key in KEY_ARGS:
            value = self.input.get(key)
            if isinstance(value, str) and value:
                return _short(shown_path(value, root) if key in PATH_ARGS else value)
        return ""

    def label(self, root: str) -> str:
        """The tool and its main argument: ``Read src/app.py``."""
        return f"{self.tool} {self.subject(root)}".strip()

    def outcome(self) -> str:
        if self.denied:
            return "denied: " + _short(_reason(self.result), 160)
        took = f"{(self.ended or self.started) - self.started:.1f} s"
        if not self.ok:
            return f"failed: {_short(_reason(self.result), 120)} ({took})"
        return f"ok ({took})"


@dataclass
class Notes:
    """What the end of an agent's answer says, beyond its own text."""

    limit: str | None = None  # "turns" | "budget" | "time"
    denied: list[Step] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _short(text: str, at: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= at else text[: at - 1] + "…"


_HOOK = re.compile(r"^PreToolUse:\S+ hook error: (?:\S+ (?:of|pattern) .*? refused: )?")


def _reason(result: str) -> str:
    """Why a step failed or was denied, without the CLI's wrapping (tags, "Error: ", the
    hook's prefix, the tool and path our own hook's sentence repeats)."""
    text = re.sub(r"</?tool_use_error>", "", result).strip()
    text = text.split(" IMPORTANT:")[0].removeprefix("Error: ")
    return _HOOK.sub("", text)


def step_start(step: Step, root: str) -> str:
    """The start of a step's line in reasoning mode (its outcome follows when it ends)."""
    return f"{STEP} {step.label(root)}"


def step_end(step: Step) -> str:
    return f" → {step.outcome()}\n"


def step_line(step: Step, root: str, mode: str) -> str:
    """A finished step, as the answer's content shows it (content and openwebui modes)."""
    if mode == "openwebui":
        arguments = html.escape(json.dumps(step.input, ensure_ascii=False), quote=True)
        shown = step.outcome() if step.denied or not step.ok else (
            step.outcome() + ": " + _short(step.result, 400))
        result = html.escape(_short(shown, 500), quote=True)
        return (f'<details type="tool_calls" done="true" id="{html.escape(step.id)}" '
                f'name="{html.escape(step.tool)}" arguments="{arguments}" '
                f'result="{result}">\n<summary>Tool Executed</summary>\n</details>\n')
    mark = DENIED if step.denied else STEP
    return f"> {mark} {step.label(root)} → {step.outcome()}\n\n"


LIMITS = {
    "turns": "Stopped after {turns} model turns, the limit for one request; say \"continue\" "
             "to go on from here.",
    "budget": "Stopped at the spending limit for one request (${budget:g}); say \"continue\" "
              "to go on from here.",
    "time": "Stopped after {seconds:g} seconds, the time limit for one request; say "
            "\"continue\" to go on from here.",
}


def notes_text(notes: Notes, root: str, *, turns: int, budget: float, seconds: float) -> str:
    """The closing notes as quoted lines, each with its mark (empty when there are none)."""
    lines = []
    if notes.limit:
        lines.append(f"> {STOP} " + LIMITS[notes.limit].format(turns=turns, budget=budget,
                                                               seconds=seconds))
    if notes.denied:
        what = "; ".join(f"{s.label(root)} ({_short(_reason(s.result), 100).rstrip('.')})"
                         for s in notes.denied[:5])
        more = f" and {len(notes.denied) - 5} more" if len(notes.denied) > 5 else ""
        lines.append(f"> {DENIED} Not allowed in this workspace: {what}{more}. The server's "
                     "operator sets what agents may do.")
    if notes.files:
        lines.append(f"> {FILES} Files changed: " + ", ".join(notes.files))
    return "".join(line + "\n\n" for line in lines)


def strip_markup(text: str) -> str:
    """A message's text without what we (or a UI folding reasoning back in) added, with its
    whitespace normalised (line breaks and blank lines between paragraphs count as one: the
    Responses API returns an agent's turns as separate messages): what the ledger compares."""
    text = _THINK.sub("", _CARD.sub("", _OURS.sub("", text)))
    return re.sub(r"[ \t]*\n\s*", "\n", text).strip()
