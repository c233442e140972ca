"""The one log line per chat request: ids, model, status, latency, time to first token, tokens
and cost, end to end through the real CLI; never a key or a message's content."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fake_upstream import FakeUpstream, Reply
from starlette.testclient import TestClient

from claude_openai import Config, RateLimitError, create_app
from claude_openai._server.observe import log
from claude_openai._server.trace import Trace, status_of

KEY = "sk-log-line-key-987"
SECRET = "my-secret-content-xyz"
CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": SECRET}]}


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """The request lines, as ``key=value`` fields (``id`` for the first one)."""
    lines = [r.getMessage() for r in caplog.records
             if r.name == "claude_openai" and r.getMessage().startswith("chatcmpl-")]
    return [{"id": line.split()[0], **dict(kv.split("=", 1) for kv in line.split()[1:])}
            for line in lines]


def seconds(text: str) -> float:
    assert text.endswith("s"), text
    return float(text[:-1])


@pytest.mark.e2e
def test_each_request_logs_ttft_and_cost(upstream: FakeUpstream, config: Config,
                                         caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(config))
    upstream.queue(Reply(deltas=["a", "b"], delay=0.2), Reply(deltas=["c", "d"], delay=0.2))
    with caplog.at_level(logging.INFO, logger="claude_openai"):
        plain = client.post("/v1/chat/completions", json=CHAT)
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True},
                               headers={"X-Request-ID": "log-test-1"})
    assert plain.status_code == streamed.status_code == 200
    first, second = logged(caplog)
    assert first["id"] == plain.json()["id"] and first["stream"] == "false"
    assert second["request_id"] == "log-test-1" and second["stream"] == "true"
    for line in (first, second):
        assert line["status"] == "200" and line["model"] == "claude-sonnet-5-5"
        # the first delta comes 0.2 s in, the second 0.2 s later
        assert 0.2 <= seconds(line["ttft"]) <= seconds(line["latency"]) - 0.15
        assert float(line["cost_usd"]) > 0
        assert (line["prompt_tokens"], line["completion_tokens"]) == ("19", "2")


@pytest.mark.e2e
def test_no_token_no_ttft_and_never_a_key_or_content(upstream: FakeUpstream,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(Config(api_key=KEY, pool_size=0, max_retries=0)))
    auth = {"Authorization": f"Bearer {KEY}"}
    upstream.queue(Reply(status=529))
    with caplog.at_level(logging.DEBUG):
        assert client.post("/v1/chat/completions", json={**CHAT, "stream": True},
                           headers=auth).status_code == 503
        assert client.post("/v1/chat/completions", json={**CHAT, "n": 2},
                           headers=auth).status_code == 400
    overloaded, invalid = logged(caplog)
    assert (overloaded["status"], overloaded["ttft"], overloaded["stream"]) == ("503", "-", "true")
    assert (invalid["status"], invalid["ttft"], invalid["cost_usd"]) == ("400", "-", "-")
    assert invalid["model"] == "-" and invalid["prompt_tokens"] == "-"
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in everything and SECRET not in everything


def test_the_line_shows_dashes_for_what_is_unknown(caplog: pytest.LogCaptureFixture) -> None:
    trace = Trace(request_id="r1")
    trace.end(499)
    with caplog.at_level(logging.INFO, logger="claude_openai"):
        log(trace)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(trace.id + " request_id=r1 model=- status=499 latency=")
    assert line.endswith("ttft=- stream=false prompt_tokens=- completion_tokens=- cost_usd=-")


def test_how_a_request_ended_gives_its_status() -> None:
    assert status_of(RateLimitError("busy")) == 429
    assert status_of(asyncio.CancelledError()) == status_of(GeneratorExit()) == 499
    assert status_of(KeyError("bug")) == 500
    trace = Trace()
    assert trace.end(500, KeyError("secret detail")) and not trace.end(200)
    assert trace.status == 500 and "secret" not in str(trace.error)  # as the client got it
