"""The SSE response on its own, over plain ASGI callables: status at the first byte,
keepalive comments, in-band errors and disconnects."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio

from claude_openai import GatewayTimeoutError, RateLimitError
from claude_openai._sse import EventStreamResponse

Chunks = AsyncGenerator[dict[str, Any], None]


class Sent:
    """What the response sent, and when (seconds after it was called)."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.ended: list[int] = []

    @property
    def status(self) -> int:
        return int(next(m for _, m in self.messages if m["type"] == "http.response.start")
                   ["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        start = next(m for _, m in self.messages if m["type"] == "http.response.start")
        return dict(start["headers"])

    @property
    def bodies(self) -> list[tuple[float, bytes]]:
        return [(t, m["body"]) for t, m in self.messages if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(b for _, b in self.bodies)

    @property
    def frames(self) -> list[str]:
        return [f for f in self.body.decode().split("\n\n") if f]


def chunk(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}}]}


def run(make_chunks: Callable[[], Chunks], *, keepalive: float = 0.0,
        disconnect_after: float | None = None) -> Sent:
    sent = Sent()

    async def main() -> None:
        started = anyio.current_time()

        async def receive() -> dict[str, Any]:
            if disconnect_after is None:
                await anyio.sleep_forever()
            await anyio.sleep(disconnect_after or 0)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.messages.append((anyio.current_time() - started, message))

        response = EventStreamResponse(make_chunks(), keepalive=keepalive,
                                       on_end=sent.ended.append)
        await response({"type": "http"}, receive, send)  # type: ignore[arg-type]

    anyio.run(main)
    return sent


def paced(*pieces: tuple[float, str]) -> Callable[[], Chunks]:
    async def chunks() -> Chunks:
        for pause, text in pieces:
            await anyio.sleep(pause)
            yield chunk(text)

    return chunks


def test_chunks_then_done() -> None:
    sent = run(paced((0, "a"), (0, "b")))
    assert sent.status == 200 and sent.headers[b"content-type"].startswith(b"text/event-stream")
    assert sent.frames == [f"data: {json.dumps(chunk(t), separators=(',', ':'))}"
                           for t in "ab"] + ["data: [DONE]"]
    assert sent.messages[-1][1]["more_body"] is False
    assert sent.ended == [200]


def test_keepalive_comments_while_waiting_for_the_first_chunk() -> None:
    sent = run(paced((0.35, "a"), (0, "b")), keepalive=0.1)
    frames = sent.frames
    assert sent.status == 200
    assert frames[:3] == [": keepalive"] * 3, frames
    assert [json.loads(f[6:])["choices"][0]["delta"]["content"] for f in frames[3:5]] == ["a", "b"]
    assert frames[5:] == ["data: [DONE]"]
    times = [t for t, body in sent.bodies if body.startswith(b":")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert 0.08 < times[0] < 0.2 and all(0.08 < gap < 0.2 for gap in gaps)


def test_keepalive_during_a_pause_mid_stream_and_none_while_chunks_flow() -> None:
    steady = [(0.03, str(i)) for i in range(8)]
    sent = run(paced(*steady, (0.25, "late"), *steady), keepalive=0.1)
    assert sent.frames.count(": keepalive") == 2
    assert sent.frames.index(": keepalive") == 8
    assert "".join(json.loads(f[6:])["choices"][0]["delta"]["content"]
                   for f in sent.frames if f.startswith("data: {")) == "01234567late01234567"


def test_no_keepalive_when_it_is_off() -> None:
    sent = run(paced((0.3, "a")), keepalive=0)
    assert ": keepalive" not in sent.frames
    assert sent.messages[0][0] >= 0.3  # the status waited for the first chunk


def failing(error: Exception, after: float = 0.0, *texts: str) -> Callable[[], Chunks]:
    async def chunks() -> Chunks:
        for text in texts:
            yield chunk(text)
        await anyio.sleep(after)
        raise error

    return chunks


def test_an_error_before_the_first_byte_is_plain_json_with_its_status() -> None:
    error = RateLimitError("slow down", code="rate_limit_exceeded",
                           headers={"Retry-After": "7"})
    sent = run(failing(error), keepalive=0.5)
    assert sent.status == 429
    assert sent.headers[b"content-type"] == b"application/json"
    assert sent.headers[b"retry-after"] == b"7"
    assert json.loads(sent.body) == error.to_dict()
    assert sent.ended == [429]


def test_an_error_after_a_keepalive_is_in_band_without_done() -> None:
    error = GatewayTimeoutError("no first token", code="first_token_timeout")
    sent = run(failing(error, 0.25), keepalive=0.1)
    assert sent.status == 200
    assert sent.frames[:2] == [": keepalive"] * 2
    assert json.loads(sent.frames[-1][6:]) == error.to_dict()
    assert "data: [DONE]" not in sent.frames and sent.messages[-1][1]["more_body"] is False
    assert sent.ended == [504]


def test_an_unexpected_failure_is_a_500_without_a_traceback() -> None:
    sent = run(failing(RuntimeError("secret detail"), 0, "a"))
    error = json.loads(sent.frames[-1][6:])["error"]
    assert error["type"] == "server_error" and "secret" not in error["message"]
    assert sent.ended == [500]


def watched(log: list[str], *texts: str) -> Callable[[], Chunks]:
    """Yields ``texts``, then waits forever; notes in ``log`` how it ended."""
    async def chunks() -> Chunks:
        try:
            for text in texts:
                yield chunk(text)
            await anyio.sleep_forever()
        finally:
            log.append("closed")

    return chunks


def test_a_disconnect_ends_the_chunks_at_once() -> None:
    log: list[str] = []
    sent = run(watched(log, "a"), disconnect_after=0.1, keepalive=0.05)
    assert log == ["closed"] and sent.ended == [499]
    assert sent.messages[-1][0] < 0.2
