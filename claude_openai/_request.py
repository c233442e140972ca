"""PURE: validate an OpenAI Chat Completions body and turn it into a `ChatRequest`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._content import Block, assistant_blocks, system_text, user_blocks
from ._exceptions import InvalidRequestError
from ._models import resolve_model
from ._policy import BY_NAME, is_neutral

ROLES = ("system", "developer", "user", "assistant")
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh"}


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    blocks: list[Block]


@dataclass(frozen=True)
class ChatRequest:
    """A validated request, in Claude's terms."""

    model: str | None  # the CLI --model value; None: the configured default
    system: str | None
    history: list[Turn]  # alternating turns before the prompt
    prompt: list[Block]  # the final user turn
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    sampling: dict[str, float] = field(default_factory=dict)  # temperature / top_p
    effort: str | None = None
    include_usage: bool = False


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def parse_request(body: Any) -> ChatRequest:
    """Validate ``body``, the JSON a client posts; raise `InvalidRequestError` naming the param."""
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_type")
    _check_policy(body)
    system, turns = _parse_messages(body.get("messages"))
    model = body.get("model")
    return ChatRequest(
        model=None if model is None else resolve_model(model),
        system=system,
        history=turns[:-1],
        prompt=turns[-1].blocks,
        max_tokens=_max_tokens(body),
        stop=_stop(body.get("stop")),
        sampling={k: _number(body, k, 0.0, 2.0 if k == "temperature" else 1.0)
                  for k in ("temperature", "top_p") if body.get(k) is not None},
        effort=_effort(body.get("reasoning_effort")),
        include_usage=_include_usage(body),
    )


def _check_policy(body: dict[str, Any]) -> None:
    for name, value in body.items():
        policy = BY_NAME.get(name)
        if policy and policy.support == "rejected" and not is_neutral(policy, value):
            raise _fail(f"'{name}' is not supported: {policy.note}.", name, "unsupported_parameter")
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise _fail("'stream' must be a boolean.", "stream", "invalid_type")


def _parse_messages(messages: Any) -> tuple[str | None, list[Turn]]:
    if not isinstance(messages, list) or not messages:
        raise _fail("'messages' must be a non-empty array.", "messages",
                    "invalid_type" if not isinstance(messages, list) else "empty_array")
    system: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _fail(f"'{where}' must be an object.", where, "invalid_type")
        role = message.get("role")
        if role in ("tool", "function"):
            raise _fail(f"'{where}.role' is '{role}': tool results are not supported yet.",
                        f"{where}.role", "unsupported_role")
        if role not in ROLES:
            raise _fail(f"'{where}.role' must be one of {', '.join(ROLES)}.", f"{where}.role")
        if message.get("tool_calls") or message.get("function_call"):
            raise _fail("Tool calls in the history are not supported yet.",
                        f"{where}.tool_calls", "unsupported_parameter")
        if role in ("system", "developer"):
            system.append(system_text(message.get("content"), where))
        elif role == "user":
            _append(turns, Turn("user", user_blocks(message.get("content"), where)))
        else:
            _append(turns, Turn("assistant", assistant_blocks(message.get("content"), where)))
    if not turns or turns[-1].role != "user":
        raise _fail("The last message must have role 'user' (an answer continues a user turn).",
                    "messages")
    text = "\n\n".join(s for s in system if s)
    return text or None, turns


def _append(turns: list[Turn], turn: Turn) -> None:
    """Add a turn, merging it into the previous one when the role repeats; drop empty ones."""
    if not turn.blocks:
        return
    if turns and turns[-1].role == turn.role:
        turns[-1] = Turn(turn.role, turns[-1].blocks + turn.blocks)
    else:
        turns.append(turn)


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(f"'{name}' must be an integer of 1 or more.", name)
        return value
    return None


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _fail("'stop' must be a non-empty string or an array of them.", "stop")
    if len(stops) > 4:
        raise _fail("'stop' takes at most 4 sequences.", "stop")
    return stops


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"'{name}' must be a number.", name, "invalid_type")
    if not low <= value <= high:
        raise _fail(f"'{name}' must be between {low:g} and {high:g}.", name)
    return float(value)


def _effort(value: Any) -> str | None:
    if value is None:
        return None
    if value not in EFFORTS:
        raise _fail(f"'reasoning_effort' must be one of {', '.join(EFFORTS)}.", "reasoning_effort")
    return EFFORTS[value]


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise _fail("'stream_options' must be an object.", "stream_options", "invalid_type")
    value = options.get("include_usage", False)
    if not isinstance(value, bool):
        raise _fail("'stream_options.include_usage' must be a boolean.",
                    "stream_options.include_usage", "invalid_type")
    return value
