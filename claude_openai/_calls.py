"""One request through a front end (Chat Completions or Responses): parsed, run, observed.

The library functions of both APIs and the server's routes share this: a `FrontEnd` turns the
client's body into a `ClaudeRequest` and makes the `Builder` that formats the answer; the rest
(the run, its trace, log line, metrics and transcript) is the same for both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from typing import Any, Protocol

from ._config import Config
from ._engine.request import ClaudeRequest
from ._engine.run import Builder, answer
from ._engine.runtime import portal
from ._server.observe import Observer
from ._server.sse import Framing
from ._server.trace import Trace


class FrontEnd(Protocol):
    def prepare(self, body: Any, config: Config, trace: Trace, *,
                stream: bool) -> tuple[ClaudeRequest, Builder]:
        """Validate ``body`` (raising `InvalidRequestError` naming the parameter) into the
        request to run, and make the builder of its answer, attached to ``trace``."""
        ...

    def framing(self, builder: Builder) -> Framing:
        """How the answer's stream goes on the wire (see ``_server.sse``)."""
        ...


async def run_to_end(request: ClaudeRequest, config: Config, builder: Builder,
                     trace: Trace) -> Builder:
    async with aclosing(answer(request, config, builder)) as chunks:
        async for chunk in chunks:
            trace.saw([chunk])  # when the first token arrived
    return builder


async def call(front: FrontEnd, body: Mapping[str, Any], config: Config | None) -> dict[str, Any]:
    """The whole answer to ``body``, in the front end's wire shape."""
    config = config or Config()
    observer, trace = Observer(config), Trace(body=dict(body))
    try:
        request, builder = front.prepare(dict(body), config, trace, stream=False)
        await run_to_end(request, config, builder, trace)
    except BaseException as exc:
        await observer.fail(trace, exc)
        raise
    await observer.finish(trace, 200)
    return builder.final()


async def stream(front: FrontEnd, body: Mapping[str, Any],
                 config: Config | None) -> AsyncGenerator[dict[str, Any], None]:
    """The answer to ``body`` as the front end's stream chunks; closing it interrupts the run."""
    config = config or Config()
    observer, trace = Observer(config), Trace(body=dict(body), stream=True)
    try:
        request, builder = front.prepare(dict(body), config, trace, stream=True)
    except BaseException as exc:
        await observer.fail(trace, exc)
        raise
    async with aclosing(observer.watch(trace, answer(request, config, builder))) as chunks:
        async for chunk in chunks:
            yield chunk


def refuse_inside_event_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() cannot run inside a running event loop; use `await a{name}(...)` instead."
    )


def iterate_in_portal(chunks: AsyncGenerator[dict[str, Any], None]) -> Iterator[dict[str, Any]]:
    """An async stream as a plain iterator, run on the sync functions' background loop."""
    loop = portal()
    try:
        while True:
            pending = loop.start_task_soon(chunks.__anext__)
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            except BaseException:  # e.g. Ctrl-C while waiting: end the step before closing
                pending.cancel()
                concurrent.futures.wait([pending])
                raise
            yield chunk
    finally:
        loop.call(chunks.aclose)
