"""Claude's thinking across requests: restored into the history before a run, kept after it.

See ``_thinking_store`` (what is kept) and ``_thinking_restore`` (the API's rules on putting it
back).  When the tool turn in progress cannot get its thinking back, a manual-thinking model
answers that one request with thinking off, as the API requires; an adaptive model answers
without the blocks.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from ._answer_blocks import Block
from ._config import Config
from ._messages import Turn
from ._request import ChatRequest
from ._thinking_restore import restore_thinking
from ._thinking_store import ThinkingStore, store_for

logger = logging.getLogger("claude_openai")

# Models for which Claude Code sends manual (budgeted) thinking: the 4.5 generation and older.
_MANUAL = re.compile(r"^claude-(?:opus|sonnet|haiku)-4(?:-[015])?(?:-\d{8})?(?:\[1m\])?$"
                     r"|^claude-3-")


def manual_thinking(model: str | None) -> bool:
    """True for models Claude Code runs with manual thinking (``budget_tokens``)."""
    return bool(model) and bool(_MANUAL.match(str(model)))


def thinking_store(config: Config) -> ThinkingStore | None:
    if config.thinking_store_bytes <= 0:
        return None
    return store_for(config.thinking_store_bytes, config.thinking_store_max_age)


def with_thinking(chat: ChatRequest, config: Config) -> ChatRequest:
    """``chat`` with its history's thinking blocks restored, and thinking turned off for it
    when its model needs blocks that could not be restored."""
    if not chat.history:
        return chat
    store = thinking_store(config)
    prompt = [Turn("user", chat.prompt)] if chat.prompt is not None else []
    restored = restore_thinking(chat.system, [*chat.history, *prompt],
                                store.find if store is not None else _nothing)
    history = restored.turns[:len(chat.history)]
    model = chat.model or config.model
    off = chat.thinking_off or (restored.opens_without_thinking and manual_thinking(model))
    if restored.opens_without_thinking:
        logger.debug("the tool turn in progress has no thinking to restore (model %s): %s", model,
                     "thinking off for this request" if off else "answered without the blocks")
    return dataclasses.replace(chat, history=history, thinking_off=off)


def remember(chat: ChatRequest, config: Config, blocks: list[Block]) -> None:
    store = thinking_store(config)
    if store is not None and blocks:
        store.remember(blocks, chat.conversation)


def _nothing(blocks: list[Block], conversation: str) -> list[Block] | None:
    return None
