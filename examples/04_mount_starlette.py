"""Add the OpenAI-compatible routes to your own Starlette app with `mount`.

The app keeps its own ``/`` route; the Chat Completions API lives under ``/openai/v1``
(``/openai/v1/chat/completions``, ``/openai/v1/models``, ``/openai/v1/health``).

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

from claude_openai import Config, aclose_pools, mount


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("my app")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await aclose_pools()  # end the warm Claude processes with the app


app = Starlette(routes=[Route("/", home)], lifespan=lifespan)
mount(app, "/openai/v1", config=Config.from_env())

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
