"""End to end: the library functions run the real bundled CLI against the fake upstream."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import pytest
from fake_upstream import FakeUpstream, Reply
from images import png_data_url
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from servers import claude_children

from claude_openai import (
    Config,
    GatewayTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamAuthError,
    achat_completion,
    astream_chat_completion,
    chat_completion,
    stream_chat_completion,
)

pytestmark = pytest.mark.e2e


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def texts(message: dict[str, Any]) -> list[str]:
    content = message["content"]
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content if b.get("type") == "text"]


def conversation(call: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The user/assistant turns the model saw (the CLI's own system-role turn left out)."""
    return [(m["role"], texts(m)) for m in call["messages"] if m["role"] != "system"]


def test_non_stream_answer_and_what_reached_the_model(upstream: FakeUpstream,
                                                      config: Config) -> None:
    completion = chat_completion(
        {"model": "sonnet", "messages": [{"role": "system", "content": "You are terse."},
                                         user("hello there")]},
        config=config,
    )
    parsed = ChatCompletion.model_validate(completion)
    assert parsed.choices[0].message.content == "ECHO: hello there"
    assert parsed.choices[0].finish_reason == "stop"
    assert parsed.model == "claude-sonnet-5-5"
    [call] = upstream.calls
    assert call["model"] == "claude-sonnet-5-5"
    system = [block["text"] for block in call["system"]]
    assert "You are terse." in system
    assert not any("Claude Code" in s for s in system), "Claude Code's own prompt leaked in"
    assert call["tools"] == []
    assert conversation(call) == [("user", ["hello there"])]


def test_usage_is_what_the_upstream_reported(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(Reply(text="one two three", usage={
        "input_tokens": 100, "cache_read_input_tokens": 40, "cache_creation_input_tokens": 7,
        "output_tokens": 9}))
    usage = chat_completion({"messages": [user("x")]}, config=config)["usage"]
    assert usage == {"prompt_tokens": 147, "completion_tokens": 9, "total_tokens": 156,
                     "prompt_tokens_details": {"cached_tokens": 40},
                     "completion_tokens_details": {"reasoning_tokens": 0}}


def test_stream_is_token_level_and_validates(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(Reply(deltas=["Hel", "lo", ", ", "wor", "ld"]))
    chunks = list(stream_chat_completion(
        {"messages": [user("x")], "stream_options": {"include_usage": True}}, config=config))
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    assert [c.choices[0].delta.content for c in parsed[:5]] == ["Hel", "lo", ", ", "wor", "ld"]
    assert parsed[0].choices[0].delta.role == "assistant"
    assert parsed[5].choices[0].finish_reason == "stop"
    assert parsed[6].choices == [] and parsed[6].usage is not None
    assert parsed[6].usage.completion_tokens == 5


def test_multi_turn_arrives_as_alternating_turns(upstream: FakeUpstream, config: Config) -> None:
    completion = chat_completion({"messages": [
        {"role": "system", "content": "Remember things."},
        user("My name is Ada."), {"role": "assistant", "content": "Hello Ada."},
        user("I like tea."), {"role": "assistant", "content": "Noted."},
        user("What is my name?"),
    ]}, config=config)
    assert completion["choices"][0]["message"]["content"] == "ECHO: What is my name?"
    [call] = upstream.calls
    assert conversation(call) == [
        ("user", ["My name is Ada."]), ("assistant", ["Hello Ada."]),
        ("user", ["I like tea."]), ("assistant", ["Noted."]),
        ("user", ["What is my name?"]),
    ]
    assert any(b["text"] == "Remember things." for b in call["system"])


def test_image_arrives_as_an_image_block(upstream: FakeUpstream, config: Config) -> None:
    url = png_data_url()
    chat_completion({"messages": [user([
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ])]}, config=config)
    [call] = upstream.calls
    blocks = [m for m in call["messages"] if m["role"] == "user"][-1]["content"]
    images = [b for b in blocks if b["type"] == "image"]
    assert images == [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": url.split(",", 1)[1]}}]


def test_max_tokens_gives_length_after_one_upstream_call(upstream: FakeUpstream,
                                                        config: Config) -> None:
    completion = chat_completion(
        {"messages": [user("one two three four five six")], "max_completion_tokens": 3},
        config=config)
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["choices"][0]["message"]["content"] == "ECHO: one two"
    assert [c["max_tokens"] for c in upstream.calls] == [3]


def test_max_tokens_in_a_stream(upstream: FakeUpstream, config: Config) -> None:
    chunks = list(stream_chat_completion(
        {"messages": [user("one two three four five six")], "max_tokens": 2}, config=config))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "ECHO: one"
    assert len(upstream.calls) == 1


def test_stop_sequence_ends_the_output_before_it(upstream: FakeUpstream, config: Config) -> None:
    completion = chat_completion(
        {"messages": [user("alpha beta END gamma")], "stop": ["END", "never"]}, config=config)
    assert completion["choices"][0]["message"]["content"] == "ECHO: alpha beta "
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert upstream.calls[0]["stop_sequences"] == ["END", "never"]


@pytest.mark.parametrize(("sampling", "sent"), [
    ({"temperature": 0.2, "top_p": 0.9}, {"temperature": 0.2}),  # both deliberate: temperature
    ({"temperature": 1, "top_p": 0.9}, {"top_p": 0.9}),  # a neutral value is dropped
    ({"temperature": 0.3, "top_p": 1}, {"temperature": 0.3}),
    ({"top_p": 0.5}, {"top_p": 0.5}),
])
def test_sampling_parameters_reach_the_model_one_at_a_time_with_thinking_off(
        upstream: FakeUpstream, config: Config, sampling: dict[str, float],
        sent: dict[str, float]) -> None:
    # The API refuses `temperature` with `top_p`, and either (below its limits) with thinking on.
    chat_completion({"messages": [user("x")], **sampling}, config=config)
    [call] = upstream.calls
    assert {k: call[k] for k in ("temperature", "top_p") if k in call} == sent
    assert "thinking" not in call


def test_neutral_sampling_values_leave_thinking_on(upstream: FakeUpstream,
                                                   config: Config) -> None:
    chat_completion({"messages": [user("x")], "temperature": 1, "top_p": 1}, config=config)
    [call] = upstream.calls
    assert "temperature" not in call and "top_p" not in call
    assert call["thinking"]["type"] == "adaptive"


@pytest.mark.parametrize(("status", "error", "http"), [
    (429, RateLimitError, 429),
    (529, ServiceUnavailableError, 503),
    (401, UpstreamAuthError, 502),
])
def test_upstream_failures_are_mapped(upstream: FakeUpstream, config: Config, status: int,
                                      error: type[Exception], http: int) -> None:
    upstream.queue(Reply(status=status))
    with pytest.raises(error) as info:
        chat_completion({"messages": [user("x")]}, config=config)
    assert info.value.status_code == http  # type: ignore[attr-defined]


def test_failure_in_a_stream_before_any_token_raises(upstream: FakeUpstream,
                                                     config: Config) -> None:
    upstream.queue(Reply(status=429))
    with pytest.raises(RateLimitError):
        list(stream_chat_completion({"messages": [user("x")]}, config=config))


def test_failure_mid_stream_raises_after_the_deltas(upstream: FakeUpstream,
                                                    config: Config) -> None:
    upstream.queue(Reply(text="a b c d e f", fail_after=3))
    got: list[str] = []
    with pytest.raises(ServiceUnavailableError):  # the fake's mid-stream error is "overloaded"
        for chunk in stream_chat_completion({"messages": [user("x")]}, config=config):
            got.append(chunk["choices"][0]["delta"].get("content", ""))
    assert "".join(got) == "a b c"


def test_timeout_ends_the_run_with_504(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 50), delay=0.1))
    with pytest.raises(GatewayTimeoutError) as info:
        chat_completion({"messages": [user("x")]},
                        config=Config(timeout=1.5, max_retries=0, pool_size=0))
    assert info.value.status_code == 504
    assert upstream.sent_deltas[0] < 50, "the upstream call was not ended"


def test_closing_a_stream_early_ends_the_cli_at_once(upstream: FakeUpstream,
                                                    config: Config) -> None:
    upstream.queue(Reply(text=" ".join(["w"] * 100), delay=0.05))

    async def main() -> None:
        stream = astream_chat_completion({"messages": [user("x")]}, config=config)
        async with aclosing(stream) as chunks:
            async for _ in chunks:
                assert claude_children(), "the CLI should be running mid-stream"
                break
        assert claude_children() == []

    anyio.run(main)
    assert upstream.sent_deltas[0] < 100


def test_cli_not_found_is_503(upstream: FakeUpstream) -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        chat_completion({"messages": [user("x")]},
                        config=Config(cli_path="/nonexistent/claude", max_retries=0,
                                      pool_size=0))
    assert info.value.status_code == 503
    assert "--cli-path" in info.value.message
    assert upstream.calls == []


def test_sync_twins_refuse_a_running_loop_and_name_the_async_twin(upstream: FakeUpstream) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="achat_completion"):
            chat_completion({"messages": [user("x")]})
        with pytest.raises(RuntimeError, match="astream_chat_completion"):
            stream_chat_completion({"messages": [user("x")]})

    anyio.run(main)


def test_async_functions(upstream: FakeUpstream, config: Config) -> None:
    async def main() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        completion = await achat_completion({"messages": [user("one")]}, config=config)
        chunks = [c async for c in astream_chat_completion({"messages": [user("two")]},
                                                             config=config)]
        return completion, chunks

    completion, chunks = anyio.run(main)
    assert completion["choices"][0]["message"]["content"] == "ECHO: one"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "ECHO: two"


def test_ctrl_c_while_a_sync_stream_waits_ends_it_cleanly(upstream: FakeUpstream) -> None:
    """A KeyboardInterrupt while `stream_chat_completion` waits for the next chunk reaches the
    caller as itself: the step in flight is cancelled before the stream is closed (closing it
    while the step ran raised "aclose(): asynchronous generator is already running")."""
    import subprocess
    import sys

    script = (
        "import os, signal, threading\n"
        "from claude_openai import Config, close_pools, stream_chat_completion\n"
        "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "body = {'model': 'sonnet', 'messages': [{'role': 'user', 'content': 'hi'}]}\n"
        "try:\n"
        "    for chunk in stream_chat_completion(body, config=Config(pool_size=0,\n"
        "                                                             max_retries=0)):\n"
        "        pass\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "close_pools()\n")
    upstream.queue(Reply(deltas=["a"] * 100, delay=0.1))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "interrupted", done.stderr
    assert "already running" not in done.stderr and "Traceback" not in done.stderr
