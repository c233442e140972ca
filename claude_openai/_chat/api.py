"""The Chat Completions functions: async implementations and their sync twins."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any

from .._agent.request import attach, parse_any
from .._calls import call, iterate_in_portal, refuse_inside_event_loop, stream
from .._config import Config
from .._engine.request import ClaudeRequest
from .._engine.run import Builder
from .._engine.runtime import portal
from .._server.sse import ChatFraming
from .._server.trace import Trace
from .completion import CompletionBuilder
from .request import parse_request


class ChatFrontEnd:
    """Chat Completions as a `FrontEnd` (see ``_calls``)."""

    def prepare(self, body: Any, config: Config, trace: Trace, *,
                stream: bool) -> tuple[ClaudeRequest, CompletionBuilder]:
        request = parse_any(body, config, trace.principal, partial(parse_request, config=config))
        trace.stream = stream
        trace.builder = builder = CompletionBuilder(
            model=request.model or config.model, id=trace.id, tools=request.tools,
            include_usage=stream and request.include_usage, reasoning=config.reasoning != "off")
        attach(builder, request, config, body, trace.headers)
        return request, builder

    def framing(self, builder: Builder) -> ChatFraming:
        return ChatFraming()


CHAT = ChatFrontEnd()


async def achat_completion(
    request: Mapping[str, Any], *, config: Config | None = None
) -> dict[str, Any]:
    """Answer an OpenAI Chat Completions request with Claude; returns the Chat Completion.

    Args:
        request: the JSON body a client would post to ``/v1/chat/completions``.
        config: settings; defaults to ``Config()``.  With ``transcripts_dir`` set, the
            request leaves its transcript there, as it would in the server.

    Raises:
        ClaudeOpenAIError: a subclass carrying the HTTP status and OpenAI error body.

    Example:
        >>> await achat_completion({"model": "sonnet",
        ...                         "messages": [{"role": "user", "content": "Hi"}]})
    """
    return await call(CHAT, request, config)


async def astream_chat_completion(
    request: Mapping[str, Any], *, config: Config | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """Like `achat_completion`, but yields ``chat.completion.chunk`` dicts as tokens arrive.

    Close it early (``contextlib.aclosing``) and the Claude run is interrupted at once.
    """
    async with aclosing(stream(CHAT, request, config)) as chunks:
        async for chunk in chunks:
            yield chunk


def chat_completion(request: Mapping[str, Any], *, config: Config | None = None) -> dict[str, Any]:
    """Sync twin of `achat_completion`, for plain scripts."""
    refuse_inside_event_loop("chat_completion")
    result: dict[str, Any] = portal().call(partial(achat_completion, request, config=config))
    return result


def stream_chat_completion(
    request: Mapping[str, Any], *, config: Config | None = None
) -> Iterator[dict[str, Any]]:
    """Sync twin of `astream_chat_completion`; close it early to interrupt the run."""
    refuse_inside_event_loop("stream_chat_completion")
    return iterate_in_portal(astream_chat_completion(request, config=config))
