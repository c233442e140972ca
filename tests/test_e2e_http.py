"""End to end over HTTP: the app served by uvicorn on 127.0.0.1, real clients, the real CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx
import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer, claude_children, wait_for_no_claude

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]


@pytest.fixture
def server(upstream: FakeUpstream, config: Config) -> Iterator[ThreadedServer]:
    running = ThreadedServer(create_app(config)).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: ThreadedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def test_openai_client_non_stream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    completion = client.chat.completions.create(model="sonnet", messages=MESSAGES,  # type: ignore[arg-type]
                                                max_tokens=100)
    assert completion.choices[0].message.content == "ECHO: hi there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 19
    assert upstream.calls[0]["max_tokens"] == 100


def test_openai_client_stream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    stream = client.chat.completions.create(model="claude-3-5-sonnet-latest", messages=MESSAGES,  # type: ignore[arg-type]
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "ECHO: hi there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert upstream.calls[0]["model"] == "claude-sonnet-5-5"


def test_openai_async_client(server: ThreadedServer, upstream: FakeUpstream) -> None:
    async def main() -> tuple[str | None, str]:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        completion = await client.chat.completions.create(model="haiku", messages=MESSAGES)  # type: ignore[arg-type]
        stream = await client.chat.completions.create(model="haiku", messages=MESSAGES,  # type: ignore[arg-type]
                                                      stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        await client.close()
        return completion.choices[0].message.content, text

    assert anyio.run(main) == ("ECHO: hi there", "ECHO: hi there")


def test_openai_client_sees_errors(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="sonnet", messages=[])
    assert bad.value.body["param"] == "messages"  # type: ignore[index]
    upstream.queue(Reply(status=429))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="sonnet", messages=MESSAGES)  # type: ignore[arg-type]
    upstream.queue(Reply(text="a b c d", fail_after=2))
    stream = client.chat.completions.create(model="sonnet", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        list(stream)


def test_litellm(server: ThreadedServer, upstream: FakeUpstream) -> None:
    import litellm  # imported here: it takes a second or two

    kwargs = {"model": "openai/sonnet", "api_base": server.url + "/v1", "api_key": "x",
              "messages": MESSAGES}
    response = litellm.completion(**kwargs)
    assert response.choices[0].message.content == "ECHO: hi there"
    chunks = list(litellm.completion(**kwargs, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "ECHO: hi there"


def test_disconnect_mid_stream_ends_the_cli(server: ThreadedServer, upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 200), delay=0.05))
    body = {"model": "sonnet", "messages": MESSAGES, "stream": True}
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", server.url + "/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        assert claude_children(), "the CLI should be running mid-stream"
        closed_at = time.monotonic()
    assert wait_for_no_claude(timeout=5) == []
    gone_after = time.monotonic() - closed_at
    assert gone_after < 3, f"the CLI outlived the client by {gone_after:.2f} s"
    time.sleep(0.3)
    assert upstream.sent_deltas[0] < 100, "the upstream call went on after the disconnect"


def test_disconnect_during_a_non_stream_request_ends_the_cli(server: ThreadedServer,
                                                             upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 200), delay=0.05))
    body = {"model": "sonnet", "messages": MESSAGES}
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=1.5) as http:
        http.post(server.url + "/v1/chat/completions", json=body)
    assert wait_for_no_claude(timeout=5) == []
    time.sleep(0.3)
    assert upstream.sent_deltas[0] < 100, "the upstream call went on after the disconnect"


def test_timeout_is_a_504_over_http(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 100), delay=0.05))
    running = ThreadedServer(create_app(Config(timeout=1.5, max_retries=0))).start()
    try:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="sonnet", messages=MESSAGES)  # type: ignore[arg-type]
        assert info.value.status_code == 504
        assert info.value.body["code"] == "timeout"  # type: ignore[index]
    finally:
        running.stop()
