"""Claude's answers as the API sent them, thinking blocks included, kept in memory for a while.

OpenAI clients echo an assistant message back without its signed thinking blocks, and the API
needs those blocks, byte for byte, to continue a tool loop (see ``_thinking_restore``).  So each
answer is kept here as the API sent it, found again by what every client echoes back:

- ``call:<id>`` for each tool call id of the answer;
- ``text:<hash>`` of the conversation before the answer and the answer's text, for an answer
  without tool calls (the conversation is part of the key: the same words said in another
  conversation never bring this one's thinking along).

Bounded by bytes and age, oldest first out; never written to disk.  One store per `Config`,
shared by every process and event loop of it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .answer_blocks import Block

_stores: dict[tuple[int, float], ThinkingStore] = {}
_stores_lock = threading.Lock()


@dataclass(frozen=True)
class StoredAnswer:
    blocks: list[Block]  # the answer's content array, exactly as the API sent it
    model: str  # the model id that answered (Claude Code strips thinking of other models)
    requested: str | None  # the model the request named (an alias, an id, None: default)
    size: int = 0
    at: float = 0.0


def conversation_key(system: str | None, turns: list[Any]) -> str:
    """A hash of a conversation as the client sees it: system prompt, then each turn's text,
    images and tool calls and results (thinking never counts: clients do not echo it)."""
    return prefix_keys(system, turns)[-1]


def prefix_keys(system: str | None, turns: list[Any]) -> list[str]:
    """``conversation_key`` of ``turns[:i]`` for every i, in one pass (each key chains the one
    before, so a long history is hashed once, not once per turn)."""
    keys = [hashlib.sha256(json.dumps([system]).encode()).hexdigest()]
    for turn in turns:
        keys.append(chain_key(keys[-1], turn))
    return keys


def chain_key(key: str, turn: Any) -> str:
    """The key of the conversation ``key`` stands for, with ``turn`` after it."""
    view = json.dumps([key, turn.role, visible(turn.blocks)], sort_keys=True, default=str)
    return hashlib.sha256(view.encode()).hexdigest()


def visible(blocks: list[Block]) -> list[Any]:
    """What the client shows and echoes of a turn: text joined, tool calls, results, images."""
    out: list[Any] = []
    text = ""
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            text += str(block.get("text") or "")
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            if text:
                out.append(("text", text))
                text = ""
            if kind == "tool_use":
                out.append(("tool_use", block.get("id"), block.get("name"),
                            json.dumps(block.get("input"), sort_keys=True)))
            else:
                out.append(json.dumps(block, sort_keys=True))
    if text:
        out.append(("text", text))
    return out


def answer_keys(blocks: list[Block], conversation: str) -> list[str]:
    calls = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
    if calls:
        return [f"call:{c}" for c in calls]
    text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
    if not text:
        return []
    return ["text:" + hashlib.sha256(f"{conversation}\n{text}".encode()).hexdigest()]


class ThinkingStore:
    def __init__(self, max_bytes: int, max_age: float) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.bytes = 0
        self._answers: OrderedDict[int, tuple[StoredAnswer, list[str]]] = OrderedDict()
        self._keys: dict[str, int] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._resolved: dict[str | None, str] = {}  # model as requested -> the id that answered

    def __len__(self) -> int:
        return len(self._answers)

    def remember(self, blocks: list[Block], conversation: str, *, model: str,
                 requested: str | None) -> bool:
        """Keep an answer (one without thinking too: knowing it had none keeps the turns after
        it restorable, see ``_thinking_restore``); True when it was kept."""
        keys = answer_keys(blocks, conversation)
        if not keys:
            return False
        size = len(json.dumps(blocks))
        if size > self.max_bytes:
            return False
        with self._lock:
            self._expire(time.monotonic())
            for key in keys:
                self._drop(self._keys.get(key))
            self._next += 1
            self._resolved[requested] = model
            answer = StoredAnswer(blocks, model, requested, size, time.monotonic())
            self._answers[self._next] = (answer, keys)
            self._keys.update(dict.fromkeys(keys, self._next))
            self.bytes += size
            while self.bytes > self.max_bytes and self._answers:
                self._drop(next(iter(self._answers)))
        return True

    def find(self, blocks: list[Block], conversation: str) -> StoredAnswer | None:
        """The stored answer whose visible part is ``blocks`` (an echoed assistant message)."""
        keys = answer_keys(blocks, conversation)
        with self._lock:
            self._expire(time.monotonic())
            found = {self._keys.get(k) for k in keys}
            if not keys or len(found) != 1 or None in found:
                return None
            answer = self._answers[found.pop()][0]  # type: ignore[index]
        if visible(answer.blocks) != visible(blocks):
            return None  # an edited message never gets the old thinking spliced in
        return answer

    def resolve(self, requested: str | None) -> str | None:
        """The full id of the model a request names, as last seen answering; else the name
        itself when it is a full id."""
        seen = self._resolved.get(requested)
        if seen is not None:
            return seen
        return requested if requested and requested.startswith("claude-") else None

    def _expire(self, now: float) -> None:
        while self._answers:
            first = next(iter(self._answers))
            if now - self._answers[first][0].at <= self.max_age:
                return
            self._drop(first)

    def _drop(self, number: int | None) -> None:
        if number is None or number not in self._answers:
            return
        answer, keys = self._answers.pop(number)
        self.bytes -= answer.size
        for key in keys:
            if self._keys.get(key) == number:
                del self._keys[key]

    def state(self) -> dict[str, int]:
        return {"answers": len(self._answers), "bytes": self.bytes}


def store_for(max_bytes: int, max_age: float) -> ThinkingStore:
    """The process-wide store for these limits (one per `Config` in practice)."""
    with _stores_lock:
        key = (max_bytes, max_age)
        if key not in _stores:
            _stores[key] = ThinkingStore(max_bytes, max_age)
        return _stores[key]
