"""End to end: first-token and idle timeouts end the real CLI's run with a 504 of their own,
in the library and over HTTP; SSE keepalive comments reach real clients unharmed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import anyio
import httpx
import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer, claude_children, wait_for_no_claude

from claude_openai import (
    Config,
    GatewayTimeoutError,
    achat_completion,
    aclose_pools,
    astream_chat_completion,
    chat_completion,
    create_app,
    stream_chat_completion,
)

pytestmark = pytest.mark.e2e

CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
WORDS = " ".join(f"w{i}" for i in range(12))


def timed(**fields: Any) -> Config:
    return Config(**{"timeout": 60, "max_retries": 0, "pool_size": 0, **fields})


def assert_upstream_dropped(upstream: FakeUpstream, at: float) -> None:
    """The CLI is gone and the upstream call was abandoned when the timeout fired, not after."""
    assert wait_for_no_claude(timeout=3) == [], "the CLI outlived the timeout"
    deadline = time.monotonic() + 3
    while not upstream.closed_at[-1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.completed == [False], "the upstream call ran to its end"
    assert 0 < upstream.closed_at[-1] - at < 1.5, "the upstream was read on after the timeout"


# -- library --------------------------------------------------------------------------------
def test_no_first_token_in_time_is_a_504_and_ends_the_run(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=WORDS, first_delay=6))
    started = time.monotonic()
    with pytest.raises(GatewayTimeoutError) as info:
        chat_completion(CHAT, config=timed(first_token_timeout=1))
    fired = time.monotonic()
    assert info.value.status_code == 504 and info.value.code == "first_token_timeout"
    assert "first_token_timeout of 1 s" in info.value.message
    assert 0.9 < fired - started < 3
    assert_upstream_dropped(upstream, fired - 0.5)
    assert upstream.sent_deltas == [0]


def test_a_stalled_stream_gets_its_chunks_then_the_idle_504(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=WORDS, pause_after=3, pause=6))
    got: list[str] = []
    with pytest.raises(GatewayTimeoutError) as info:
        for chunk in stream_chat_completion(CHAT, config=timed(idle_timeout=1)):
            got.append(chunk["choices"][0]["delta"].get("content", ""))
            last = time.monotonic()
    fired = time.monotonic()
    assert info.value.code == "idle_timeout"
    assert "".join(got) == "w0 w1 w2"
    assert 0.9 < fired - last < 2.5
    assert_upstream_dropped(upstream, fired - 0.5)
    assert upstream.sent_deltas == [3]


def test_a_slow_steady_reply_with_long_thinking_is_not_cut(upstream: FakeUpstream) -> None:
    # Thinking for 1.5 s before the first text, then text every 0.25 s: each limit is 1 s.
    upstream.queue(Reply(thinking=["hm"] * 6, text="the answer comes slowly", delay=0.25))
    completion = chat_completion(CHAT, config=timed(first_token_timeout=1, idle_timeout=1))
    assert completion["choices"][0]["message"]["content"] == "the answer comes slowly"
    assert upstream.completed == [True]


def test_the_limits_hold_on_a_warm_process_too(upstream: FakeUpstream) -> None:
    config = Config(timeout=60, max_retries=0, pool_size=1, pool_spares=1, idle_timeout=1)

    async def main() -> tuple[list[str], str | None, str]:
        got: list[str] = []
        code = None
        try:
            async with aclosing(astream_chat_completion(CHAT, config=config)) as chunks:
                async for chunk in chunks:
                    got.append(chunk["choices"][0]["delta"].get("content", ""))
        except GatewayTimeoutError as exc:
            code = exc.code
        after = await achat_completion(CHAT, config=config)  # the pool still serves
        await aclose_pools()
        return got, code, after["choices"][0]["message"]["content"]

    upstream.queue(Reply(text=WORDS, pause_after=2, pause=5))
    got, code, after = anyio.run(main)
    assert (code, "".join(got), after) == ("idle_timeout", "w0 w1", "ECHO: hi")
    assert upstream.completed[0] is False


# -- HTTP -----------------------------------------------------------------------------------
@pytest.fixture
def serve(upstream: FakeUpstream) -> Iterator[Any]:
    servers: list[ThreadedServer] = []

    def start(**fields: Any) -> str:
        servers.append(ThreadedServer(create_app(timed(**fields))).start())
        return servers[-1].url + "/v1"

    yield start
    for server in servers:
        server.stop()


def sse_lines(url: str, body: dict[str, Any]) -> tuple[int, list[str]]:
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", url + "/chat/completions", json={**body, "stream": True}) as response:
        return response.status_code, [line for line in response.iter_lines() if line]


def test_http_no_first_token_is_a_504_before_anything_was_streamed(serve: Any,
                                                                 upstream: FakeUpstream) -> None:
    url = serve(first_token_timeout=1, keepalive_interval=0)
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    for stream in (False, True):
        upstream.queue(Reply(text=WORDS, first_delay=5))
        with pytest.raises(openai.APIStatusError) as info:
            list(client.chat.completions.create(stream=stream, **CHAT))  # type: ignore[call-overload]
        assert info.value.status_code == 504
        assert info.value.body["code"] == "first_token_timeout"  # type: ignore[index]
        assert wait_for_no_claude(timeout=3) == []
    assert upstream.completed == [False, False]


def test_http_idle_mid_stream_is_an_error_frame_without_done(serve: Any,
                                                            upstream: FakeUpstream) -> None:
    url = serve(idle_timeout=1, keepalive_interval=0)
    upstream.queue(Reply(text=WORDS, pause_after=2, pause=5))
    status, lines = sse_lines(url, CHAT)
    fired = time.monotonic()
    assert status == 200
    assert "data: [DONE]" not in lines
    error = json.loads(lines[-1][len("data: "):])["error"]
    assert (error["code"], error["type"]) == ("idle_timeout", "server_error")
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                   for line in lines[:-1])
    assert text == "w0 w1"
    assert_upstream_dropped(upstream, fired - 0.5)


def test_keepalive_comments_arrive_and_the_content_is_intact(serve: Any,
                                                            upstream: FakeUpstream) -> None:
    url = serve(keepalive_interval=0.15)
    paced = Reply(deltas=["Hel", "lo", ", ", "wor", "ld"], first_delay=0.7, pause_after=2,
                  pause=0.5)
    upstream.queue(paced)
    status, lines = sse_lines(url, CHAT)
    assert status == 200
    data = [line for line in lines if line.startswith("data: {")]
    first_data = lines.index(data[0])
    assert lines[:first_data].count(": keepalive") >= 3, lines  # while waiting for the token
    assert ": keepalive" in lines[first_data:], lines  # and during the pause mid-stream
    assert "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                   for line in data if json.loads(line[6:])["choices"]) == "Hello, world"
    assert lines[-1] == "data: [DONE]"

    upstream.queue(paced)
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(stream=True, **CHAT))  # type: ignore[call-overload]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello, world"
    assert chunks[-1].choices[0].finish_reason == "stop"

    import litellm  # imported here: it takes a second or two

    upstream.queue(paced)
    response = litellm.completion(model="openai/sonnet", api_base=url, api_key="x",
                                  messages=CHAT["messages"], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in response) == "Hello, world"
    assert claude_children() == []
