"""The public functions: async implementations and their sync twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any

from .._chat.completion import ResponseBuilder
from .._chat.request import ChatRequest, parse_request
from .._config import Config
from .._engine.runtime import pool_for, portal
from .._engine.session import run_cold
from .._engine.thinking import plan, remember
from .._server.observe import Observer
from .._server.trace import Trace


def run_claude(chat: ChatRequest, config: Config) -> AsyncGenerator[Any, None]:
    """A warm process when the pool is on (the default), else a process of its own."""
    return pool_for(config).run(chat) if config.pool_cap > 0 else run_cold(chat, config)


async def answer(chat: ChatRequest, config: Config,
                 builder: ResponseBuilder) -> AsyncGenerator[dict[str, Any], None]:
    """Run ``chat`` with its earlier thinking restored; feed ``builder``; yield its chunks.
    A finished answer is remembered with its thinking blocks, for the turns after it."""
    chat = plan(chat, config)
    async with aclosing(run_claude(chat, config)) as messages:
        async for message in messages:
            for chunk in builder.feed(message):
                yield chunk
    if builder.result is None:
        raise builder.incomplete_error()
    remember(chat, config, builder.recorder.blocks, builder.model)


def new_builder(chat: ChatRequest, config: Config, trace: Trace, *,
                stream: bool) -> ResponseBuilder:
    """The answer's builder, attached to ``trace``, whose id it takes."""
    trace.stream = stream
    trace.builder = ResponseBuilder(model=chat.model or config.model, id=trace.id,
                                    include_usage=stream and chat.include_usage, tools=chat.tools,
                                    reasoning=config.reasoning != "off")
    return trace.builder


async def run_completion(chat: ChatRequest, config: Config, builder: ResponseBuilder,
                         trace: Trace) -> ResponseBuilder:
    async with aclosing(answer(chat, config, builder)) as chunks:
        async for chunk in chunks:
            trace.saw([chunk])  # when the first token arrived
    return builder


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
    config = config or Config()
    observer, trace = Observer(config), Trace(body=dict(request))
    try:
        chat = parse_request(dict(request), config)
        builder = new_builder(chat, config, trace, stream=False)
        await run_completion(chat, config, builder, trace)
    except BaseException as exc:
        await observer.fail(trace, exc)
        raise
    await observer.finish(trace, 200)
    return builder.completion()


async def astream_chat_completion(
    request: Mapping[str, Any], *, config: Config | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """Like `achat_completion`, but yields ``chat.completion.chunk`` dicts as tokens arrive.

    Close it early (``contextlib.aclosing``) and the Claude run is interrupted at once.
    """
    config = config or Config()
    observer, trace = Observer(config), Trace(body=dict(request), stream=True)
    try:
        chat = parse_request(dict(request), config)
    except BaseException as exc:
        await observer.fail(trace, exc)
        raise
    run = answer(chat, config, new_builder(chat, config, trace, stream=True))
    async with aclosing(observer.watch(trace, run)) as chunks:
        async for chunk in chunks:
            yield chunk


def _refuse_inside_event_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() cannot run inside a running event loop; use `await a{name}(...)` instead."
    )


def chat_completion(request: Mapping[str, Any], *, config: Config | None = None) -> dict[str, Any]:
    """Sync twin of `achat_completion`, for plain scripts."""
    _refuse_inside_event_loop("chat_completion")
    result: dict[str, Any] = portal().call(partial(achat_completion, request, config=config))
    return result


def stream_chat_completion(
    request: Mapping[str, Any], *, config: Config | None = None
) -> Iterator[dict[str, Any]]:
    """Sync twin of `astream_chat_completion`; close it early to interrupt the run."""
    _refuse_inside_event_loop("stream_chat_completion")
    return _iterate_in_portal(request, config)


def _iterate_in_portal(
    request: Mapping[str, Any], config: Config | None
) -> Iterator[dict[str, Any]]:
    loop = portal()  # the sync functions' one background event loop (see _runtime)
    chunks = astream_chat_completion(request, config=config)
    try:
        while True:
            try:
                chunk = loop.call(chunks.__anext__)
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        loop.call(chunks.aclose)
