"""Bounded load over HTTP, with the real CLI: a run limit, a bounded queue, then 429s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def serve(upstream: FakeUpstream) -> Iterator[Any]:
    servers: list[ThreadedServer] = []

    def start(**fields: Any) -> str:
        config = Config(**{"pool_size": 0, "max_retries": 0, "max_concurrent": 1, **fields})
        servers.append(ThreadedServer(create_app(config)).start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


def in_background(url: str, body: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def call() -> None:
        with httpx.Client(timeout=60) as client:
            result.append(client.post(url + "/v1/chat/completions", json=body))

    thread = threading.Thread(target=call)
    thread.start()
    return thread, result


def wait_for_load(url: str, running: int, waiting: int = 0) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        load = httpx.get(url + "/health").json()["load"]
        if (load["running"], load["waiting"]) == (running, waiting):
            return
        time.sleep(0.02)
    raise AssertionError(f"load never reached running={running} waiting={waiting}")


def slow(seconds: float) -> Reply:
    return Reply(text=" ".join(["w"] * 20), delay=seconds / 20)


def test_a_full_queue_is_refused_at_once_with_retry_after(serve: Any,
                                                          upstream: FakeUpstream) -> None:
    url = serve(max_queue=0)
    upstream.queue(slow(2))
    thread, first = in_background(url, {**CHAT, "stream": True})
    wait_for_load(url, running=1)
    started = time.monotonic()
    refused = httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert time.monotonic() - started < 1.5, "an overflow must not wait"
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "server_busy"
    assert int(refused.headers["retry-after"]) >= 1
    thread.join()
    assert first[0].status_code == 200
    wait_for_load(url, running=0)


def test_a_request_that_waits_too_long_gets_a_429(serve: Any, upstream: FakeUpstream) -> None:
    url = serve(max_queue=4, queue_timeout=0.5)
    upstream.queue(slow(2.5))
    thread, _ = in_background(url, CHAT)
    wait_for_load(url, running=1)
    refused = httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    thread.join()
    wait_for_load(url, running=0)


def test_a_queued_request_runs_when_a_slot_frees(serve: Any, upstream: FakeUpstream) -> None:
    url = serve(max_queue=4, queue_timeout=20)
    upstream.queue(slow(1), Reply(text="second answer"))
    first_thread, first = in_background(url, CHAT)
    wait_for_load(url, running=1)
    second_thread, second = in_background(url, {**CHAT, "stream": True})
    wait_for_load(url, running=1, waiting=1)
    first_thread.join()
    second_thread.join()
    assert first[0].status_code == 200 and second[0].status_code == 200
    events = [json.loads(line[6:]) for line in second[0].text.split("\n")
              if line.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events
                   if e["choices"]) == "second answer"
    wait_for_load(url, running=0)


def test_failures_release_their_slot(serve: Any, upstream: FakeUpstream) -> None:
    url = serve(max_queue=0)
    upstream.queue(Reply(status=529), Reply(status=529))
    for body in (CHAT, {**CHAT, "stream": True}):
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=30).status_code == 503
    wait_for_load(url, running=0)
    assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
