"""Add the OpenAI-compatible routes to your own FastAPI app with `mount`.

The app keeps its own ``/`` route; the Chat Completions API lives under ``/openai/v1``
(``/openai/v1/chat/completions``, ``/openai/v1/models``, ``/openai/v1/health``).

Run it (Claude Code must be logged in for the chat route to answer)::

    python examples/05_mount_fastapi.py
    curl http://127.0.0.1:8000/openai/v1/models
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from claude_openai import Config, aclose_pools, mount


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await aclose_pools()  # end the warm Claude processes with the app


app = FastAPI(lifespan=lifespan)


@app.get("/", response_class=PlainTextResponse)
def home() -> str:
    return "my app"


mount(app, "/openai/v1", config=Config.from_env())

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
