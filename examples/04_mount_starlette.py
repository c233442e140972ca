"""Add the OpenAI-compatible routes to your own Starlette app with `mount`.

The app keeps its own ``/`` route; the Chat Completions API lives under ``/openai/v1``
(``/openai/v1/chat/completions``, ``/openai/v1/models``, ``/openai/v1/health``).  Its lifespan
uses `shutdown_grace`: on Ctrl-C or SIGTERM the chat requests in flight get the configured grace
(``CLAUDE_OPENAI_SHUTDOWN_GRACE``, 8 s), then are cut off with a 503, and the warm Claude
processes end with the app.

Run it (Claude Code must be logged in for the chat route to answer)::

    python examples/04_mount_starlette.py
    curl http://127.0.0.1:8000/openai/v1/models
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from claude_openai import Config, mount, shutdown_grace


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("my app")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with shutdown_grace(api):  # ends the warm Claude processes with the app, too
        yield


app = Starlette(routes=[Route("/", home)], lifespan=lifespan)
config = Config.from_env()
api = mount(app, "/openai/v1", config=config)

if __name__ == "__main__":
    # uvicorn's own wait must outlast the grace, or it cuts the requests off first
    uvicorn.run(app, host="127.0.0.1", port=8000,
                timeout_graceful_shutdown=int(config.shutdown_grace) + 5)
