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

from .._config import Config
from .answer_blocks import Block
from .request import ClaudeRequest
from .thinking_restore import restore_thinking
from .thinking_store import StoredAnswer, ThinkingStore, store_for
from .turns import Turn

logger = logging.getLogger("claude_openai")

# Models for which Claude Code sends manual (budgeted) thinking: the 4.5 generation and older.
_MANUAL = re.compile(r"^claude-(?:opus|sonnet|haiku)-4(?:-[015])?(?:-\d{8})?(?:\[1m\])?$"
                     r"|^claude-3-")
_SONNET_OPUS_4_6 = re.compile(r"^claude-(?:opus|sonnet)-4-6")
MIN_TOP_P = 0.95  # the least top_p the API accepts with thinking on
MIN_BUDGET = 1024  # the least budget_tokens the API accepts
DEFAULT_BUDGET = 31999  # Claude Code's own budget for manual-thinking models
# Manual thinking needs budget_tokens >= 1024 and below max_tokens; under this max_tokens a
# request runs with thinking off rather than leave the answer almost no room.
MIN_MAX_TOKENS_FOR_THINKING = 2 * MIN_BUDGET


def manual_thinking(model: str | None) -> bool:
    """True for models Claude Code runs with manual thinking (``budget_tokens``)."""
    return bool(model) and bool(_MANUAL.match(str(model)))


def adds_temperature(model: str | None) -> bool:
    """Models to which Claude Code sends ``temperature: 1`` whenever thinking is off (it does
    not for Opus 4.7 and later, nor for the 5.x models)."""
    return manual_thinking(model) or bool(model and _SONNET_OPUS_4_6.match(model))


def plan(chat: ClaudeRequest, config: Config) -> ClaudeRequest:
    """The request as it may reach the API: thinking restored, and thinking, its budget and
    sampling chosen so that the API accepts the request (see the README's Reasoning)."""
    chat = with_thinking(chat, config)
    model = chat.model or config.model
    sampling = dict(chat.sampling)
    if set(sampling) == {"top_p"} and sampling["top_p"] < MIN_TOP_P and adds_temperature(model):
        # With thinking off Claude Code sends temperature 1 to this model, and the API refuses
        # it with top_p: temperature wins, as when a client sends both.
        del sampling["top_p"]
    off = chat.thinking_off or "temperature" in sampling or sampling.get(
        "top_p", 1.0) < MIN_TOP_P or chat.tools.forced
    budget = None
    if manual_thinking(model) and chat.max_tokens is not None and not off:
        if chat.max_tokens < MIN_MAX_TOKENS_FOR_THINKING:
            off = True  # no room for the API's least budget and an answer
        else:
            budget = max(MIN_BUDGET, min(DEFAULT_BUDGET, chat.max_tokens // 2))
    return dataclasses.replace(chat, sampling=sampling, thinking_off=off, thinking_budget=budget)


def thinking_store(config: Config) -> ThinkingStore | None:
    if config.thinking_store_bytes <= 0:
        return None
    return store_for(config.thinking_store_bytes, config.thinking_store_max_age)


def with_thinking(chat: ClaudeRequest, config: Config) -> ClaudeRequest:
    """``chat`` with its history's thinking blocks restored, and thinking turned off for it
    when its model needs blocks that could not be restored."""
    if not chat.history:
        return chat
    store = thinking_store(config)
    prompt = [Turn("user", chat.prompt)] if chat.prompt is not None else []
    model = chat.model or config.model
    restored = restore_thinking(
        chat.keys, [*chat.history, *prompt], store.find if store is not None else _nothing,
        requested=model, running=store.resolve(model) if store is not None else model)
    history = restored.turns[:len(chat.history)]
    off = chat.thinking_off or (restored.opens_without_thinking and manual_thinking(model))
    if restored.opens_without_thinking or restored.dropped:
        # info only for a tool loop that lost its reasoning; other misses are common (few-shot
        # examples, histories from elsewhere)
        level = logging.INFO if restored.opens_without_thinking else logging.DEBUG
        lacking = ("lacks its blocks: " + ("thinking off for this request" if off else
                                           "answered without them"))
        logger.log(level, "thinking restored to %d earlier answer(s), not to %d; the turn in "
                   "progress %s (model %s)", restored.restored, restored.dropped,
                   lacking if restored.opens_without_thinking else "has them", model)
    return dataclasses.replace(chat, history=history, thinking_off=off)


def remember(chat: ClaudeRequest, config: Config, blocks: list[Block], model: str) -> None:
    """Keep a finished answer; ``model`` is the id that answered (from ``message_start``)."""
    store = thinking_store(config)
    if store is not None and blocks:
        store.remember(blocks, chat.conversation, model=model,
                       requested=chat.model or config.model)


def _nothing(blocks: list[Block], conversation: str) -> StoredAnswer | None:
    return None
