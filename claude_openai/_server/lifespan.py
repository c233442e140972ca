"""A host app's lifespan helper: the shutdown grace `claude-openai serve` gives, under `mount()`.

uvicorn (and servers like it) stop accepting connections on SIGTERM or Ctrl-C and wait for the
requests in flight; the app's lifespan ends only after that.  So the helper chains a handler in
front of the server's own for those signals: it starts the mounted routes' `Drain`, and their
requests in flight get ``shutdown_grace`` seconds, then are cut off (their Claude runs ended,
their clients told with a 503), so the server's wait ends.  On the way out it puts the server's
handlers back and ends the warm Claude processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

from starlette.applications import Starlette

from .._engine.runtime import aclose_pools
from .drain import Drain

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def shutdown_grace(mounted: Starlette) -> AsyncIterator[None]:
    """Use in your app's lifespan, around its ``yield``, with what `mount()` returned::

        api = mount(app, "/openai/v1")

        @asynccontextmanager
        async def lifespan(app):
            async with shutdown_grace(api):
                yield

    Run the server with a graceful-shutdown timeout above the grace (uvicorn's
    ``timeout_graceful_shutdown``), or it may cut the requests off first.
    """
    drain: Drain = mounted.state.drain
    loop = asyncio.get_running_loop()
    chained: dict[int, Any] = {}
    tasks: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)

    async def begin_drain() -> None:  # in a task: the drain reads the loop's clock via anyio
        drain.begin()

    def start() -> None:
        task = loop.create_task(begin_drain())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def begin(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(start)
        previous = chained.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():  # signals live there only
        for signum in SIGNALS:
            chained[signum] = signal.signal(signum, begin)
    try:
        yield
    finally:
        for signum, previous in chained.items():
            signal.signal(signum, previous)
        await aclose_pools()
