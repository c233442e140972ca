"""A fake Anthropic Messages API on 127.0.0.1 that records what the Claude Code CLI sends.

By default it answers ``ECHO: <last user text>`` token by token.  Tests queue scripted
``Reply`` objects to shape the next answers (text, stop reason, usage, HTTP errors, pacing).
It honours ``max_tokens`` (one word = one token) and ``stop_sequences`` the way the real API
does, so a test can check what the client got against what reached the model.

It is as strict as the real API: ``api_error`` refuses what the real one refuses (sampling
parameters, thinking configuration per model family, empty text, tool_use/tool_result pairing,
thinking blocks that were not sent back as issued) with the real 400, and records each refusal
in ``FakeUpstream.refusals``; the ``upstream`` fixture fails a test that had one unless it called
``expect_refusals()``.  Thinking comes out only when the request turns it on, signed, so that
what the CLI sends back can be checked.

Usage is the fixed ``DEFAULT_USAGE`` unless the prompt cache is simulated (opt-in:
``FakeUpstream(cache=True)`` or ``simulate_cache = True``): then each answer reports what
Anthropic's prompt cache would have read and written (``PromptCache``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from servers import ThreadedServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer to a ``POST /v1/messages``."""

    text: str | None = None  # None: echo the last user text
    deltas: list[str] | None = None  # explicit text deltas (overrides ``text``)
    stop_reason: str | None = None  # None: derived (end_turn / max_tokens / stop_sequence)
    usage: dict[str, int] = field(default_factory=dict)
    status: int = 200
    error_type: str = "api_error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between stream events
    first_delay: float = 0.0  # seconds before the first stream event (message_start)
    pause_after: int | None = None  # after this many text deltas, pause ``pause`` seconds
    pause: float = 0.0
    # thinking deltas of one thinking block before the text; sent only when the request turns
    # thinking on.  Manual mode (``enabled``) makes one up when this is empty.
    thinking: list[str] = field(default_factory=list)
    redacted: int = 0  # redacted_thinking blocks after it (thinking on only)
    model: str | None = None  # None: the model the request named
    fail_after: int | None = None  # send this many deltas, then an SSE error event
    # tool_use blocks after the text: {"name": ..., "input": {...}, "id": optional}
    tools: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # what the real API accepts

DEFAULT_USAGE = {
    "input_tokens": 11,
    "cache_creation_input_tokens": 3,
    "cache_read_input_tokens": 5,
}


# Blocks the CLI adds to a user message on its own.  (A /clear's record is not among them: no
# request may carry one, and an echo that shows it makes the test that sent it fail.)
CLI_BLOCKS = ("<system-reminder>",)


def last_user_text(body: dict[str, Any]) -> str:
    """All text of the last user message, without the blocks the CLI adds (``CLI_BLOCKS``)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content
            if block.get("type") == "text"
            and not any(mark in block.get("text", "") for mark in CLI_BLOCKS)
        ]
        return "\n".join(texts)
    return ""


def _plan(reply: Reply, body: dict[str, Any]) -> tuple[list[str], str, str | None]:
    """The deltas to send, the stop reason and the matched stop sequence."""
    if reply.deltas is not None:
        deltas = list(reply.deltas)
    else:
        text = reply.text if reply.text is not None else "ECHO: " + last_user_text(body)
        words = text.split(" ")
        deltas = [w if i == 0 else " " + w for i, w in enumerate(words) if w or i]
        deltas = [d for d in deltas if d]
    stop_seq = None
    joined = "".join(deltas)
    for seq in body.get("stop_sequences") or []:
        at = joined.find(seq)
        if at != -1 and (stop_seq is None or at < joined.find(stop_seq)):
            stop_seq = seq
    if stop_seq is not None:
        deltas = _cut(deltas, joined.find(stop_seq))
    stop = "stop_sequence" if stop_seq else "end_turn"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and len(deltas) > limit:
        deltas, stop, stop_seq = deltas[:limit], "max_tokens", None
    return deltas, reply.stop_reason or stop, stop_seq


def _cut(deltas: list[str], at: int) -> list[str]:
    out: list[str] = []
    used = 0
    for d in deltas:
        if used + len(d) >= at:
            if at - used:
                out.append(d[: at - used])
            break
        out.append(d)
        used += len(d)
    return out


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


# -- the real API's rules ---------------------------------------------------------------------
# ``api_error`` plays the Messages API's request validation: it returns the message the real API
# answers a 400 invalid_request_error with, or None.  Each rule names its source: a docs page,
# an issue quoting the real error, or a section of the team's research notes "thinking.md"
# (which quotes the platform.claude.com pages and the error texts seen in the wild).

THINKING_TYPES = ("thinking", "redacted_thinking")
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"
_SECRET = secrets.token_bytes(32)  # per process: a signature from another run never verifies

_MODEL_VERSION = re.compile(r"^claude-(?:[a-z]+-)?(\d+)(?:-(\d{1,2}))?(?!\d)")

THINKING_FIRST = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{type}`."
    " When `thinking` is enabled, a final `assistant` message must start with a thinking block"
    " (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you"
    " include thinking blocks from previous turns. To avoid this requirement, disable `thinking`."
    " Please consult our documentation at"
    " https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
MODIFIED = ("messages.{i}.content.{j}: `thinking` or `redacted_thinking` blocks in the latest"
            " assistant message cannot be modified. These blocks must remain as they were in the"
            " original response.")
BAD_SIGNATURE = "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
ENABLED_UNSUPPORTED = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and'
    ' "output_config.effort" to control thinking behavior.')
ADAPTIVE_UNSUPPORTED = "adaptive thinking is not supported on this model"
UNANSWERED = ("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately"
              " after: {ids}. Each `tool_use` block must have a corresponding `tool_result` block"
              " in the next message.")
UNEXPECTED_RESULT = (
    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}."
    " Each `tool_result` block must have a corresponding `tool_use` block in the previous"
    " message.")
EMPTY_MESSAGE = ("messages.{i}: all messages must have non-empty content except for the optional"
                 " final assistant message")


def model_family(model: Any) -> str | None:
    """``"manual"``, ``"adaptive"`` or None (both modes, or a model that is not Claude's).

    thinking.md §1.3 (the troubleshooting page's table): Opus 4.5, Haiku 4.5, Sonnet 4.5, Opus 4.1
    and older take extended (manual) thinking only; Opus 4.7/4.8 and the 5.x models adaptive only;
    Opus/Sonnet 4.6 both.
    """
    found = _MODEL_VERSION.match(str(model))
    if found is None:
        return None
    major, minor = int(found[1]), int(found[2] or 0)
    if major >= 5 or (major == 4 and minor >= 7):
        return "adaptive"
    return None if (major, minor) == (4, 6) else "manual"


def thinking_mode(body: dict[str, Any]) -> str | None:
    """``"enabled"`` (manual), ``"adaptive"``, or None when thinking is off."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return kind if kind in ("enabled", "adaptive") else None


def shows_thinking(body: dict[str, Any]) -> bool:
    """Whether thinking text is returned, or only its signature (``display: "omitted"``).

    thinking.md §1.1 (Controlling thinking display): "omitted" is the default on the newest
    models (Fable 5, Sonnet 5, Opus 4.7/4.8...), "summarized" on earlier Claude 4 models.
    """
    display = (body.get("thinking") or {}).get("display")
    if display is None:
        return model_family(body.get("model")) != "adaptive"
    return display != "omitted"


def _blocks(message: Any) -> list[dict[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _has_tool_result(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "tool_result" for b in _blocks(message))


@dataclass(frozen=True)
class Signed:
    """What a fake signature (or redacted ``data``) says about its block."""

    response: str  # the id of the response that emitted the block
    index: int  # the block's place among that response's thinking blocks
    total: int  # how many thinking blocks that response emitted


def _mac(kind: str, response: str, index: int, total: int, text: str | None) -> str:
    payload = json.dumps([kind, response, index, total, text])
    return hmac.new(_SECRET, payload.encode(), hashlib.sha256).hexdigest()


def sign(kind: str, response: str, index: int, total: int, text: str | None) -> str:
    """A signature (or redacted ``data``) for a block; ``text`` None: display omitted, any text
    sent back verifies (thinking.md §1.1: "Any text you place in the `thinking` field of a
    round-tripped omitted block is ignored")."""
    fields = {"r": response, "n": index, "of": total, "o": text is None,
              "mac": _mac(kind, response, index, total, text)}
    return base64.b64encode(json.dumps(fields).encode()).decode()


def verify(block: dict[str, Any]) -> Signed | None:
    """The block's ``Signed`` facts when the fake issued it unchanged, else None."""
    kind = block.get("type")
    token = block.get("data" if kind == "redacted_thinking" else "signature")
    try:
        fields = json.loads(base64.b64decode(str(token), validate=True))
        response, index, total = str(fields["r"]), int(fields["n"]), int(fields["of"])
        omitted, mac = bool(fields["o"]), str(fields["mac"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    text = None if omitted or kind == "redacted_thinking" else block.get("thinking")
    if not isinstance(text, (str, type(None))):
        return None
    if not hmac.compare_digest(mac, _mac(str(kind), response, index, total, text)):
        return None
    return Signed(response, index, total)


def api_error(body: Any, headers: Mapping[str, str]) -> str | None:
    """The real API's 400 message for this ``POST /v1/messages``, or None when it is valid."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "messages: Field required"
    for i, message in enumerate(body["messages"]):
        if not isinstance(message, dict):
            return f"messages.{i}: Input should be a valid dictionary"
    for check in (_sampling_error, _thinking_config_error, _tools_error, _text_error,
                  _tool_pairing_error, _thinking_blocks_error):
        message = check(body, headers)
        if message is not None:
            return message
    return None


def _sampling_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    # Claude 4.5 and newer take one of the two; the real text as quoted in
    # github.com/Vali-98/ChatterUI/issues/564 (Sonnet 4.6) and langfuse/langfuse#9882 (Sonnet 4.5).
    if body.get("temperature") is not None and body.get("top_p") is not None:
        return ("`temperature` and `top_p` cannot both be specified for this model."
                " Please use only one.")
    if thinking_mode(body) is None:
        return None
    # Thinking's feature compatibility: temperature, top_k, top_p and forced tool use
    # (https://platform.claude.com/docs/en/build-with-claude/extended-thinking; thinking.md §1.7
    # "Only tool_choice auto/none works with manual thinking"; notes §3.6).
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if body.get("top_k") is not None:
        return "`top_k` must be unset when thinking is enabled."
    top_p = body.get("top_p")
    if top_p is not None and top_p < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _betas(headers: Mapping[str, str]) -> set[str]:
    return {beta.strip() for name, value in headers.items() if name.lower() == "anthropic-beta"
            for beta in value.split(",")}


def _thinking_config_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    mode = thinking_mode(body)
    family = model_family(body.get("model"))
    # Which modes each model takes: thinking-troubleshooting page, thinking.md §1.3.
    if mode == "adaptive" and family == "manual":
        return ADAPTIVE_UNSUPPORTED
    if mode == "enabled" and family == "adaptive":
        return ENABLED_UNSUPPORTED
    if mode != "enabled":
        return None
    # budget_tokens: at least 1024 and below max_tokens, except with interleaved thinking, where
    # it may exceed max_tokens (extended-thinking page, "Interleaved thinking"; thinking.md §1.7).
    budget = body["thinking"].get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and budget >= limit and INTERLEAVED_BETA not in _betas(headers):
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _tools_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") not in (None, "custom"):
            continue  # a server tool (web search, ...) has no input schema
        # Tool names (https://platform.claude.com/docs/agents-and-tools/tool-use/define-tools).
        # The page now says {1,128}; the fake keeps the older, stricter 64.
        if not TOOL_NAME.match(str(tool.get("name"))):
            return f"tools.{i}.custom.name: String should match pattern '{TOOL_NAME.pattern}'"
        # "input_schema: A JSON Schema object defining the expected parameters" (same page).
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            return f"tools.{i}.custom.input_schema: Field required"
        if schema.get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
        # No union at the root: the API's own words, quoted in windoze95/cantinarr#497
        # (claude-haiku-4-5, 2026-08-23), for a schema with a top-level oneOf.
        if any(k in schema for k in ("oneOf", "allOf", "anyOf")):
            return (f"tools.{i}.custom.input_schema: input_schema does not support oneOf, allOf, "
                    "or anyOf at the top level")
    return None


def _empty_text(blocks: list[dict[str, Any]], where: str) -> str | None:
    for block in blocks:
        if block.get("type") != "text":
            continue
        text = block.get("text")
        if not text:
            return f"{where}: text content blocks must be non-empty"
        if not str(text).strip():
            return f"{where}: text content blocks must contain non-whitespace text"
    return None


def _text_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    # Empty text and empty messages, the real texts as quoted in anthropics/claude-code#59812
    # ("text content blocks must be non-empty") and #23440 ("... non-whitespace text").
    system = body.get("system")
    if isinstance(system, list):
        message = _empty_text([b for b in system if isinstance(b, dict)], "system")
        if message is not None:
            return message
    messages = body["messages"]
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        final_assistant = i == len(messages) - 1 and message.get("role") == "assistant"
        if content in ("", [], None) and not final_assistant:
            return EMPTY_MESSAGE.format(i=i)
        found = _empty_text(_blocks(message), "messages")
        if found is not None:
            return found
    return None


def _tool_pairing_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    # Tool results answer the previous message's tool calls, and every call is answered in the
    # next message (https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls;
    # real texts in github/copilot-cli#102 and anthropics/claude-code#65726).  The CLI's role
    # "system" messages sit between turns and are skipped.
    turns = [(i, m) for i, m in enumerate(body["messages"]) if m.get("role") != "system"]
    for k, (i, message) in enumerate(turns):
        blocks = _blocks(message)
        if message.get("role") == "user":
            previous = turns[k - 1][1] if k else {}
            offered = {b.get("id") for b in _blocks(previous) if b.get("type") == "tool_use"
                       } if previous.get("role") == "assistant" else set()
            for j, block in enumerate(blocks):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                    return UNEXPECTED_RESULT.format(i=i, j=j, id=block.get("tool_use_id"))
        elif message.get("role") == "assistant" and k + 1 < len(turns):
            following = turns[k + 1][1]
            answered = {b.get("tool_use_id") for b in _blocks(following)
                        if b.get("type") == "tool_result"
                        } if following.get("role") == "user" else set()
            missing = [str(b.get("id")) for b in blocks
                       if b.get("type") == "tool_use" and b.get("id") not in answered]
            if missing:
                return UNANSWERED.format(i=i, ids=", ".join(missing))
    return None


def turn_in_progress(messages: list[Any]) -> list[int]:
    """Indices of the assistant messages since the last user message that hands back no
    tool_result: the assistant turn a tool loop is still running (thinking.md §0, §1.1)."""
    start = -1
    for i, message in enumerate(messages):
        if message.get("role") == "user" and not _has_tool_result(message):
            start = i
    return [i for i, m in enumerate(messages) if i > start and m.get("role") == "assistant"]


def _thinking_blocks_error(body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    messages = body["messages"]
    # Every thinking block must carry the signature it was issued with, over its unchanged
    # text (thinking.md §1.4: "Invalid `signature` in `thinking` block").
    for i, message in enumerate(messages):
        for j, block in enumerate(_blocks(message)):
            if block.get("type") in THINKING_TYPES and verify(block) is None:
                return BAD_SIGNATURE.format(i=i, j=j)
    mode = thinking_mode(body)
    turn = turn_in_progress(messages)
    # Manual mode: the turn in progress opens with a thinking block (thinking.md §1.2 and the
    # error text of §1.4); adaptive mode relaxes this.
    if mode == "enabled" and turn:
        first = _blocks(messages[turn[0]])
        if first and first[0].get("type") not in THINKING_TYPES:
            return THINKING_FIRST.format(i=turn[0], type=first[0].get("type"))
    if mode is None:
        return None  # thinking off: the API strips the blocks (thinking.md §1.1, degradation)
    # In the turn in progress each response's blocks come back complete and in order: "you
    # can't rearrange, edit, or partially drop them" (thinking.md §1.2).
    seen: dict[str, list[tuple[int, int, int]]] = {}
    for i in turn:
        for j, block in enumerate(_blocks(messages[i])):
            signed = verify(block) if block.get("type") in THINKING_TYPES else None
            if signed is None:
                continue
            found = seen.setdefault(signed.response, [])
            if signed.index != len(found):
                return MODIFIED.format(i=i, j=j)
            found.append((i, j, signed.total))
    for found in seen.values():
        i, j, total = found[-1]
        if len(found) != total:
            return MODIFIED.format(i=i, j=j)
    return None


# -- the prompt cache -------------------------------------------------------------------------
# ``PromptCache`` plays Anthropic's prompt cache, after
# https://platform.claude.com/docs/en/build-with-claude/prompt-caching :
# - the cacheable prefix is ``tools``, then ``system``, then ``messages``, in order;
# - a block carrying ``cache_control`` is a breakpoint: a request writes the prefix ending at
#   each of its breakpoints, kept 5 minutes (``"ttl": "1h"``: an hour), refreshed when read;
# - it reads the longest written prefix it starts with, ending at any block up to its last
#   breakpoint (``cache_read_input_tokens``), writes what follows up to that last breakpoint
#   (``cache_creation_input_tokens``), and the rest is ``input_tokens``;
# - caches are per model, and changing ``thinking`` or ``tool_choice`` invalidates the messages'
#   prefixes but not the tools' and system's ("What invalidates the cache").
# Not played: the minimum cacheable length, the 20-block lookback, images.  Tokens are
# estimated: bytes / 4 of each block's JSON without its ``cache_control`` (moving a marker
# changes no content), with where it sits (a tool, the system, a message's role).

CACHE_TTL = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Segment:
    """One block of the cacheable prefix."""

    where: str  # "tools.0", "system.1", "settings", "messages.3.content.0"
    text: str  # canonical: JSON of [its place (role), the block without cache_control]
    tokens: int
    ttl: float | None  # a breakpoint: seconds its prefix is kept; else None


def _segment(where: str, place: str, block: Any) -> Segment:
    marker = block.get("cache_control") if isinstance(block, dict) else None
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    text = json.dumps([place, block], sort_keys=True, ensure_ascii=False)
    ttl = CACHE_TTL.get(str(marker.get("ttl", "5m")), 300.0) if isinstance(marker, dict) else None
    return Segment(where, text, (len(text.encode()) + 3) // 4, ttl)


def cache_segments(body: dict[str, Any]) -> list[Segment]:
    """The request's cacheable prefix, block by block: tools, system, then messages (role
    ``system`` messages, which the CLI sends inside ``messages``, in their place).  A zero-token
    "settings" segment before the messages stands for ``thinking`` and ``tool_choice``."""
    out = [_segment(f"tools.{i}", "tool", t) for i, t in enumerate(body.get("tools") or [])]
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) and system else (
        system if isinstance(system, list) else [])
    out += [_segment(f"system.{i}", "system", b) for i, b in enumerate(blocks)]
    settings = [body.get("thinking"), body.get("tool_choice")]
    out.append(Segment("settings", json.dumps(["settings", settings], sort_keys=True), 0, None))
    for i, message in enumerate(body.get("messages") or []):
        role = str(message.get("role"))
        out += [_segment(f"messages.{i}.content.{j}", role, b)
                for j, b in enumerate(_blocks(message))]
    return out


def _prefix_digests(segments: list[Segment]) -> list[str]:
    """The digest of each prefix: ``digests[k]`` stands for ``segments[:k + 1]``."""
    digest, out = hashlib.sha256(), []
    for segment in segments:
        digest.update(hashlib.sha256(segment.text.encode()).digest())
        out.append(digest.copy().hexdigest())
    return out


class PromptCache:
    """Written prefixes per model, with their expiry on an injectable clock (seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.entries: dict[tuple[str, str], tuple[float, float]] = {}  # -> (expires, ttl)

    def clear(self) -> None:
        self.entries.clear()

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """What answering ``body`` reads and writes (and writes it)."""
        segments = cache_segments(body)
        digests = _prefix_digests(segments)
        model, now = str(body.get("model")), self.clock()
        marks = [k + 1 for k, s in enumerate(segments) if s.ttl is not None]
        last = marks[-1] if marks else 0
        read = next((k for k in range(last, 0, -1)
                     if self.entries.get((model, digests[k - 1]), (0.0, 0.0))[0] > now), 0)
        if read:
            ttl = self.entries[(model, digests[read - 1])][1]
            self.entries[(model, digests[read - 1])] = (now + ttl, ttl)
        for k in marks:
            ttl = segments[k - 1].ttl or 0.0
            expires, kept = self.entries.get((model, digests[k - 1]), (0.0, 0.0))
            self.entries[(model, digests[k - 1])] = max((expires, kept), (now + ttl, ttl))
        tokens = [s.tokens for s in segments]
        return {"input_tokens": sum(tokens[last:]),
                "cache_creation_input_tokens": sum(tokens[read:last]),
                "cache_read_input_tokens": sum(tokens[:read])}


class FakeUpstream:
    """The fake API plus the uvicorn server that runs it in a thread."""

    def __init__(self, cache: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/{path:path}", self._other, methods=["GET", "HEAD", "POST"]),
            ]
        )
        self._server: ThreadedServer | None = None
        self.port = 0
        self.sent_deltas: list[int] = []  # text deltas actually sent, per streamed call
        self.send_times: list[tuple[float, float]] = []  # first and last delta, per call
        self.completed: list[bool] = []  # per streamed call: was it sent to the end?
        self.closed_at: list[float] = []  # per streamed call: when it ended (or was dropped)
        self.refusals: list[tuple[Any, str]] = []  # (body, the API's message) per 400 refusal
        self.stray_refusals: list[tuple[Any, str]] = []  # refusals no test checked (see reset)
        self.issued: dict[str, list[dict[str, Any]]] = {}  # response id -> its thinking blocks
        self._expecting_refusals = False
        self._cache_default = cache
        self.simulate_cache = cache  # usage from the simulated prompt cache, not DEFAULT_USAGE
        self.cache = PromptCache(clock)  # its written prefixes; ``reset`` clears them
        self.usages: list[dict[str, int]] = []  # the input usage of each answered model call

    # -- test API ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            if not self._expecting_refusals:
                self.stray_refusals.extend(self.refusals)
            self._expecting_refusals = False
            self.refusals.clear()
            self.replies.clear()
            self.requests.clear()
            self.sent_deltas.clear()
            self.send_times.clear()
            self.completed.clear()
            self.closed_at.clear()
            self.usages.clear()
            self.cache.clear()
            self.simulate_cache = self._cache_default

    def expect_refusals(self) -> None:
        """This test means to send requests the API refuses: ``check_refusals`` lets them be."""
        self._expecting_refusals = True

    def check_refusals(self) -> None:
        """Fail when the fake refused a request the test did not expect to be refused.

        The refusals are taken out once reported, so ``reset`` does not count them as stray.
        """
        with self._lock:
            refused = [] if self._expecting_refusals else list(self.refusals)
            if refused:
                self.refusals.clear()
        if refused:
            calls = self.calls
            raise AssertionError("the fake API refused what the real one would refuse:\n"
                                 + "\n".join(describe_refusal(b, m, _position(calls, b))
                                              for b, m in refused))

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Bodies of the model calls (``POST /v1/messages``), in order."""
        return [r.body for r in self.requests if r.path == "/v1/messages" and r.method == "POST"]

    # -- server -----------------------------------------------------------------------------
    def start(self) -> None:
        self._server = ThreadedServer(self.app).start()
        self.port = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # -- handlers ---------------------------------------------------------------------------
    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.url.path, dict(request.headers), body)
            )
        return body

    async def _other(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({})

    async def _messages(self, request: Request) -> Response:
        body = await self._record(request)
        refused = api_error(body, request.headers)
        if refused is not None:  # the scripted reply stays queued: the model never ran
            with self._lock:
                self.refusals.append((body, refused))
            return _error(400, "invalid_request_error", refused)
        with self._lock:
            reply = self.replies.popleft() if self.replies else Reply()
        if reply.status != 200:
            return _error(reply.status, reply.error_type, "fake failure", reply.headers)
        deltas, stop, stop_seq = _plan(reply, body)
        if reply.tools and stop != "max_tokens":
            stop, stop_seq = reply.stop_reason or "tool_use", None
        model = reply.model or body.get("model", "claude-fake")
        response_id = f"msg_fake{uuid.uuid4().hex[:20]}"
        thoughts = _thoughts(reply, body, response_id)
        with self._lock:
            self.issued[response_id] = [t.block for t in thoughts]
        thinking_tokens = sum(t.tokens for t in thoughts)
        with self._lock:
            cached = self.cache.usage(body) if self.simulate_cache else DEFAULT_USAGE
            usage = {**cached, **reply.usage}
            self.usages.append({k: usage[k] for k in DEFAULT_USAGE})
        output = {"output_tokens": reply.usage.get("output_tokens",
                                                   len(deltas) + thinking_tokens)}
        if thoughts:
            output["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
        answer = Answer(response_id, model, deltas, stop, stop_seq, usage, output, thoughts)
        if not body.get("stream"):
            return JSONResponse(_message(answer, reply))
        return StreamingResponse(self._stream(answer, reply), media_type="text/event-stream")

    async def _stream(self, answer: Answer, reply: Reply) -> Any:
        with self._lock:
            self.sent_deltas.append(0)
            self.send_times.append((0.0, 0.0))
            self.completed.append(False)
            self.closed_at.append(0.0)
            call = len(self.sent_deltas) - 1
        try:
            async for event in self._events(answer, reply, call):
                yield event
            self.completed[call] = True
        finally:  # also when the client drops the connection (the generator is cancelled)
            self.closed_at[call] = time.monotonic()

    async def _events(self, answer: Answer, reply: Reply, call: int) -> Any:
        if reply.first_delay:
            await anyio.sleep(reply.first_delay)
        start = {
            "type": "message_start",
            "message": {
                "id": answer.id, "type": "message", "role": "assistant", "model": answer.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**answer.usage, "output_tokens": 1},
            },
        }
        yield _sse(start)
        for index, thought in enumerate(answer.thoughts):
            for event in _thinking_events(thought, index):
                if reply.delay and event["type"] == "content_block_delta":
                    await anyio.sleep(reply.delay)
                yield _sse(event)
        text_index = len(answer.thoughts)
        text_block = bool(answer.deltas) or not reply.tools
        if text_block:
            yield _sse({"type": "content_block_start", "index": text_index,
                        "content_block": {"type": "text", "text": ""}})
        for i, d in enumerate(answer.deltas):
            if reply.fail_after is not None and i == reply.fail_after:
                yield _sse({"type": "error",
                            "error": {"type": "overloaded_error", "message": "fake mid-stream"}})
                return
            if reply.pause_after is not None and i == reply.pause_after:
                await anyio.sleep(reply.pause)
            if reply.delay:
                await anyio.sleep(reply.delay)
            yield _sse({"type": "content_block_delta", "index": text_index,
                        "delta": {"type": "text_delta", "text": d}})
            self.sent_deltas[call] += 1
            first = self.send_times[call][0] or time.monotonic()
            self.send_times[call] = (first, time.monotonic())
        if text_block:
            yield _sse({"type": "content_block_stop", "index": text_index})
        for i, tool in enumerate(reply.tools):
            for event in _tool_events(tool, i, text_index + int(text_block) + i, answer.id):
                if reply.delay:
                    await anyio.sleep(reply.delay)
                yield _sse(event)
        yield _sse({"type": "message_delta",
                    "delta": {"stop_reason": answer.stop, "stop_sequence": answer.stop_seq},
                    "usage": answer.output})
        yield _sse({"type": "message_stop"})


def describe_refusal(body: Any, message: str, position: int | None = None) -> str:
    """One refusal for a failure message: which request (its place among the test's model
    calls, the model, the last user text) and why."""
    request = body if isinstance(body, dict) else {}
    asked = last_user_text(request) if isinstance(request.get("messages"), list) else ""
    asked = asked if len(asked) <= 80 else asked[:77] + "..."
    where = f"call {position + 1}, " if position is not None else ""
    return f"- {where}model {request.get('model')!r}, last user text {asked!r}: {message}"


def _position(calls: list[Any], body: Any) -> int | None:
    return next((i for i, call in enumerate(calls) if call is body), None)


def _error(status: int, kind: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """An error in the real API's shape, with the header that stops the CLI's retries."""
    request_id = f"req_fake{uuid.uuid4().hex[:20]}"
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id},
        status_code=status,
        headers={"x-should-retry": "false", "request-id": request_id, **(headers or {})},
    )


@dataclass
class Thought:
    """One thinking or redacted_thinking block of an answer: what streams, what it ends as."""

    block: dict[str, Any]  # the finished block, as a non-streamed answer carries it
    pieces: list[str]  # its thinking_delta texts (none when display is omitted, or redacted)
    tokens: int  # the thinking it stands for, one word one token


@dataclass
class Answer:
    id: str
    model: str
    deltas: list[str]
    stop: str
    stop_seq: str | None
    usage: dict[str, int]
    output: dict[str, Any]  # output_tokens, and output_tokens_details when it thought
    thoughts: list[Thought]


def _thoughts(reply: Reply, body: dict[str, Any], response_id: str) -> list[Thought]:
    """The thinking blocks that open the answer, signed.

    Thinking appears only when the request turns it on.  A manual-mode (``enabled``) model
    always opens with thinking, so one is made up when the reply scripts none; an adaptive one
    thinks only when scripted.  Display "omitted" keeps the text out (the signature still comes).
    """
    mode = thinking_mode(body)
    if mode is None:
        return []
    pieces = list(reply.thinking)
    if not pieces and mode == "enabled":
        pieces = ["Thinking about: " + (last_user_text(body) or "the tool results")]
    total = int(bool(pieces)) + reply.redacted
    thoughts: list[Thought] = []
    if pieces:
        text = "".join(pieces)
        shown = shows_thinking(body)
        signature = sign("thinking", response_id, 0, total, text if shown else None)
        thoughts.append(Thought(
            {"type": "thinking", "thinking": text if shown else "", "signature": signature},
            pieces if shown else [], len(text.split())))
    for index in range(len(thoughts), total):
        data = sign("redacted_thinking", response_id, index, total, None)
        thoughts.append(Thought({"type": "redacted_thinking", "data": data}, [], 1))
    return thoughts


def _message(answer: Answer, reply: Reply) -> dict[str, Any]:
    text = "".join(answer.deltas)
    content = [t.block for t in answer.thoughts]
    content += [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": _tool_id(t, i, answer.id), "name": t["name"],
                 "input": t["input"]} for i, t in enumerate(reply.tools)]
    return {
        "id": answer.id, "type": "message", "role": "assistant", "model": answer.model,
        "content": content, "stop_reason": answer.stop, "stop_sequence": answer.stop_seq,
        "usage": {**answer.usage, **answer.output},
    }


def _thinking_events(thought: Thought, index: int) -> list[dict[str, Any]]:
    """A thinking block: its deltas, then the signature the real API closes it with; or a
    redacted_thinking block, whole in its start event."""
    block = thought.block
    if block["type"] == "redacted_thinking":
        return [{"type": "content_block_start", "index": index, "content_block": block},
                {"type": "content_block_stop", "index": index}]
    return [
        {"type": "content_block_start", "index": index,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        *[{"type": "content_block_delta", "index": index,
           "delta": {"type": "thinking_delta", "thinking": p}} for p in thought.pieces],
        {"type": "content_block_delta", "index": index,
         "delta": {"type": "signature_delta", "signature": block["signature"]}},
        {"type": "content_block_stop", "index": index},
    ]


def _tool_id(tool: dict[str, Any], i: int, response: str) -> str:
    """The scripted id, else one unique to this response, as the real API's ids are."""
    return str(tool.get("id") or f"toolu_{response.removeprefix('msg_')}_{i}")


def _tool_events(tool: dict[str, Any], i: int, index: int,
                 response: str) -> list[dict[str, Any]]:
    """A tool_use block whose arguments arrive in three input_json_delta pieces."""
    arguments = json.dumps(tool["input"])
    cut = max(1, len(arguments) // 3)
    pieces = [arguments[:cut], arguments[cut:2 * cut], arguments[2 * cut:]]
    return [
        {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": _tool_id(tool, i, response), "name": tool["name"],
            "input": {}}},
        *[{"type": "content_block_delta", "index": index,
           "delta": {"type": "input_json_delta", "partial_json": p}} for p in pieces if p],
        {"type": "content_block_stop", "index": index},
    ]
