"""How `claude-openai chat` prints an answer: the text on stdout as it streams, Claude's thinking
(only when asked) dimmed on stderr, or the raw JSON for scripts."""

from __future__ import annotations

import json
from typing import Any, TextIO

DIM, RESET = "\x1b[2m", "\x1b[0m"


class AnswerPrinter:
    """Prints one answer, from stream chunks or a whole Chat Completion, and keeps its text."""

    def __init__(self, out: TextIO, err: TextIO, *, reasoning: bool, as_json: bool) -> None:
        self.out, self.err = out, err
        self.reasoning, self.as_json = reasoning, as_json
        self.parts: list[str] = []
        self._thinking = False  # thinking printed, its line not yet ended
        self._dim = _is_tty(err)

    @property
    def text(self) -> str:
        """The answer's content so far (what goes into the conversation's history)."""
        return "".join(self.parts)

    def chunk(self, chunk: dict[str, Any]) -> None:
        if self.as_json:
            self._write(self.out, json.dumps(chunk, ensure_ascii=False) + "\n")
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self._show(delta.get("reasoning_content"), delta.get("content"))

    def completion(self, completion: dict[str, Any]) -> None:
        if self.as_json:
            self._write(self.out, json.dumps(completion, indent=2, ensure_ascii=False) + "\n")
        for choice in completion.get("choices") or []:
            message = choice.get("message") or {}
            self._show(message.get("reasoning_content"), message.get("content"))

    def finish(self) -> None:
        """End the answer's line (and the thinking's, if it never got to the answer)."""
        self._end_thinking()
        if not self.as_json and self.parts and not self.text.endswith("\n"):
            self._write(self.out, "\n")

    def _show(self, thinking: Any, content: Any) -> None:
        if isinstance(thinking, str) and thinking and self.reasoning and not self.as_json:
            self._thinking = True
            self._write(self.err, f"{DIM}{thinking}{RESET}" if self._dim else thinking)
        if isinstance(content, str) and content:
            self._end_thinking()
            self.parts.append(content)
            if not self.as_json:
                self._write(self.out, content)

    def _end_thinking(self) -> None:
        if self._thinking:
            self._thinking = False
            self._write(self.err, "\n\n")

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        stream.write(text)
        stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
