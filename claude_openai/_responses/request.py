"""PURE: validate an OpenAI Responses API body and turn it into a `ResponsesRequest`: the
`ClaudeRequest` the engine runs, plus what the answer side and the store need to know.

The conversation is the stored chain of ``previous_response_id`` (its items, as ``earlier``
returns them) followed by this request's ``input``.  ``instructions`` is not carried over from
earlier responses (OpenAI's semantics); it opens the system prompt, followed by the text of
every ``system`` and ``developer`` message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._agent.request import Principal, parse_any
from .._chat.request import EFFORTS as CHAT_EFFORTS
from .._chat.request import sampling
from .._config import Config
from .._engine.models import resolve_model
from .._engine.request import ClaudeRequest
from .._engine.thinking_store import prefix_keys
from .._engine.turns import split_prompt, uses_tools
from .._exceptions import InvalidRequestError
from .._fields import check_fields
from .items import extra_tools, normalize_input, normalize_item, parse_items
from .policy import BY_NAME
from .tools import parse_tools, tool_config

Item = dict[str, Any]
Earlier = Callable[[str], list[Item]]

EFFORTS = {**CHAT_EFFORTS, "max": "max"}  # reasoning.effort -> Claude's effort (none: off)
SUMMARIES = ("auto", "concise", "detailed")
ENCRYPTED_REASONING = "reasoning.encrypted_content"


@dataclass(frozen=True)
class ResponsesRequest:
    claude: ClaudeRequest  # what the engine runs
    items: list[Item]  # this request's input as Responses input items, normalized
    include_thinking: bool  # "reasoning.encrypted_content" in include
    show_summary: bool  # reasoning.summary (or generate_summary) is set
    store: bool  # default True (OpenAI's default)
    previous_response_id: str | None


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def parse_responses(body: Any, config: Config, earlier: Earlier | None = None, *,
                    principal: Principal | None = None) -> ResponsesRequest:
    """Validate ``body``, the JSON a client posts; raise `InvalidRequestError` naming the param.

    ``earlier(previous_response_id)``: the items of the stored chain, oldest first (it raises
    the 400 itself for an id it does not know); None: nothing is stored, any id is unknown.
    ``principal``: who asks, for an ``agent:`` model (see ``_agent.request``)."""
    parsed: list[ResponsesRequest] = []

    def parse(plain: Any) -> ClaudeRequest:
        parsed.append(_parse(plain, config, earlier))
        return parsed[-1].claude

    claude = parse_any(body, config, principal, parse)
    return dataclasses.replace(parsed[-1], claude=claude)


def _parse(body: Any, config: Config, earlier: Earlier | None) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_type")
    check_fields(body, BY_NAME)
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise _fail("'stream' must be a boolean.", "stream", "invalid_type")
    previous = _previous(body.get("previous_response_id"))
    items = normalize_input(body.get("input"))
    stored = _earlier(previous, earlier)
    conversation_items = stored + items
    if len(conversation_items) > config.max_messages:
        raise _fail(f"The conversation holds {len(conversation_items)} items (with those of "
                    f"'previous_response_id'); this server accepts up to {config.max_messages} "
                    "(max_messages).", "input", "array_above_max_length")
    first = len(stored)
    tools = parse_tools(body.get("tools"), extra_tools(conversation_items, first))
    conversation = parse_items(conversation_items, tools=tools, first=first,
                               max_image_bytes=config.max_image_bytes)
    system = "\n\n".join(s for s in (_instructions(body), *conversation.system) if s) or None
    turns = conversation.turns
    history, prompt = split_prompt(turns)
    reasoning = _reasoning(body.get("reasoning"))
    effort = reasoning.get("effort")
    model = body.get("model")
    claude = ClaudeRequest(
        model=None if model is None else resolve_model(model),
        system=system,
        history=history,
        prompt=prompt,
        max_tokens=_max_tokens(body.get("max_output_tokens")),
        sampling=sampling(body),
        effort=EFFORTS.get(effort) if isinstance(effort, str) else None,
        tools=tool_config(body, tools, history_uses_tools=uses_tools(turns)),
        thinking_off=effort == "none",
        keys=tuple(prefix_keys(system, turns)),
    )
    return ResponsesRequest(
        claude=claude,
        items=items,
        include_thinking=ENCRYPTED_REASONING in _include(body.get("include")),
        show_summary=any(reasoning.get(k) in SUMMARIES for k in ("summary", "generate_summary")),
        store=_store(body.get("store")),
        previous_response_id=previous,
    )


def _previous(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _fail("'previous_response_id' must be a string.", "previous_response_id",
                "invalid_type")


def _earlier(previous: str | None, earlier: Earlier | None) -> list[Item]:
    if previous is None:
        return []
    if earlier is None:
        raise _fail(f"Previous response with id '{previous}' not found.", "previous_response_id",
                    "previous_response_not_found")
    return [normalize_item(item) for item in earlier(previous) if isinstance(item, dict)]


def _instructions(body: dict[str, Any]) -> str:
    value = body.get("instructions")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail("'instructions' must be a string.", "instructions", "invalid_type")
    return value if value.strip() else ""


def _reasoning(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail("'reasoning' must be an object.", "reasoning", "invalid_type")
    return value


def _include(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("'include' must be an array.", "include", "invalid_type")
    return value


def _store(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise _fail("'store' must be a boolean.", "store", "invalid_type")
    return value


def _max_tokens(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail("'max_output_tokens' must be an integer of 1 or more.", "max_output_tokens")
    return value
