"""Pure translation, response side: real SDK message objects -> OpenAI completions and chunks."""

from __future__ import annotations

from typing import Any

import pytest
from claude_agent_sdk import AssistantMessage, ResultMessage, StreamEvent, SystemMessage, TextBlock
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from claude_openai import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamAuthError,
    UpstreamError,
)
from claude_openai._chat.completion import CompletionBuilder, openai_usage

USAGE = {"input_tokens": 11, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 5}


def event(payload: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=payload)


def result(**fields: Any) -> ResultMessage:
    values: dict[str, Any] = {"subtype": "success", "duration_ms": 1, "duration_api_ms": 1,
                              "is_error": False, "num_turns": 1, "session_id": "s"}
    return ResultMessage(**{**values, **fields})


def run(texts: list[str], stop: str = "end_turn", output_tokens: int = 2) -> list[Any]:
    return [
        SystemMessage("init", {"model": "claude-opus-5-5"}),
        event({"type": "message_start",
               "message": {"model": "claude-sonnet-5-5", "usage": {**USAGE, "output_tokens": 1}}}),
        event({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
        *[event({"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": t}}) for t in texts],
        AssistantMessage(content=[TextBlock("".join(texts))], model="claude-sonnet-5-5"),
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_delta", "delta": {"stop_reason": stop},
               "usage": {"output_tokens": output_tokens}}),
        event({"type": "message_stop"}),
        result(stop_reason=stop),
    ]


def feed_all(builder: CompletionBuilder, messages: list[Any]) -> list[dict[str, Any]]:
    return [chunk for m in messages for chunk in builder.feed(m)]


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    assert openai_usage({**USAGE, "output_tokens": 7,
                         "output_tokens_details": {"thinking_tokens": 2}}) == {
        "prompt_tokens": 19, "completion_tokens": 7, "total_tokens": 26,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


def test_completion_validates_and_reports_what_ran() -> None:
    builder = CompletionBuilder(model="sonnet")
    feed_all(builder, run(["Hello", " world"]))
    completion = ChatCompletion.model_validate(builder.completion())
    assert completion.model == "claude-sonnet-5-5"
    assert completion.choices[0].message.content == "Hello world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (19, 2)


def test_stream_is_one_chunk_per_delta_role_first_finish_last() -> None:
    builder = CompletionBuilder(model=None, include_usage=True)
    chunks = [ChatCompletionChunk.model_validate(c)
              for c in feed_all(builder, run(["a", "b", "c"], output_tokens=3))]
    assert [c.choices[0].delta.content for c in chunks[:3]] == ["a", "b", "c"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:3])
    assert chunks[3].choices[0].finish_reason == "stop"
    assert chunks[4].choices == [] and chunks[4].usage is not None
    assert chunks[4].usage.completion_tokens == 3
    assert len({c.id for c in chunks}) == 1


def test_an_empty_answer_still_sends_the_role() -> None:
    chunks = feed_all(CompletionBuilder(model=None), run([]))
    assert chunks == [chunks[0]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


@pytest.mark.parametrize(("stop", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("refusal", "content_filter"),
])
def test_finish_reason_follows_the_stop_reason(stop: str, finish: str) -> None:
    builder = CompletionBuilder(model=None)
    feed_all(builder, run(["x"], stop=stop))
    assert builder.completion()["choices"][0]["finish_reason"] == finish


def test_budget_guard_result_is_not_an_error_and_usage_comes_from_the_stream() -> None:
    builder = CompletionBuilder(model=None)
    messages = run(["x"], stop="max_tokens")
    messages[-1] = result(subtype="error_max_budget_usd", is_error=True, stop_reason="max_tokens",
                          usage={"input_tokens": 0, "output_tokens": 0})
    feed_all(builder, messages)
    assert builder.completion()["usage"]["prompt_tokens"] == 19


def failing(status: int | None, kind: str | None, retry: int | None = None) -> list[Any]:
    messages: list[Any] = []
    if retry:
        messages.append(SystemMessage("api_retry", {"retry_delay_ms": retry}))
    messages.append(AssistantMessage(content=[TextBlock("API Error")], model="<synthetic>",
                                     error=kind))  # type: ignore[arg-type]
    messages.append(result(is_error=True, api_error_status=status, result="API Error: x"))
    return messages


@pytest.mark.parametrize(("status", "kind", "error", "http"), [
    (429, "rate_limit", RateLimitError, 429),
    (529, "server_error", ServiceUnavailableError, 503),
    (401, "authentication_failed", UpstreamAuthError, 502),
    (400, "invalid_request", InvalidRequestError, 400),
    (500, "server_error", UpstreamError, 502),
    (None, "billing_error", RateLimitError, 429),
    (None, None, UpstreamError, 502),
])
def test_upstream_errors_map_to_statuses(status: int | None, kind: str | None,
                                         error: type[Exception], http: int) -> None:
    builder = CompletionBuilder(model=None)
    with pytest.raises(error) as info:
        feed_all(builder, failing(status, kind))
    assert info.value.status_code == http  # type: ignore[attr-defined]


def test_auth_failure_tells_the_operator_what_to_do() -> None:
    with pytest.raises(UpstreamAuthError) as info:
        feed_all(CompletionBuilder(model=None), failing(401, "authentication_failed"))
    assert "claude login" in info.value.message and "ANTHROPIC_API_KEY" in info.value.message


def test_rate_limit_carries_retry_after_when_known() -> None:
    with pytest.raises(RateLimitError) as info:
        feed_all(CompletionBuilder(model=None), failing(429, "rate_limit", retry=2400))
    assert info.value.headers == {"Retry-After": "2"}
    with pytest.raises(RateLimitError) as info:
        feed_all(CompletionBuilder(model=None), failing(429, "rate_limit"))
    assert info.value.headers == {}
