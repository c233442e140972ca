"""PURE: an `Answer`'s events as an OpenAI Chat Completion or its stream of chunks.

One state machine serves both: `CompletionBuilder.feed()` returns the chunks a message yields
(streaming), and `CompletionBuilder.completion()` assembles the whole answer (non-streaming).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .._engine.answer import (
    Answer,
    CallDelta,
    CallStarted,
    Event,
    Finished,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    Usage,
    usage_of,
)
from .._engine.tools import ToolConfig

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}


def chat_usage(usage: Usage) -> dict[str, Any]:
    """Usage as Chat Completions reports it: prompt tokens include cache reads and writes."""
    prompt = usage.prompt_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def openai_usage(counts: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage counts as Chat Completions usage."""
    return chat_usage(usage_of(counts))


class CompletionBuilder:
    """Formats one `Answer` for Chat Completions; see the module docstring."""

    def __init__(self, *, model: str | None, include_usage: bool = False,
                 tools: ToolConfig | None = None, id: str | None = None,
                 reasoning: bool = True) -> None:
        self.answer = Answer(model=model, tools=tools, reasoning=reasoning)
        self.id = id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.include_usage = include_usage
        self.legacy = self.answer.tools.legacy
        self._role_sent = False
        self._thinking_block: int | None = None

    @property
    def recorder(self) -> Any:
        return self.answer.recorder

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, message: Any) -> list[dict[str, Any]]:
        """Take one SDK message; return the chunks it produces (possibly none)."""
        chunks: list[dict[str, Any]] = []
        for event in self.answer.feed(message):
            if isinstance(event, Finished):
                chunks += self._final_chunks()
            else:
                chunks += [self._chunk(self._delta(**d)) for d in self._deltas(event)]
        return chunks

    def _deltas(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, TextDelta):
            return [{"content": event.gap + event.text}]
        if isinstance(event, ThinkingDelta):
            text = event.text
            if self._thinking_block not in (None, event.block):
                text = "\n\n" + text  # a new thinking block: set apart, as on the message
            self._thinking_block = event.block
            return [{"reasoning_content": text}]
        if isinstance(event, ThinkingDone):
            return [{"thinking_blocks": [event.signed]}]
        if isinstance(event, CallStarted):
            return self._call_delta(event.call.index, {"name": event.call.name, "arguments": ""})
        if isinstance(event, CallDelta):
            return self._call_delta(event.call.index, {"arguments": event.fragment})
        return []

    def _call_delta(self, k: int, function: dict[str, str]) -> list[dict[str, Any]]:
        if self.legacy:
            return [{"function_call": function}] if k == 0 else []
        entry: dict[str, Any] = {"index": k, "function": function}
        if "name" in function:
            entry.update(id=self.answer.calls[k].id, type="function")
        return [{"tool_calls": [entry]}]

    # -- output --------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.answer.model

    @property
    def finish_reason(self) -> str:
        answer = self.answer
        if answer.calls and answer.stop_reason != "max_tokens":
            return "function_call" if self.legacy else "tool_calls"
        if answer.stop_reason == "tool_use":  # the CLI's StructuredOutput call, not a client's
            return "stop"
        return FINISH_REASONS.get(answer.stop_reason or "end_turn", "stop")

    @property
    def usage(self) -> dict[str, Any]:
        return chat_usage(self.answer.usage)

    def _delta(self, **fields: Any) -> dict[str, Any]:
        if not self._role_sent:
            self._role_sent = True
            return {"role": "assistant", **fields}
        return fields

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    def _final_chunks(self) -> list[dict[str, Any]]:
        chunks = [self._chunk(self._delta(content="") if not self._role_sent else {},
                              self.finish_reason)]
        if self.include_usage:
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = self.usage
            chunks.append(chunk)
        return chunks

    def _message_fields(self) -> dict[str, Any]:
        """``content``, ``reasoning_content`` (the text shown), the signed blocks as LiteLLM
        carries them (``thinking_blocks``), and ``tool_calls`` (or legacy ``function_call``)."""
        answer = self.answer
        content = "".join(answer.text)
        fields: dict[str, Any] = {"content": None if not content and answer.calls else content}
        if answer.reasoning:
            fields["reasoning_content"] = "\n\n".join(answer.reasoning)
        if signed := answer.thinking():
            fields["thinking_blocks"] = signed
        if answer.calls and self.legacy:
            first = answer.calls[0]
            fields["function_call"] = {"name": first.name, "arguments": first.arguments}
        elif answer.calls:
            fields["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}} for c in answer.calls]
        return fields

    def completion(self, *, cut_short: bool = False) -> dict[str, Any]:
        """The whole Chat Completion; call after the ResultMessage was fed (or, ``cut_short``,
        what a stream that never finished had sent: no finish reason)."""
        fields = self._message_fields()
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": fields.pop("content"),
                            "refusal": None, "annotations": [], **fields},
                "logprobs": None,
                "finish_reason": None if cut_short else self.finish_reason,
            }],
            "usage": self.usage,
            "service_tier": "default",
            "system_fingerprint": None,
        }

    final = completion
