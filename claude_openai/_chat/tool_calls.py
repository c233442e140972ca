"""PURE: the tool_use blocks of one answer as OpenAI tool calls (or structured-output content).

Fed with the raw stream events of each tool_use block; returns the OpenAI ``delta`` dicts they
produce, so arguments reach a streaming client fragment by fragment, as the model writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._engine.tools import STRUCTURED_OUTPUT_TOOL, ToolConfig

Delta = dict[str, Any]


@dataclass
class Call:
    id: str
    name: str  # as the client named it
    arguments: str = ""


class ToolCallTracker:
    def __init__(self, tools: ToolConfig) -> None:
        self.tools = tools
        self.calls: list[Call] = []
        self.json: list[str] = []  # StructuredOutput arguments: the response_format content
        self._blocks: dict[int, int | None] = {}  # block index -> call index (None: structured)

    @property
    def structured(self) -> bool:
        return self.tools.schema is not None

    def start(self, index: int, block: dict[str, Any]) -> list[Delta]:
        if block.get("type") != "tool_use":
            return []
        name = str(block.get("name"))
        if self.structured and name == STRUCTURED_OUTPUT_TOOL:
            self._blocks[index] = None
            return []
        self._blocks[index] = len(self.calls)
        call = Call(str(block.get("id")), self.tools.client_name(name))
        self.calls.append(call)
        return self._call_delta(len(self.calls) - 1, {"name": call.name, "arguments": ""})

    def delta(self, index: int, fragment: str) -> list[Delta]:
        if index not in self._blocks or not fragment:
            return []
        k = self._blocks[index]
        if k is None:
            self.json.append(fragment)
            return [{"content": fragment}]
        self.calls[k].arguments += fragment
        return self._call_delta(k, {"arguments": fragment})

    def stop(self, index: int) -> list[Delta]:
        k = self._blocks.get(index)
        if k is None or self.calls[k].arguments:
            return []
        self.calls[k].arguments = "{}"  # a call without arguments still sends valid JSON
        return self._call_delta(k, {"arguments": "{}"})

    def _call_delta(self, k: int, function: dict[str, str]) -> list[Delta]:
        if self.tools.legacy:
            return [{"function_call": function}] if k == 0 else []
        entry: dict[str, Any] = {"index": k, "function": function}
        if "name" in function:
            entry.update(id=self.calls[k].id, type="function")
        return [{"tool_calls": [entry]}]

    def message_fields(self) -> dict[str, Any]:
        """``tool_calls`` (or legacy ``function_call``) for the finished message."""
        if not self.calls:
            return {}
        if self.tools.legacy:
            first = self.calls[0]
            return {"function_call": {"name": first.name, "arguments": first.arguments}}
        return {"tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}} for c in self.calls]}

    @property
    def finish_reason(self) -> str | None:
        if not self.calls:
            return None
        return "function_call" if self.tools.legacy else "tool_calls"
