"""PURE: an answer's exact Anthropic content array, rebuilt from the raw stream events.

The SDK's `AssistantMessage` drops ``redacted_thinking`` blocks (its parser has no case for
them), so the blocks are taken from the stream: ``content_block_start`` gives each block's type
(and a redacted block's ``data``), the deltas fill in text, thinking, signature and tool input.
Thinking blocks must later go back to the API byte for byte, so nothing is trimmed or rewritten.
"""

from __future__ import annotations

import json
from typing import Any

Block = dict[str, Any]
THINKING_TYPES = ("thinking", "redacted_thinking")


class BlockRecorder:
    """Feed it every stream event of a reply; `blocks` is the content array so far."""

    def __init__(self) -> None:
        self._done: list[Block] = []  # blocks of earlier upstream messages of this run
        self._open: dict[int, Block] = {}  # this message's blocks, by index
        self._json: dict[int, str] = {}  # tool_use input as it streams

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        index = event.get("index", -1)
        if kind == "message_start":
            self._done, self._open, self._json = self.blocks, {}, {}
        elif kind == "content_block_start":
            self._open[index] = _start(event.get("content_block") or {})
        elif kind == "content_block_delta" and index in self._open:
            self._delta(index, event.get("delta") or {})
        elif kind == "content_block_stop" and index in self._json:
            block = self._open[index]
            raw = self._json.pop(index)
            try:
                block["input"] = json.loads(raw) if raw.strip() else {}
            except ValueError:
                block["input"] = {}

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._open[index]
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + str(delta.get("text") or "")
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + str(delta.get("thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = str(delta.get("signature") or "")
        elif kind == "input_json_delta":
            self._json[index] = self._json.get(index, "") + str(delta.get("partial_json") or "")

    @property
    def blocks(self) -> list[Block]:
        return [*self._done, *(self._open[i] for i in sorted(self._open))]

    def finished_thinking(self, index: int) -> Block | None:
        """The thinking block at ``index`` of the current message, once its stream ended."""
        block = self._open.get(index)
        return block if block is not None and block.get("type") in THINKING_TYPES else None

    def thinking(self) -> list[Block]:
        return [b for b in self.blocks if b.get("type") in THINKING_TYPES]


def _start(block: dict[str, Any]) -> Block:
    kind = block.get("type")
    if kind == "thinking":
        return {"type": "thinking", "thinking": str(block.get("thinking") or ""),
                "signature": str(block.get("signature") or "")}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": str(block.get("data") or "")}
    if kind == "text":
        return {"type": "text", "text": str(block.get("text") or "")}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.get("id"), "name": block.get("name"),
                "input": {}}
    return dict(block)


def without_thinking(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.get("type") not in THINKING_TYPES]
