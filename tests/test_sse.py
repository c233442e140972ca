"""The SSE response on its own, over plain ASGI callables: status at the first byte,
keepalive comments, in-band errors, disconnects, and the drain's cut at shutdown."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

import anyio
import pytest

from claude_openai import GatewayTimeoutError, RateLimitError, ServiceUnavailableError
from claude_openai._server.drain import Drain
from claude_openai._server.sse import EventStreamResponse

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
        drain: Drain | None = None, disconnect_after: float | None = None,
        during: Callable[[], Coroutine[Any, Any, None]] | None = None) -> Sent:
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

        response = EventStreamResponse(make_chunks(), keepalive=keepalive, drain=drain,
                                       on_end=sent.ended.append)
        async with anyio.create_task_group() as group:
            if during is not None:
                group.start_soon(during)
            await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
            group.cancel_scope.cancel()

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


def test_a_retry_after_survives_in_band() -> None:
    error = RateLimitError("slow down", code="rate_limit_exceeded",
                           headers={"Retry-After": "7"})
    sent = run(failing(error, 0.25), keepalive=0.1)
    assert sent.status == 200 and sent.frames[0] == ": keepalive"
    body = json.loads(sent.frames[-1][6:])
    assert body["error"]["retry_after"] == 7 and body["error"]["code"] == "rate_limit_exceeded"
    assert sent.ended == [429]


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


def begin_after(drain: Drain, delay: float) -> Callable[[], Coroutine[Any, Any, None]]:
    async def begin() -> None:
        await anyio.sleep(delay)
        drain.begin()

    return begin


def test_the_drain_cuts_a_stream_in_band_after_the_grace() -> None:
    log: list[str] = []
    drain = Drain(0.2)
    sent = run(watched(log, "a"), drain=drain, during=begin_after(drain, 0.1))
    assert log == ["closed"]
    error = json.loads(sent.frames[-1][6:])["error"]
    assert error["code"] == "server_shutting_down" and error["type"] == "server_error"
    assert sent.frames[0].startswith("data: {") and "data: [DONE]" not in sent.frames
    assert 0.28 < sent.messages[-1][0] < 0.45  # the grace ran out 0.3 s in
    assert sent.ended == [503]


def test_the_drain_cut_before_the_first_chunk_is_a_503() -> None:
    drain = Drain(0.05)
    sent = run(watched([]), drain=drain, during=begin_after(drain, 0.05))
    assert sent.status == 503
    assert json.loads(sent.body)["error"]["code"] == "server_shutting_down"


def test_a_stream_that_ends_within_the_grace_is_not_cut() -> None:
    drain = Drain(1.0)
    sent = run(paced(*[(0.05, str(i)) for i in range(6)]), drain=drain,
               during=begin_after(drain, 0.05))
    assert sent.frames[-1] == "data: [DONE]" and sent.ended == [200]


# -- the drain on its own -------------------------------------------------------------------
def test_cut_off_raises_a_503_when_the_grace_ends() -> None:
    async def main() -> float:
        drain = Drain(0.1)
        started = anyio.current_time()
        with pytest.raises(ServiceUnavailableError) as info:
            with drain.cut_off():
                drain.begin()
                await anyio.sleep(5)
        assert info.value.code == "server_shutting_down"
        return anyio.current_time() - started

    assert 0.09 < anyio.run(main) < 0.5


def test_work_that_finishes_within_the_grace_is_untouched() -> None:
    async def main() -> str:
        drain = Drain(0.5)
        with drain.cut_off():
            drain.begin()
            await anyio.sleep(0.05)
            return "done"

    assert anyio.run(main) == "done"


def test_work_started_after_shutdown_began_shares_the_same_end() -> None:
    async def main() -> list[float]:
        drain = Drain(0.2)
        drain.begin()
        started = anyio.current_time()
        ends: list[float] = []

        async def work(delay: float) -> None:
            await anyio.sleep(delay)
            with drain.scope() as scope:
                await anyio.sleep(5)
            assert scope.cancelled_caught
            ends.append(anyio.current_time() - started)

        async with anyio.create_task_group() as group:
            group.start_soon(work, 0.0)
            group.start_soon(work, 0.1)
        return ends

    assert all(0.19 < end < 0.4 for end in anyio.run(main))


def test_without_begin_nothing_is_cut() -> None:
    async def main() -> bool:
        with Drain(0.0).scope() as scope:
            await anyio.sleep(0.05)
        return scope.cancel_called

    assert anyio.run(main) is False
