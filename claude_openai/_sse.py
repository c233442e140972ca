"""Server-sent events: a small ASGI response that owns disconnect handling.

The status is fixed at the first byte, so the caller primes the first chunk before building this
response: start-up failures still get a real HTTP status.  A failure after that is sent in band
as ``data: {"error": ...}`` with no ``[DONE]``, so a truncated answer never looks complete.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._exceptions import ClaudeOpenAIError

logger = logging.getLogger("claude_openai")

DONE = b"data: [DONE]\n\n"
HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def encode_event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class EventStreamResponse(Response):
    """Streams ``first`` then ``rest`` as SSE; a client disconnect cancels ``rest`` at once.

    ``on_end(status, error)`` is called once with 200 (or the in-band error's status), or
    with 499 when the client went away.
    """

    def __init__(
        self,
        first: dict[str, Any],
        rest: AsyncGenerator[dict[str, Any], None],
        on_end: Callable[[int], None] | None = None,
    ) -> None:
        # Like StreamingResponse: no body, so init_headers() sets no content-length.
        self.status_code = 200
        self.media_type = "text/event-stream"
        self.background = None
        self.init_headers(HEADERS)
        self.first = first
        self.rest = rest
        self.on_end = on_end or (lambda status: None)
        self.status = 499

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": self.raw_headers})
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                await self._send_all(send)
                group.cancel_scope.cancel()
        except OSError:  # the client went away while we were writing
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await self.rest.aclose()
            self.on_end(self.status)

    async def _send_all(self, send: Send) -> None:
        await send({"type": "http.response.body", "body": encode_event(self.first),
                    "more_body": True})
        try:
            async for chunk in self.rest:
                await send({"type": "http.response.body", "body": encode_event(chunk),
                            "more_body": True})
        except ClaudeOpenAIError as exc:
            self.status = exc.status_code
            await send({"type": "http.response.body", "body": encode_event(exc.to_dict()),
                        "more_body": False})
            return
        except Exception:
            logger.exception("stream failed")
            self.status = 500
            error = ClaudeOpenAIError("The stream failed on the server.").to_dict()
            await send({"type": "http.response.body", "body": encode_event(error),
                        "more_body": False})
            return
        self.status = 200
        await send({"type": "http.response.body", "body": DONE, "more_body": False})

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return
