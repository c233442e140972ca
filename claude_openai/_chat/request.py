"""PURE: validate an OpenAI Chat Completions body and turn it into a `ClaudeRequest`."""

from __future__ import annotations

import math
from typing import Any

from .._config import Config
from .._engine.models import resolve_model
from .._engine.request import ClaudeRequest
from .._engine.thinking_store import prefix_keys
from .._engine.turns import split_prompt, uses_tools
from .._exceptions import InvalidRequestError
from .._fields import check_fields
from .messages import parse_messages
from .policy import BY_NAME
from .tools import parse_tool_config

EFFORTS = {"none": None, "minimal": "low", "low": "low", "medium": "medium", "high": "high",
           "xhigh": "xhigh"}
# Sampling values that change nothing (OpenAI's and Anthropic's defaults): dropped, so that they
# neither turn thinking off nor collide with the other parameter upstream.
NEUTRAL_SAMPLING = {"temperature": 1.0, "top_p": 1.0}


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def parse_request(body: Any, config: Config | None = None) -> ClaudeRequest:
    """Validate ``body``, the JSON a client posts; raise `InvalidRequestError` naming the param.

    ``config`` supplies the limits (``max_messages``, ``max_image_bytes``); default `Config()`.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_type")
    _check_policy(body)
    limits = config or Config()
    conversation = parse_messages(body.get("messages"), max_messages=limits.max_messages,
                                  max_image_bytes=limits.max_image_bytes)
    turns = conversation.turns
    history, prompt = split_prompt(turns)
    model = body.get("model")
    return ClaudeRequest(
        model=None if model is None else resolve_model(model),
        system=conversation.system,
        history=history,
        prompt=prompt,
        max_tokens=_max_tokens(body),
        stop=_stop(body.get("stop")),
        sampling=sampling(body),
        effort=_effort(body.get("reasoning_effort")),
        include_usage=_include_usage(body),
        tools=parse_tool_config(body, history_uses_tools=uses_tools(turns)),
        thinking_off=body.get("reasoning_effort") == "none",
        keys=tuple(prefix_keys(conversation.system, turns)),
    )


def _check_policy(body: dict[str, Any]) -> None:
    check_fields(body, BY_NAME)
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise _fail("'stream' must be a boolean.", "stream", "invalid_type")


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


def sampling(body: dict[str, Any]) -> dict[str, float]:
    """``temperature`` and ``top_p`` as they may reach the API, which takes only one of them:
    a neutral value is dropped, and when both are deliberate ``temperature`` wins."""
    values = {k: _number(body, k, 0.0, 2.0 if k == "temperature" else 1.0)
              for k in NEUTRAL_SAMPLING if body.get(k) is not None}
    values = {k: v for k, v in values.items() if v != NEUTRAL_SAMPLING[k]}
    if len(values) > 1:
        del values["top_p"]
    return values


def _effort(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in EFFORTS:
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
