"""Server-sent events: a small ASGI response that owns keepalive, disconnects and the drain.

The status goes out with the first byte, so it waits for the first chunk: a failure before it
is a plain JSON error with its real status.  A failure after it is sent in band as
``data: {"error": ...}`` with no ``[DONE]``, so a truncated answer never looks complete.
While nothing else is sent for ``keepalive`` seconds, a comment line (``: keepalive``) goes out,
which clients ignore; the first one commits the response to 200, so that a long wait for the
first token is not mistaken for a dead connection by a proxy or a client's read timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, Protocol

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._exceptions import ClaudeOpenAIError
from .drain import Drain, shutting_down

logger = logging.getLogger("claude_openai")

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keepalive\n\n"
HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def encode_event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class Framing(Protocol):
    """How a front end's chunks go on the wire, how its stream ends, and how it fails."""

    done: bytes  # sent after the last chunk of a stream that succeeded

    def encode(self, chunk: dict[str, Any]) -> bytes: ...

    def failure(self, error: ClaudeOpenAIError) -> list[dict[str, Any]]:
        """The last chunks of a stream that failed after it began."""
        ...


class ChatFraming:
    """Chat Completions: ``data:`` lines, ``[DONE]`` at the end, an in-band error object."""

    done = DONE

    def encode(self, chunk: dict[str, Any]) -> bytes:
        return encode_event(chunk)

    def failure(self, error: ClaudeOpenAIError) -> list[dict[str, Any]]:
        return [in_band(error)]


class EventStreamResponse(Response):
    """Streams ``chunks`` as SSE; a client disconnect, or the end of ``drain``'s grace, cancels
    them at once.

    ``on_end(status)`` is called once with 200 (or the error's status), or with 499 when the
    client went away.
    """

    def __init__(
        self,
        chunks: AsyncGenerator[dict[str, Any], None],
        *,
        keepalive: float = 0.0,
        drain: Drain | None = None,
        on_end: Callable[[int], None] | None = None,
        framing: Framing | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # Like StreamingResponse: no body, so init_headers() sets no content-length.
        self.status_code = 200
        self.media_type = "text/event-stream"
        self.background = None
        self.init_headers({**HEADERS, **(headers or {})})
        self.chunks = chunks
        self.keepalive = keepalive
        self.drain = drain or Drain(0.0)
        self.on_end = on_end or (lambda status: None)
        self.framing = framing or ChatFraming()
        self.status = 499
        self._started = self._finished = False
        self._last_sent = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send, self._lock = send, anyio.Lock()
        self._last_sent = anyio.current_time()
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                if self.keepalive > 0:
                    group.start_soon(self._keep_alive)
                await self._stream()
                group.cancel_scope.cancel()
        except OSError:  # the client went away while we were writing
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await self.chunks.aclose()
            self.on_end(self.status)

    async def _stream(self) -> None:
        error: ClaudeOpenAIError | None = None
        with self.drain.scope() as cut:
            try:
                async for chunk in self.chunks:
                    await self._write(self.framing.encode(chunk))
            except ClaudeOpenAIError as exc:
                error = exc
            except Exception:
                logger.exception("stream failed")
                error = ClaudeOpenAIError("The stream failed on the server.")
        if cut.cancelled_caught:
            error = shutting_down()
        if error is None:
            self.status = 200
            await self._write(self.framing.done, final=True)
            return
        self.status = error.status_code
        async with self._lock:
            if not self._started:  # nothing sent yet: a plain error, with its real status
                await self._send_error(error)
                return
        ending = b"".join(self.framing.encode(c) for c in self.framing.failure(error))
        await self._write(ending, final=True)

    async def _write(self, body: bytes, *, final: bool = False) -> None:
        async with self._lock:
            if self._finished:
                return
            if not self._started:
                await self._send({"type": "http.response.start", "status": 200,
                                  "headers": self.raw_headers})
                self._started = True
            await self._send({"type": "http.response.body", "body": body, "more_body": not final})
            self._finished = final
            self._last_sent = anyio.current_time()

    async def _send_error(self, error: ClaudeOpenAIError) -> None:
        body = json.dumps(error.to_dict()).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   *[(k.lower().encode(), v.encode()) for k, v in error.headers.items()]]
        await self._send({"type": "http.response.start", "status": error.status_code,
                          "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
        self._started = self._finished = True

    async def _keep_alive(self) -> None:
        while not self._finished:
            await anyio.sleep(self._last_sent + self.keepalive - anyio.current_time())
            if anyio.current_time() - self._last_sent >= self.keepalive:
                await self._write(KEEPALIVE)

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return


def in_band(error: ClaudeOpenAIError) -> dict[str, Any]:
    """The error as a stream's last event: its status has gone with the first byte, so a
    ``Retry-After`` it would have carried goes along as ``retry_after`` (seconds)."""
    body = error.to_dict()
    retry_after = error.headers.get("Retry-After")
    if retry_after is not None and retry_after.isdigit():
        body["error"]["retry_after"] = int(retry_after)
    return body
