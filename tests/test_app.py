"""The Starlette app through an in-process client: routes, errors, SSE framing, mount()."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fake_upstream import FakeUpstream, Reply
from fastapi import FastAPI
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from claude_openai import Config, create_app, mount

CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def client(config: Config) -> TestClient:
    return TestClient(create_app(config), raise_server_exceptions=False)


def assert_openai_error(response: Any, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["param"] == param
    return dict(error)


def sse_events(text: str) -> list[str]:
    return [line[len("data: "):] for line in text.split("\n\n") if line.startswith("data: ")]


@pytest.mark.parametrize("prefix", ["/v1", ""])
def test_unknown_path_and_wrong_method_are_openai_shaped(client: TestClient, prefix: str) -> None:
    assert_openai_error(client.get(f"{prefix}/nowhere"), 404)
    error = assert_openai_error(client.get(f"{prefix}/chat/completions"), 405)
    assert error["code"] == "method_not_allowed"


@pytest.mark.parametrize(("payload", "param"), [
    (b"{not json", None),
    (b"[1, 2]", None),
    (json.dumps({"model": "sonnet"}).encode(), "messages"),
    (json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode(), "messages[0].role"),
    (json.dumps({**CHAT, "n": 3}).encode(), "n"),
])
def test_bad_requests_are_400_with_the_param(client: TestClient, payload: bytes,
                                            param: str | None) -> None:
    response = client.post("/v1/chat/completions", content=payload,
                           headers={"content-type": "application/json"})
    assert assert_openai_error(response, 400, param)["type"] == "invalid_request_error"


def test_unknown_model_is_404(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={**CHAT, "model": "gpt-4o"})
    assert assert_openai_error(response, 404, "model")["code"] == "model_not_found"


def test_models(client: TestClient) -> None:
    listed = client.get("/v1/models").json()
    assert [Model.model_validate(m).id for m in listed["data"]] == ["opus", "sonnet", "haiku"]
    assert client.get("/models").json() == listed
    assert Model.model_validate(client.get("/v1/models/claude-sonnet-4-5").json()).id == (
        "claude-sonnet-4-5")
    assert_openai_error(client.get("/v1/models/gpt-4o"), 404, "model")


def test_health_reports_the_cli_without_calling_the_model(client: TestClient,
                                                         upstream: FakeUpstream) -> None:
    report = client.get("/health").json()
    assert report["status"] == "ok"
    assert report["cli"]["found"] is True
    assert report["cli"]["version"].count(".") == 2
    assert report["auth"] == "api_key"
    assert client.get("/v1/health").json() == report
    assert upstream.requests == []


def test_health_without_a_cli_is_503() -> None:
    client = TestClient(create_app(Config(cli_path="/nonexistent/claude")))
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["cli"]["found"] is False


@pytest.mark.e2e
def test_chat_completion_over_http(client: TestClient, upstream: FakeUpstream,
                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="claude_openai"):
        response = client.post("/v1/chat/completions", json=CHAT)
    completion = ChatCompletion.model_validate(response.json())
    assert completion.choices[0].message.content == "ECHO: hi"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chatcmpl-")]
    assert completion.id in line and "status=200" in line and "latency=" in line
    assert "model=claude-sonnet-5-5" in line and "prompt_tokens=19" in line


@pytest.mark.e2e
def test_stream_over_http(client: TestClient, upstream: FakeUpstream) -> None:
    upstream.queue(Reply(deltas=["a", "b", "c"]))
    response = client.post("/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert "content-length" not in response.headers
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(e) for e in events[:-1]]
    assert [c.choices[0].delta.content for c in chunks[:3]] == ["a", "b", "c"]
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.e2e
def test_failure_before_the_first_token_keeps_its_status(client: TestClient,
                                                         upstream: FakeUpstream) -> None:
    upstream.queue(Reply(status=529))
    response = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert assert_openai_error(response, 503)["code"] == "upstream_overloaded"


@pytest.mark.e2e
def test_failure_after_streaming_began_is_in_band_without_done(client: TestClient,
                                                               upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text="a b c d", fail_after=2))
    response = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    events = sse_events(response.text)
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert [ChatCompletionChunk.model_validate_json(e).choices[0].delta.content
            for e in events[:-1]] == ["a", " b"]


@pytest.mark.e2e
def test_rate_limit_sends_retry_after_when_known(upstream: FakeUpstream) -> None:
    # The CLI retries once, honouring the upstream's retry-after; that delay is what we know.
    retry = {"x-should-retry": "true", "retry-after": "1"}
    upstream.queue(Reply(status=429, headers=retry), Reply(status=429, headers=retry))
    with TestClient(create_app(Config(max_retries=1, timeout=60, pool_size=0))) as client:
        response = client.post("/v1/chat/completions", json=CHAT)
    assert_openai_error(response, 429)
    assert response.headers["retry-after"] == "1"
    assert len(upstream.calls) == 2


def host_starlette() -> Starlette:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("host")

    return Starlette(routes=[Route("/", home)])


@pytest.mark.e2e
@pytest.mark.parametrize("make_host", [host_starlette, FastAPI], ids=["starlette", "fastapi"])
def test_mount_inside_another_app(make_host: Any, upstream: FakeUpstream, config: Config) -> None:
    host = make_host()
    if isinstance(host, FastAPI):
        host.get("/")(lambda: PlainTextResponse("host"))
    mount(host, "/openai/v1", config=config)
    client = TestClient(host, raise_server_exceptions=False)
    assert client.get("/").text == "host"
    response = client.post("/openai/v1/chat/completions", json=CHAT)
    assert ChatCompletion.model_validate(response.json()).choices[0].message.content == "ECHO: hi"
    assert_openai_error(client.post("/openai/v1/chat/completions", content=b"nope"), 400)
    assert_openai_error(client.get("/openai/v1/missing"), 404)
    assert_openai_error(client.get("/openai/v1/models/gpt-4o"), 404, "model")
