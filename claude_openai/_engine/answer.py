"""PURE: one run of the CLI, read from its SDK messages, as events both front ends format.

`Answer.feed()` takes each SDK message and returns the `Event`s it produced: text, thinking,
tool calls (arguments fragment by fragment, as the model writes them), in the order the model
wrote them.  The Answer also keeps the whole: text, thinking, calls, the exact content blocks
(`BlockRecorder`), usage, the stop reason and the CLI's result; a failed run raises the
`ClaudeOpenAIError` its client should get.  Chat Completions and the Responses API each turn
these events into their own wire shapes (``_chat.completion``, ``_responses.events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import AssistantMessage, ResultMessage, StreamEvent, SystemMessage

from .._exceptions import ClaudeOpenAIError, UpstreamError, upstream_error
from .answer_blocks import BlockRecorder
from .tools import STRUCTURED_OUTPUT_TOOL, ToolConfig, ToolSpec

_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
BLOCKS_PER_MESSAGE = 10_000  # block numbers are unique over a run of several upstream messages


@dataclass
class Call:
    """One tool call Claude made to a client tool."""

    index: int  # among this answer's calls
    id: str
    name: str  # as the client named it
    spec: ToolSpec | None
    arguments: str = ""  # JSON text, as the model wrote it


@dataclass(frozen=True)
class TextDelta:
    text: str  # answer text (with a response format: the JSON)
    # what sets it apart from the text before it (an agent's later turn: a blank line); part
    # of one message's content, not the start of a message of its own (Responses API items)
    gap: str = ""


@dataclass(frozen=True)
class ThinkingDelta:
    text: str  # summarized thinking, as shown
    block: int  # which thinking block (unique in the run)


@dataclass(frozen=True)
class ThinkingDone:
    signed: dict[str, Any]  # the finished block, signed (thinking or redacted_thinking)
    block: int


@dataclass(frozen=True)
class CallStarted:
    call: Call


@dataclass(frozen=True)
class CallDelta:
    call: Call
    fragment: str


@dataclass(frozen=True)
class CallDone:
    call: Call


@dataclass(frozen=True)
class Finished:
    """The CLI's result arrived and the answer succeeded."""


Event = TextDelta | ThinkingDelta | ThinkingDone | CallStarted | CallDelta | CallDone | Finished


@dataclass
class Usage:
    """The upstream's token counts (Anthropic's: input excludes cache reads and writes)."""

    input_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """All prompt tokens, as OpenAI counts them: cache reads and writes included."""
        return self.input_tokens + self.cache_read + self.cache_write


def usage_of(counts: dict[str, Any]) -> Usage:
    details = counts.get("output_tokens_details") or {}
    return Usage(int(counts.get("input_tokens") or 0),
                 int(counts.get("cache_read_input_tokens") or 0),
                 int(counts.get("cache_creation_input_tokens") or 0),
                 int(counts.get("output_tokens") or 0),
                 int(details.get("thinking_tokens") or 0))


class Answer:
    """Accumulates one run; see the module docstring."""

    def __init__(self, *, model: str | None, tools: ToolConfig | None = None,
                 reasoning: bool = True) -> None:
        self.model = model or "claude"
        self.tools = tools or ToolConfig()
        self.show_reasoning = reasoning
        self.text: list[str] = []  # with a response format: the JSON, not the prose
        self.reasoning: list[str] = []  # the thinking shown, one string per thinking block
        self._thinking_block: int | None = None
        self.calls: list[Call] = []
        self.recorder = BlockRecorder()  # the answer's exact blocks (see thinking_store)
        self.stop_reason: str | None = None
        self.stream_usage: dict[str, int] = {}
        self.thinking_tokens = 0  # reported by the API in message_delta usage
        self.result: ResultMessage | None = None
        self.error_kind: str | None = None
        self.retry_after: float | None = None
        self._blocks: dict[int, Call | None] = {}  # tool_use block -> call (None: structured)
        self._base = -BLOCKS_PER_MESSAGE  # the current upstream message's first block number

    @property
    def structured(self) -> bool:
        return self.tools.schema is not None

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, message: Any) -> list[Event]:
        """Take one SDK message; return the events it produces (possibly none)."""
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
            return [Finished()]
        return []

    def _on_event(self, event: dict[str, Any]) -> list[Event]:
        kind = event.get("type")
        index = event.get("index", -1)
        self.recorder.event(event)
        if kind == "message_start":
            self._base += BLOCKS_PER_MESSAGE
            self._blocks = {}
            message = event.get("message") or {}
            self.model = message.get("model") or self.model
            self._add_usage(message.get("usage") or {}, _INPUT_KEYS)
        elif kind == "content_block_start":
            return self._start(index, event.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._on_delta(index, event.get("delta") or {})
        elif kind == "content_block_stop":
            return self._stop(index)
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            usage = event.get("usage") or {}
            self._add_usage(usage, ("output_tokens",))
            thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens")
            if isinstance(thinking, int):
                self.thinking_tokens += thinking
        return []

    def _start(self, index: int, block: dict[str, Any]) -> list[Event]:
        if block.get("type") != "tool_use":
            return []
        name = str(block.get("name"))
        if self.structured and name == STRUCTURED_OUTPUT_TOOL:
            self._blocks[index] = None
            return []
        spec = self.tools.spec(name)
        call = Call(len(self.calls), str(block.get("id")), spec.name if spec else name, spec)
        self.calls.append(call)
        self._blocks[index] = call
        return [CallStarted(call)]

    def _on_delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        kind = delta.get("type")
        if kind == "input_json_delta":
            fragment = str(delta.get("partial_json") or "")
            if index not in self._blocks or not fragment:
                return []
            call = self._blocks[index]
            if call is None:  # the response format's JSON is the answer's text
                self.text.append(fragment)
                return [TextDelta(fragment)]
            call.arguments += fragment
            return [CallDelta(call, fragment)]
        if kind == "thinking_delta":
            thought = str(delta.get("thinking") or "")
            if not thought or not self.show_reasoning:
                return []
            block = self._base + index
            if block != self._thinking_block:
                self.reasoning.append("")
                self._thinking_block = block
            self.reasoning[-1] += thought
            return [ThinkingDelta(thought, block)]
        text = delta.get("text") if kind == "text_delta" else None
        if not text or self.structured:  # with a response format only the JSON is text
            return []
        self.text.append(text)
        return [TextDelta(text)]

    def _stop(self, index: int) -> list[Event]:
        signed = self.recorder.finished_thinking(index)
        if signed:
            return [ThinkingDone(signed, self._base + index)]
        call = self._blocks.get(index)
        if call is None:
            return []
        events: list[Event] = []
        if not call.arguments:  # a call without arguments still sends valid JSON
            call.arguments = "{}"
            events.append(CallDelta(call, "{}"))
        return [*events, CallDone(call)]

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
            return  # the one-call guard (see options.ONE_CALL_BUDGET), not a failure
        detail = result.result or "; ".join(result.errors or []) or result.subtype
        if result.api_error_status is None and self.error_kind is None:
            raise UpstreamError(f"The Claude Code CLI failed: {detail}", code="cli_error")
        raise upstream_error(result.api_error_status, self.error_kind, detail, self.retry_after)

    def _check_structured(self) -> None:
        if self.structured and not self.calls and not self.text:
            raise UpstreamError(
                "The model did not produce output matching the requested format "
                f"(response_format / text.format; it stopped with '{self.stop_reason}'); retry "
                "the request.",
                code="structured_output_failed")

    def incomplete_error(self) -> ClaudeOpenAIError:
        return UpstreamError("The Claude Code CLI ended without a result.", code="cli_error")

    # -- the whole -----------------------------------------------------------------------------
    @property
    def cut(self) -> bool:
        """The answer stopped at the output limit (or the context window)."""
        return self.stop_reason in ("max_tokens", "model_context_window_exceeded")

    @property
    def usage(self) -> Usage:
        # The upstream's own counts, from the stream: a run the CLI stopped (budget guard,
        # interrupt) reports zeros in its ResultMessage.
        if not self.stream_usage and self.result is not None and self.result.usage:
            return usage_of(self.result.usage)
        usage = usage_of(self.stream_usage)
        usage.reasoning_tokens = self.thinking_tokens
        return usage

    def thinking(self) -> list[dict[str, Any]]:
        """The answer's signed thinking blocks, in order."""
        return self.recorder.thinking()

