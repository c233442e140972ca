"""Priming warm processes: one throwaway query to the local stand-in API, then taken back.

End to end with the real CLI: the prime never reaches the model, leaves nothing in the next
request, keeps the one-call budget guard, and a prime that goes wrong retires the process.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import anyio
import pytest
from fake_upstream import FakeUpstream, Reply

from claude_openai import Config, achat_completion, aclose_pools
from claude_openai._engine import prime_sink as _prime_sink
from claude_openai._engine.prime_sink import PrimeSink
from claude_openai._engine.runtime import pool_for

pytestmark = pytest.mark.e2e

ASK = {"messages": [{"role": "user", "content": "primed hello"}]}


def pooled(**fields: Any) -> Config:
    return Config(**{"timeout": 60, "max_retries": 0, "pool_size": 1, "pool_spares": 1, **fields})


async def ready(config: Config) -> None:
    pool = pool_for(config)
    await pool.start()
    with anyio.fail_after(30):
        while len(pool.idle) < 1 or pool.starting:
            await anyio.sleep(0.02)


def user_texts(call: dict[str, Any]) -> list[str]:
    return [block["text"] for m in call["messages"] if m["role"] == "user"
            for block in m["content"] if block.get("type") == "text"]


async def _test_a_primed_process_sends_only_the_request(upstream: FakeUpstream) -> None:
    config = pooled()
    try:
        await ready(config)
        assert pool_for(config).counts["primed"] == 1
        assert upstream.calls == []  # the prime went to the stand-in, not to the model
        done = await achat_completion(ASK, config=config)
    finally:
        await aclose_pools()
    assert done["choices"][0]["message"]["content"] == "ECHO: primed hello"
    [call] = upstream.calls  # one call: the budget guard survived the prime
    assert user_texts(call) == ["primed hello"]  # no prime turn, no /clear caveat
    assert "local-command" not in json.dumps(call)

def test_a_primed_process_sends_only_the_request(upstream: FakeUpstream) -> None:
    anyio.run(_test_a_primed_process_sends_only_the_request, upstream)


async def _test_the_budget_guard_holds_on_a_primed_process(upstream: FakeUpstream) -> None:
    config = pooled()
    try:
        await ready(config)
        upstream.queue(Reply(text="one two three four five six"))
        done = await achat_completion({**ASK, "max_tokens": 3}, config=config)
    finally:
        await aclose_pools()
    assert done["choices"][0]["finish_reason"] == "length"
    assert len(upstream.calls) == 1  # no auto-continuation after max_tokens

def test_the_budget_guard_holds_on_a_primed_process(upstream: FakeUpstream) -> None:
    anyio.run(_test_the_budget_guard_holds_on_a_primed_process, upstream)


async def _test_no_priming_without_a_base_url_to_restore(
        upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI cannot unset ANTHROPIC_BASE_URL once set, so with none it is never pointed away.
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    config = pooled()
    try:
        await ready(config)
        assert pool_for(config).counts["primed"] == 0
        assert pool_for(config).counts["started"] == 1
    finally:
        await aclose_pools()


def test_no_priming_without_a_base_url_to_restore(
        upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    anyio.run(_test_no_priming_without_a_base_url_to_restore, upstream, monkeypatch)


async def _test_priming_off(upstream: FakeUpstream) -> None:
    config = pooled(pool_prime=False)
    try:
        await ready(config)
        assert pool_for(config).counts["primed"] == 0
        await achat_completion(ASK, config=config)
    finally:
        await aclose_pools()
    assert [user_texts(c) for c in upstream.calls] == [["primed hello"]]


def test_priming_off(upstream: FakeUpstream) -> None:
    anyio.run(_test_priming_off, upstream)


async def _test_a_prime_that_costs_retires_the_process_and_priming_stops(
        upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in that reports usage: the prime costs money, so the process's one-call budget is
    # spent and it must never serve; the pool starts an unprimed one and stops priming.
    costly = {**_prime_sink._ZERO_USAGE, "input_tokens": 1000, "output_tokens": 10}
    monkeypatch.setattr(_prime_sink, "_ZERO_USAGE", costly)
    config = pooled()
    try:
        await ready(config)
        pool = pool_for(config)
        assert pool.counts["primed"] == 0 and pool.counts["started"] == 1
        done = await achat_completion(ASK, config=config)
    finally:
        await aclose_pools()
    assert done["choices"][0]["message"]["content"] == "ECHO: primed hello"
    assert [user_texts(c) for c in upstream.calls] == [["primed hello"]]


def test_a_prime_that_costs_retires_the_process_and_priming_stops(
        upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    anyio.run(_test_a_prime_that_costs_retires_the_process_and_priming_stops, upstream,
              monkeypatch)


def _exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


async def _test_the_stand_in_answers_messages_with_zero_usage_and_nothing_else() -> None:
    sink = PrimeSink()
    url = await sink.start()
    try:
        body = json.dumps({"model": "claude-x", "messages": []}).encode()
        plain = (b"POST /v1/messages?beta=true HTTP/1.1\r\nhost: x\r\ncontent-length: "
                 + str(len(body)).encode() + b"\r\n\r\n" + body)
        chunked = (b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                   + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        other = b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n"
        answers = [await anyio.to_thread.run_sync(_exchange, url, r)
                   for r in (plain, chunked, other)]
    finally:
        await sink.close()
    for answer in answers[:2]:
        head, _, stream = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
        events = [json.loads(line[6:]) for line in stream.decode().splitlines()
                  if line.startswith("data: ")]
        assert [e["type"] for e in events][0] == "message_start"
        assert events[0]["message"]["model"] == "claude-x"
        assert not any(events[0]["message"]["usage"].values())
        assert events[-1]["type"] == "message_stop"
    assert answers[2].startswith(b"HTTP/1.1 404")


def test_the_stand_in_answers_messages_with_zero_usage_and_nothing_else() -> None:
    anyio.run(_test_the_stand_in_answers_messages_with_zero_usage_and_nothing_else)