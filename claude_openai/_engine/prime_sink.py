"""A stand-in Messages API on 127.0.0.1 that answers warm processes' priming requests.

A fresh CLI's first query costs about 50 ms more CPU than later ones (its code runs for the first
time). A spare process is primed with one throwaway query sent here instead of upstream (see
`WarmProcess.prime`). The answer reports zero usage, so it costs nothing and leaves the one-call
budget guard untouched. The sink reads each request to its end and keeps nothing: no headers,
no body, no log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import anyio

_ZERO_USAGE = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0}


def _events(model: str) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {
            "id": "msg_prime", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": _ZERO_USAGE}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 0}},
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
        return body
    return await reader.readexactly(int(headers.get("content-length") or 0))


class PrimeSink:
    """An HTTP/1.1 server on 127.0.0.1 (an ephemeral port), one response per connection."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> str:
        if self._server is None:
            self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            with anyio.fail_after(10):
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (line.partition(":") for line in head[1:]) if v}
                body = await _read_body(reader, headers)
                method, target = (head[0].split(" ") + ["", ""])[:2]
                if method == "POST" and target.split("?")[0].endswith("/v1/messages"):
                    payload = _events(str(json.loads(body).get("model") or "claude"))
                    status, kind = "200 OK", "text/event-stream"
                else:
                    payload, status, kind = b"", "404 Not Found", "text/plain"
                writer.write(f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: "
                             f"{len(payload)}\r\nconnection: close\r\n\r\n".encode() + payload)
                await writer.drain()
        writer.close()
