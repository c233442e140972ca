"""PURE: OpenAI ``messages`` as a system prompt plus alternating Claude turns.

Assistant ``tool_calls`` become ``tool_use`` blocks and ``tool`` (or legacy ``function``)
messages become ``tool_result`` blocks, so a tool round trip reaches Claude as real pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._engine.tools import api_name, call_id
from .._engine.turns import Echo, Turn, append_turn
from .._exceptions import InvalidRequestError
from .content import Block, assistant_blocks, signed_blocks, text_of, user_blocks
from .tools import arguments

ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass
class _Calls:
    """Tool calls seen so far, to match each result to its call."""

    open: dict[str, str] = field(default_factory=dict)  # client call id -> function name
    legacy: dict[str, str] = field(default_factory=dict)  # legacy function name -> call id


@dataclass(frozen=True)
class Conversation:
    system: str | None
    turns: list[Turn]


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def parse_messages(messages: Any, *, max_messages: int, max_image_bytes: int) -> Conversation:
    if not isinstance(messages, list) or not messages:
        raise _fail("'messages' must be a non-empty array.", "messages",
                    "invalid_type" if not isinstance(messages, list) else "empty_array")
    if len(messages) > max_messages:
        raise _fail(f"'messages' holds {len(messages)} messages; this server accepts up to "
                    f"{max_messages} (max_messages).", "messages", "array_above_max_length")
    system: list[str] = []
    turns: list[Turn] = []
    calls = _Calls()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _fail(f"'{where}' must be an object.", where, "invalid_type")
        role = message.get("role")
        if role not in ROLES:
            raise _fail(f"'{where}.role' must be one of {', '.join(ROLES)}.", f"{where}.role")
        if role in ("system", "developer"):
            system.append(text_of(message.get("content"), where))
        elif role == "user":
            append_turn(turns, Turn("user", user_blocks(message.get("content"), where,
                                                    max_image_bytes=max_image_bytes)))
        elif role == "assistant":
            blocks = _assistant(message, i, calls)
            append_turn(turns, Turn("assistant", blocks, (Echo(blocks, signed_blocks(message)),)))
        else:
            append_turn(turns, Turn("user", [_result(message, where, calls)]))
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "user" and (
            not turns or turns[-1].role != "user"):
        raise _fail(f"'messages[{len(messages) - 1}].content' holds no text or image (only "
                    "whitespace).", f"messages[{len(messages) - 1}].content")
    if not turns or turns[-1].role != "user":
        raise _fail("The last message must be from the user or a tool result.", "messages")
    text = "\n\n".join(s for s in system if s)
    return Conversation(text or None, turns)


def _assistant(message: dict[str, Any], i: int, calls: _Calls) -> list[Block]:
    where = f"messages[{i}]"
    blocks = assistant_blocks(message.get("content"), where)
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise _fail(f"'{where}.tool_calls' must be an array.", f"{where}.tool_calls",
                    "invalid_type")
    for j, call in enumerate(tool_calls):
        param = f"{where}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise _fail(f"'{param}' must have an 'id' and a 'function'.", param)
        blocks.append(_tool_use(call["id"], function, f"{param}.function"))
        calls.open[call["id"]] = str(function.get("name"))
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        legacy_id = f"call_fn{i}"
        blocks.append(_tool_use(legacy_id, legacy, f"{where}.function_call"))
        calls.legacy[str(legacy.get("name"))] = legacy_id
    return blocks


def _tool_use(id_: str, function: dict[str, Any], param: str) -> Block:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"'{param}.name' must be a string.", f"{param}.name")
    return {"type": "tool_use", "id": call_id(id_), "name": api_name(name),
            "input": arguments(function.get("arguments"), f"{param}.arguments")}


def _result(message: dict[str, Any], where: str, calls: _Calls) -> Block:
    if message["role"] == "tool":
        id_ = message.get("tool_call_id")
        if not isinstance(id_, str) or id_ not in calls.open:
            raise _fail(f"'{where}.tool_call_id' does not match a tool call of an earlier "
                        "assistant message.", f"{where}.tool_call_id", "unknown_tool_call")
        del calls.open[id_]
    else:
        id_ = calls.legacy.pop(str(message.get("name")), None)
        if id_ is None:
            raise _fail(f"'{where}.name' does not match an earlier function_call.",
                        f"{where}.name", "unknown_tool_call")
    return {"type": "tool_result", "tool_use_id": call_id(id_),
            "content": text_of(message.get("content"), where)}
