"""PURE: Claude Agent SDK messages to an OpenAI Chat Completion or its stream of chunks.

One state machine serves both: `ResponseBuilder.feed()` returns the chunks a message yields
(streaming), and `ResponseBuilder.completion()` assembles the whole answer (non-streaming).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from claude_agent_sdk import AssistantMessage, ResultMessage, StreamEvent, SystemMessage

from .._chat.tool_calls import ToolCallTracker
from .._chat.tools import ToolConfig
from .._engine.answer_blocks import BlockRecorder
from .._exceptions import ClaudeOpenAIError, UpstreamError, upstream_error

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}
_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage counts as OpenAI's: prompt tokens include cache reads and writes."""
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    prompt = (int(usage.get("input_tokens") or 0) + cache_read
              + int(usage.get("cache_creation_input_tokens") or 0))
    completion = int(usage.get("output_tokens") or 0)
    details = usage.get("output_tokens_details") or {}
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "completion_tokens_details": {"reasoning_tokens": int(details.get("thinking_tokens") or 0)},
    }


class ResponseBuilder:
    """Accumulates one run of the CLI; see the module docstring."""

    def __init__(self, *, model: str | None, include_usage: bool = False,
                 tools: ToolConfig | None = None, id: str | None = None,
                 reasoning: bool = True) -> None:
        self.id = id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model or "claude"
        self.include_usage = include_usage
        self.text: list[str] = []
        self.reasoning: list[str] = []  # thinking text, shown as `reasoning_content`
        self.show_reasoning = reasoning
        self.recorder = BlockRecorder()  # the answer's exact blocks (see _thinking_store)
        self.stop_reason: str | None = None
        self.stream_usage: dict[str, int] = {}
        self.thinking_tokens = 0  # reported by the API in message_delta usage
        self.result: ResultMessage | None = None
        self.error_kind: str | None = None
        self.retry_after: float | None = None
        self.calls = ToolCallTracker(tools or ToolConfig())
        self._role_sent = False
        self._block_of_reasoning: int | None = None

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, message: Any) -> list[dict[str, Any]]:
        """Take one SDK message; return the chunks it produces (possibly none)."""
        if isinstance(message, StreamEvent):
            return self._on_event(message.event)
        if isinstance(message, AssistantMessage) and message.error:
            self.error_kind = message.error
        elif isinstance(message, SystemMessage) and message.subtype == "api_retry":
            delay = message.data.get("retry_delay_ms")
            self.retry_after = delay / 1000 if isinstance(delay, int | float) else None
        elif isinstance(message, ResultMessage):
            self.result = message
            self.raise_for_error()
            self._check_structured()
            return self._final_chunks()
        return []

    def _on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        self.recorder.event(event)
        if kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model") or self.model
            self._add_usage(message.get("usage") or {}, _INPUT_KEYS)
        elif kind == "content_block_start":
            return self._chunks(self.calls.start(event.get("index", -1),
                                                 event.get("content_block") or {}))
        elif kind == "content_block_delta":
            return self._chunks(self._on_delta(event.get("index", -1), event.get("delta") or {}))
        elif kind == "content_block_stop":
            signed = self.recorder.finished_thinking(event.get("index", -1))
            carried = [{"thinking_blocks": [signed]}] if signed else []
            return self._chunks(carried + self.calls.stop(event.get("index", -1)))
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            usage = event.get("usage") or {}
            self._add_usage(usage, ("output_tokens",))
            thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens")
            if isinstance(thinking, int):
                self.thinking_tokens += thinking
        return []

    def _on_delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        if delta.get("type") == "input_json_delta":
            return self.calls.delta(index, str(delta.get("partial_json") or ""))
        if delta.get("type") == "thinking_delta":
            thought = str(delta.get("thinking") or "")
            if not thought or not self.show_reasoning:
                return []
            if self.reasoning and self._block_of_reasoning != index:
                thought = "\n\n" + thought  # a new thinking block: set apart, as on the message
            self._block_of_reasoning = index
            self.reasoning.append(thought)
            return [{"reasoning_content": thought}]
        text = delta.get("text") if delta.get("type") == "text_delta" else None
        if not text or self.calls.structured:  # with response_format only the JSON is content
            return []
        self.text.append(text)
        return [{"content": text}]

    def _add_usage(self, usage: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            value = usage.get(key)
            if isinstance(value, int):
                self.stream_usage[key] = self.stream_usage.get(key, 0) + value

    # -- errors --------------------------------------------------------------------------------
    def raise_for_error(self) -> None:
        result = self.result
        if result is None or not result.is_error or self.stop_reason == "max_tokens":
            return
        if result.subtype == "error_max_budget_usd" and result.api_error_status is None:
            return  # the one-call guard (see _options.ONE_CALL_BUDGET), not a failure
        detail = result.result or "; ".join(result.errors or []) or result.subtype
        if result.api_error_status is None and self.error_kind is None:
            raise UpstreamError(f"The Claude Code CLI failed: {detail}", code="cli_error")
        raise upstream_error(result.api_error_status, self.error_kind, detail, self.retry_after)

    def _check_structured(self) -> None:
        if self.calls.structured and not self.calls.calls and not self.calls.json:
            raise UpstreamError(
                "The model did not produce output matching response_format "
                f"(it stopped with '{self.stop_reason}'); retry the request.",
                code="structured_output_failed")

    def incomplete_error(self) -> ClaudeOpenAIError:
        return UpstreamError("The Claude Code CLI ended without a result.", code="cli_error")

    # -- output --------------------------------------------------------------------------------
    @property
    def finish_reason(self) -> str:
        if self.calls.finish_reason and self.stop_reason != "max_tokens":
            return self.calls.finish_reason
        if self.stop_reason == "tool_use":  # the CLI's StructuredOutput call, not a client's
            return "stop"
        return FINISH_REASONS.get(self.stop_reason or "end_turn", "stop")

    @property
    def usage(self) -> dict[str, Any]:
        # The upstream's own counts, from the stream: a run the CLI stopped (budget guard,
        # interrupt) reports zeros in its ResultMessage.
        counted: dict[str, Any] = self.stream_usage
        if not counted and self.result is not None and self.result.usage:
            counted = self.result.usage
        elif self.thinking_tokens:
            counted = {**counted, "output_tokens_details": {"thinking_tokens":
                                                            self.thinking_tokens}}
        return openai_usage(counted)

    def _chunks(self, deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._chunk(self._delta(**delta)) for delta in deltas]

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

    def _content(self) -> str | None:
        content = "".join(self.calls.json if self.calls.structured else self.text)
        return None if not content and self.calls.calls else content

    def _reasoning_fields(self) -> dict[str, Any]:
        """``reasoning_content`` (the text shown), and the signed blocks as LiteLLM carries
        them (``thinking_blocks``), so that a client may send them back with the message."""
        fields: dict[str, Any] = {}
        if self.reasoning:
            fields["reasoning_content"] = "".join(self.reasoning)
        if signed := self.recorder.thinking():
            fields["thinking_blocks"] = signed
        return fields

    def completion(self) -> dict[str, Any]:
        """The whole Chat Completion; call after the ResultMessage was fed."""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self._content(),
                            "refusal": None, "annotations": [], **self._reasoning_fields(),
                            **self.calls.message_fields()},
                "logprobs": None,
                "finish_reason": self.finish_reason,
            }],
            "usage": self.usage,
            "service_tier": "default",
            "system_fingerprint": None,
        }
