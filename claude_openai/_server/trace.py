"""`Trace`: one chat request as an operator sees it: timings, outcome, tokens and cost.

The log line, the metrics and the transcript files are all read from it; none of them ever
holds an API key (a trace never sees the request's headers).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._engine.answer import Usage
from .._engine.run import Builder
from .._exceptions import ClaudeOpenAIError

CLIENT_GONE = 499  # nginx's "client closed request": nobody read the answer


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def carries_token(chunk: dict[str, Any]) -> bool:
    """True for a chunk with content, reasoning or a tool call, not just a role or a finish
    (a Chat Completions chunk, or a Responses event: its deltas)."""
    if isinstance(chunk.get("type"), str):
        return str(chunk["type"]).endswith(".delta")
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if (delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")
                or delta.get("function_call")):
            return True
    return False


def status_of(exc: BaseException) -> int:
    """The HTTP status a request ended with when ``exc`` ended it."""
    if isinstance(exc, ClaudeOpenAIError):
        return exc.status_code
    if isinstance(exc, GeneratorExit | asyncio.CancelledError):  # the caller went away
        return CLIENT_GONE
    return 500


def error_body(exc: BaseException | None) -> dict[str, Any] | None:
    """The OpenAI error object the client was sent (never a traceback)."""
    if exc is None or status_of(exc) == CLIENT_GONE:
        return None
    if not isinstance(exc, ClaudeOpenAIError):
        exc = ClaudeOpenAIError("The server had an internal error.")
    error: dict[str, Any] = exc.to_dict()["error"]
    return error


@dataclass(eq=False)
class Trace:
    request_id: str | None = None
    id: str = field(default_factory=new_id)  # the completion's id too
    body: Any = None  # the request body, once it parsed as JSON
    stream: bool = False
    builder: Builder | None = None
    started_at: float = field(default_factory=time.time)  # wall clock, for the transcript
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None  # seconds from the start to the first content/tool delta
    latency: float | None = None  # seconds from the start to the end; None while running
    chunks: int = 0  # stream chunks handed to the client
    status: int | None = None
    error: dict[str, Any] | None = None
    principal: Any = None  # who asks (`_agent.request.Principal`); None: in-process
    workspace: str | None = None  # the agent workspace of an ``agent:`` request
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers

    def saw(self, chunks: Iterable[dict[str, Any]]) -> None:
        for chunk in chunks:
            if self.first_token is None and carries_token(chunk):
                self.first_token = time.monotonic() - self.started

    def end(self, status: int, exc: BaseException | None = None) -> bool:
        """Record the outcome; False when the trace had already ended (the first end counts)."""
        if self.status is not None:
            return False
        self.status, self.error = status, error_body(exc)
        self.latency = time.monotonic() - self.started
        return True

    @property
    def model(self) -> str | None:
        return self.builder.answer.model if self.builder is not None else None

    @property
    def cost_usd(self) -> float | None:
        """What the Claude Code CLI reckoned the run cost, when it got that far."""
        result = self.builder.answer.result if self.builder is not None else None
        return result.total_cost_usd if result is not None else None

    @property
    def usage(self) -> Usage | None:
        """The run's token counts, once it reported them."""
        if self.builder is None or self.builder.answer.result is None:
            return None
        return self.builder.answer.usage
