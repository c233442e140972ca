"""A fake Anthropic Messages API on 127.0.0.1 that records what the Claude Code CLI sends.

By default it answers ``ECHO: <last user text>`` token by token.  Tests queue scripted
``Reply`` objects to shape the next answers (text, stop reason, usage, HTTP errors, pacing).
It honours ``max_tokens`` (one word = one token) and ``stop_sequences`` the way the real API
does, so a test can check what the client got against what reached the model.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio
from servers import ThreadedServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer to a ``POST /v1/messages``."""

    text: str | None = None  # None: echo the last user text
    deltas: list[str] | None = None  # explicit text deltas (overrides ``text``)
    stop_reason: str | None = None  # None: derived (end_turn / max_tokens / stop_sequence)
    usage: dict[str, int] = field(default_factory=dict)
    status: int = 200
    error_type: str = "api_error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between stream events
    first_delay: float = 0.0  # seconds before the first stream event (message_start)
    pause_after: int | None = None  # after this many text deltas, pause ``pause`` seconds
    pause: float = 0.0
    thinking: list[str] = field(default_factory=list)  # thinking deltas before the text
    model: str | None = None  # None: the model the request named
    fail_after: int | None = None  # send this many deltas, then an SSE error event
    # tool_use blocks after the text: {"name": ..., "input": {...}, "id": optional}
    tools: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # what the real API accepts

DEFAULT_USAGE = {
    "input_tokens": 11,
    "cache_creation_input_tokens": 3,
    "cache_read_input_tokens": 5,
}


# Blocks the CLI adds to a user message on its own: reminders, and the record of a /clear.
CLI_BLOCKS = ("<system-reminder>", "<local-command-caveat>", "<command-name>",
              "<local-command-stdout>")


def last_user_text(body: dict[str, Any]) -> str:
    """All text of the last user message, without the blocks the CLI adds (``CLI_BLOCKS``)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content
            if block.get("type") == "text"
            and not any(mark in block.get("text", "") for mark in CLI_BLOCKS)
        ]
        return "\n".join(texts)
    return ""


def _plan(reply: Reply, body: dict[str, Any]) -> tuple[list[str], str, str | None]:
    """The deltas to send, the stop reason and the matched stop sequence."""
    if reply.deltas is not None:
        deltas = list(reply.deltas)
    else:
        text = reply.text if reply.text is not None else "ECHO: " + last_user_text(body)
        words = text.split(" ")
        deltas = [w if i == 0 else " " + w for i, w in enumerate(words) if w or i]
        deltas = [d for d in deltas if d]
    stop_seq = None
    joined = "".join(deltas)
    for seq in body.get("stop_sequences") or []:
        at = joined.find(seq)
        if at != -1 and (stop_seq is None or at < joined.find(stop_seq)):
            stop_seq = seq
    if stop_seq is not None:
        deltas = _cut(deltas, joined.find(stop_seq))
    stop = "stop_sequence" if stop_seq else "end_turn"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and len(deltas) > limit:
        deltas, stop, stop_seq = deltas[:limit], "max_tokens", None
    return deltas, reply.stop_reason or stop, stop_seq


def _cut(deltas: list[str], at: int) -> list[str]:
    out: list[str] = []
    used = 0
    for d in deltas:
        if used + len(d) >= at:
            if at - used:
                out.append(d[: at - used])
            break
        out.append(d)
        used += len(d)
    return out


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class FakeUpstream:
    """The fake API plus the uvicorn server that runs it in a thread."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/{path:path}", self._other, methods=["GET", "HEAD", "POST"]),
            ]
        )
        self._server: ThreadedServer | None = None
        self.port = 0
        self.sent_deltas: list[int] = []  # text deltas actually sent, per streamed call
        self.send_times: list[tuple[float, float]] = []  # first and last delta, per call
        self.completed: list[bool] = []  # per streamed call: was it sent to the end?
        self.closed_at: list[float] = []  # per streamed call: when it ended (or was dropped)

    # -- test API ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()
            self.sent_deltas.clear()
            self.send_times.clear()
            self.completed.clear()
            self.closed_at.clear()

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Bodies of the model calls (``POST /v1/messages``), in order."""
        return [r.body for r in self.requests if r.path == "/v1/messages" and r.method == "POST"]

    # -- server -----------------------------------------------------------------------------
    def start(self) -> None:
        self._server = ThreadedServer(self.app).start()
        self.port = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # -- handlers ---------------------------------------------------------------------------
    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.url.path, dict(request.headers), body)
            )
        return body

    async def _other(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({})

    async def _messages(self, request: Request) -> Response:
        body = await self._record(request)
        with self._lock:
            reply = self.replies.popleft() if self.replies else Reply()
        if reply.status != 200:
            return JSONResponse(
                {"type": "error", "error": {"type": reply.error_type, "message": "fake failure"}},
                status_code=reply.status,
                headers={"x-should-retry": "false", **reply.headers},
            )
        bad = [t.get("name") for t in body.get("tools") or []
               if not TOOL_NAME.match(str(t.get("name")))]
        if bad:
            return JSONResponse({"type": "error", "error": {
                "type": "invalid_request_error", "message": f"bad tool names {bad}"}},
                status_code=400, headers={"x-should-retry": "false"})
        deltas, stop, stop_seq = _plan(reply, body)
        if reply.tools and stop != "max_tokens":
            stop, stop_seq = reply.stop_reason or "tool_use", None
        model = reply.model or body.get("model", "claude-fake")
        usage = {**DEFAULT_USAGE, **reply.usage}
        output_tokens = reply.usage.get("output_tokens", len(deltas))
        if not body.get("stream"):
            return JSONResponse(self._message(model, "".join(deltas), stop, stop_seq, usage,
                                              output_tokens, reply))
        return StreamingResponse(
            self._stream(model, deltas, stop, stop_seq, usage, output_tokens, reply),
            media_type="text/event-stream",
        )

    @staticmethod
    def _message(model: str, text: str, stop: str, stop_seq: str | None,
                 usage: dict[str, int], output_tokens: int, reply: Reply) -> dict[str, Any]:
        content = [{"type": "text", "text": text}] if text else []
        content += [{"type": "tool_use", "id": _tool_id(t, i), "name": t["name"],
                     "input": t["input"]} for i, t in enumerate(reply.tools)]
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop,
            "stop_sequence": stop_seq, "usage": {**usage, "output_tokens": output_tokens},
        }

    async def _stream(self, model: str, deltas: list[str], stop: str, stop_seq: str | None,
                      usage: dict[str, int], output_tokens: int, reply: Reply) -> Any:
        with self._lock:
            self.sent_deltas.append(0)
            self.send_times.append((0.0, 0.0))
            self.completed.append(False)
            self.closed_at.append(0.0)
            call = len(self.sent_deltas) - 1
        try:
            async for event in self._events(model, deltas, stop, stop_seq, usage, output_tokens,
                                            reply, call):
                yield event
            self.completed[call] = True
        finally:  # also when the client drops the connection (the generator is cancelled)
            self.closed_at[call] = time.monotonic()

    async def _events(self, model: str, deltas: list[str], stop: str, stop_seq: str | None,
                      usage: dict[str, int], output_tokens: int, reply: Reply, call: int) -> Any:
        if reply.first_delay:
            await anyio.sleep(reply.first_delay)
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        }
        yield _sse(start)
        text_index = 0
        if reply.thinking:
            text_index = 1
            for event in _thinking_events(reply.thinking):
                if reply.delay and event["type"] == "content_block_delta":
                    await anyio.sleep(reply.delay)
                yield _sse(event)
        text_block = bool(deltas) or not reply.tools
        if text_block:
            yield _sse({"type": "content_block_start", "index": text_index,
                        "content_block": {"type": "text", "text": ""}})
        for i, d in enumerate(deltas):
            if reply.fail_after is not None and i == reply.fail_after:
                yield _sse({"type": "error",
                            "error": {"type": "overloaded_error", "message": "fake mid-stream"}})
                return
            if reply.pause_after is not None and i == reply.pause_after:
                await anyio.sleep(reply.pause)
            if reply.delay:
                await anyio.sleep(reply.delay)
            yield _sse({"type": "content_block_delta", "index": text_index,
                        "delta": {"type": "text_delta", "text": d}})
            self.sent_deltas[call] += 1
            first = self.send_times[call][0] or time.monotonic()
            self.send_times[call] = (first, time.monotonic())
        if text_block:
            yield _sse({"type": "content_block_stop", "index": text_index})
        for i, tool in enumerate(reply.tools):
            for event in _tool_events(tool, i, text_index + int(text_block) + i):
                if reply.delay:
                    await anyio.sleep(reply.delay)
                yield _sse(event)
        yield _sse({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": stop_seq},
                    "usage": {"output_tokens": output_tokens}})
        yield _sse({"type": "message_stop"})


def _thinking_events(pieces: list[str]) -> list[dict[str, Any]]:
    """A thinking block at index 0: its deltas, then the signature the real API closes it with."""
    return [
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        *[{"type": "content_block_delta", "index": 0,
           "delta": {"type": "thinking_delta", "thinking": p}} for p in pieces],
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": "fake-signature"}},
        {"type": "content_block_stop", "index": 0},
    ]


def _tool_id(tool: dict[str, Any], i: int) -> str:
    return str(tool.get("id") or f"toolu_fake{i}")


def _tool_events(tool: dict[str, Any], i: int, index: int) -> list[dict[str, Any]]:
    """A tool_use block whose arguments arrive in three input_json_delta pieces."""
    arguments = json.dumps(tool["input"])
    cut = max(1, len(arguments) // 3)
    pieces = [arguments[:cut], arguments[cut:2 * cut], arguments[2 * cut:]]
    return [
        {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": _tool_id(tool, i), "name": tool["name"], "input": {}}},
        *[{"type": "content_block_delta", "index": index,
           "delta": {"type": "input_json_delta", "partial_json": p}} for p in pieces if p],
        {"type": "content_block_stop", "index": index},
    ]
