"""End to end: Claude's thinking shown to clients and carried across tool calls, on both model
families, through the real CLI against the strict fake API (which refuses what the real one does:
a manual-thinking tool turn without its signed blocks, a modified block, sampling with thinking).

The adaptive family is the CLI's default model (claude-opus-5-5); the manual one claude-sonnet-4-5,
for which Claude Code sends ``thinking: {"type": "enabled", "budget_tokens": …}``.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from openai.types.chat import ChatCompletion
from servers import ThreadedServer

from claude_openai import Config, chat_completion, create_app, stream_chat_completion

pytestmark = pytest.mark.e2e

ADAPTIVE, MANUAL = None, "claude-sonnet-4-5"
FAMILIES = pytest.mark.parametrize("model", [ADAPTIVE, MANUAL], ids=["adaptive", "manual"])
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def ask(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def body(model: str | None, messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"messages": messages, "tools": [WEATHER], **({"model": model} if model else {}),
            **fields}


def complete(request: dict[str, Any], config: Config, *, stream: bool) -> dict[str, Any]:
    """The assistant message, assembled from the stream when ``stream``."""
    if not stream:
        return chat_completion(request, config=config)["choices"][0]["message"]
    message: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": [],
                               "thinking_blocks": []}
    for chunk in stream_chat_completion(request, config=config):
        for choice in chunk["choices"]:
            delta = choice["delta"]
            message["content"] += delta.get("content") or ""
            message["reasoning_content"] += delta.get("reasoning_content") or ""
            message["thinking_blocks"] += delta.get("thinking_blocks") or []
            for call in delta.get("tool_calls") or []:
                if call.get("id"):
                    message["tool_calls"].append({"id": call["id"], "type": "function",
                                                  "function": dict(call["function"])})
                else:
                    message["tool_calls"][call["index"]]["function"]["arguments"] += call[
                        "function"]["arguments"]
    return message


def plain(message: dict[str, Any]) -> dict[str, Any]:
    """The message as a client that drops unknown fields echoes it: content and tool calls."""
    echoed = {"role": "assistant", "content": message.get("content") or None}
    if message.get("tool_calls"):
        echoed["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
            "name": c["function"]["name"], "arguments": c["function"]["arguments"]}}
            for c in message["tool_calls"]]
    return echoed


def results(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "tool", "tool_call_id": c["id"],
             "content": "sunny in " + json.loads(c["function"]["arguments"])["city"]}
            for c in message["tool_calls"]]


def calls_of(step: int, parallel: bool) -> list[dict[str, Any]]:
    cities = ["Paris", "Rome"] if parallel else ["Oslo"]
    return [{"name": "get_weather", "input": {"city": c}, "id": f"toolu_s{step}{c.lower()}"}
            for c in cities]


def assistant_turns(call: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [m["content"] for m in call["messages"] if m["role"] == "assistant"]


def thinking_of(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in content if b["type"] in ("thinking", "redacted_thinking")]


# -- shown ---------------------------------------------------------------------------------------
@FAMILIES
def test_thinking_is_shown_as_reasoning_content(upstream: FakeUpstream, config: Config,
                                                model: str | None) -> None:
    upstream.queue(Reply(thinking=["Paris ", "is ", "the ", "capital."], text="Paris."))
    completion = ChatCompletion.model_validate(
        chat_completion({"messages": [ask("Capital of France?")],
                         **({"model": model} if model else {})}, config=config))
    message = completion.choices[0].message
    assert message.content == "Paris."
    assert (message.model_extra or {})["reasoning_content"] == "Paris is the capital."
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens > 0  # type: ignore[union-attr]
    [call] = upstream.calls
    assert call["thinking"]["display"] == "summarized", "models that omit it are asked"


def test_thinking_streams_before_the_content(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(Reply(thinking=["first ", "this"], text="Then that."))
    deltas = [c["choices"][0]["delta"] for c in stream_chat_completion(
        {"messages": [ask("go")]}, config=config) if c["choices"]]
    kinds = [k for d in deltas for k in ("reasoning_content", "content") if d.get(k)]
    assert kinds == ["reasoning_content"] * 2 + ["content"] * 2
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "first this"


def test_reasoning_off_shows_none_and_asks_for_none(upstream: FakeUpstream) -> None:
    config = Config(timeout=60, max_retries=0, pool_size=0, reasoning="off")
    upstream.queue(Reply(thinking=["secret"], text="Hi."))
    message = chat_completion({"messages": [ask("hi")]}, config=config)["choices"][0]["message"]
    assert "reasoning_content" not in message and message["content"] == "Hi."
    assert upstream.calls[0]["thinking"]["display"] == "omitted"


def test_the_official_client_reads_reasoning_content(upstream: FakeUpstream,
                                                     config: Config) -> None:
    server = ThreadedServer(create_app(config)).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        upstream.queue(Reply(thinking=["hmm"], text="Yes."))
        response = client.chat.completions.create(model="sonnet", messages=[ask("ok?")])
        assert (response.choices[0].message.model_extra or {})["reasoning_content"] == "hmm"
        upstream.queue(Reply(thinking=["hmm"], text="Yes."))
        stream = client.chat.completions.create(model="sonnet", messages=[ask("ok?")],
                                                stream=True)
        shown = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in stream if c.choices)
        assert shown == "hmm"
    finally:
        server.stop()


# -- carried across tool calls -------------------------------------------------------------------
@FAMILIES
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("parallel", [False, True], ids=["single", "parallel"])
def test_a_three_step_tool_loop_keeps_its_thinking(upstream: FakeUpstream, config: Config,
                                                   model: str | None, stream: bool,
                                                   parallel: bool) -> None:
    messages = [ask("Weather, step by step?")]
    answers = []
    for step in range(3):
        upstream.queue(Reply(thinking=[f"step {step}: ", "check."], text=f"Step {step}.",
                             tools=calls_of(step, parallel)))
        answer = complete(body(model, messages), config, stream=stream)
        assert answer["reasoning_content"] == f"step {step}: check."
        answers.append(answer)
        messages += [plain(answer), *results(answer)]  # the client drops unknown fields
    upstream.queue(Reply(text="All sunny."))
    final = complete(body(model, messages), config, stream=stream)
    assert final["content"] == "All sunny."
    # Each follow-up carries every earlier answer's signed blocks, byte for byte, in order
    for n, call in enumerate(upstream.calls[1:], start=1):
        sent = [thinking_of(c) for c in assistant_turns(call)]
        assert sent == [a["thinking_blocks"] for a in answers[:n]], f"call {n + 1}"
        assert call.get("thinking"), "thinking stays on"


@FAMILIES
def test_redacted_thinking_is_carried_back(upstream: FakeUpstream, config: Config,
                                           model: str | None) -> None:
    upstream.queue(Reply(thinking=["visible"], redacted=1, text="", tools=calls_of(0, False)))
    first = complete(body(model, [ask("w?")]), config, stream=False)
    assert [b["type"] for b in first["thinking_blocks"]] == ["thinking", "redacted_thinking"]
    upstream.queue(Reply(text="Sunny."))
    complete(body(model, [ask("w?"), plain(first), *results(first)]), config, stream=True)
    [sent] = assistant_turns(upstream.calls[1])
    assert thinking_of(sent) == first["thinking_blocks"]


@pytest.fixture
def other_instance() -> Config:
    """Another server instance (or this one after a restart): its own, empty thinking store."""
    return Config(timeout=60, max_retries=0, pool_size=0, thinking_store_max_age=7199)


@FAMILIES
def test_a_follow_up_elsewhere_still_succeeds(upstream: FakeUpstream, config: Config,
                                              other_instance: Config, model: str | None) -> None:
    upstream.queue(Reply(thinking=["plan"], text="Checking.", tools=calls_of(0, False)))
    first = complete(body(model, [ask("w?")]), config, stream=False)
    upstream.queue(Reply(text="Sunny."))
    final = complete(body(model, [ask("w?"), plain(first), *results(first)]), other_instance,
                     stream=False)
    assert final["content"] == "Sunny."
    follow_up = upstream.calls[1]
    assert thinking_of(assistant_turns(follow_up)[0]) == []
    if model == MANUAL:  # the API would refuse the turn without its blocks: thinking off
        assert "thinking" not in follow_up
    else:  # adaptive: the rule is relaxed, thinking stays on
        assert follow_up["thinking"]["type"] == "adaptive"


@FAMILIES
def test_signed_blocks_sent_back_by_the_client_are_used(upstream: FakeUpstream, config: Config,
                                                        other_instance: Config,
                                                        model: str | None) -> None:
    upstream.queue(Reply(thinking=["plan"], redacted=1, text="", tools=calls_of(0, False)))
    first = complete(body(model, [ask("w?")]), config, stream=False)
    upstream.queue(Reply(text="Sunny."))
    echoed = {**plain(first), "thinking_blocks": first["thinking_blocks"]}
    complete(body(model, [ask("w?"), echoed, *results(first)]), other_instance, stream=False)
    follow_up = upstream.calls[1]
    assert thinking_of(assistant_turns(follow_up)[0]) == first["thinking_blocks"]
    assert follow_up.get("thinking"), "thinking stays on"


def test_litellm_sends_thinking_blocks_back(upstream: FakeUpstream, config: Config,
                                            other_instance: Config) -> None:
    import litellm  # imported here: it takes a second or two

    upstream.queue(Reply(thinking=["plan"], text="", tools=calls_of(0, False)))
    first = chat_completion(body(MANUAL, [ask("w?")]), config=config)["choices"][0]["message"]
    # What LiteLLM's openai provider makes of that answer: its thinking_blocks are kept
    kept = litellm.utils.convert_to_model_response_object(
        {"id": "x", "object": "chat.completion", "created": 0, "model": MANUAL,
         "choices": [{"index": 0, "message": first, "finish_reason": "tool_calls"}]},
        litellm.ModelResponse()).choices[0].message
    assert kept.thinking_blocks == first["thinking_blocks"]
    echoed = kept.model_dump()
    second = ThreadedServer(create_app(other_instance)).start()  # its own, empty store
    try:
        upstream.queue(Reply(text="Sunny."))
        final = litellm.completion(model=f"openai/{MANUAL}", api_base=second.url + "/v1",
                                   api_key="x", tools=[WEATHER],
                                   messages=[ask("w?"), echoed, *results(first)])
    finally:
        second.stop()
    assert final.choices[0].message.content == "Sunny."
    follow_up = upstream.calls[1]
    assert thinking_of(assistant_turns(follow_up)[0]) == first["thinking_blocks"]
    assert follow_up["thinking"]["type"] == "enabled", "manual thinking stays on"


# -- what the project never sends ----------------------------------------------------------------
@pytest.mark.parametrize(("model", "fields", "thinking"), [
    (ADAPTIVE, {"temperature": 0.7, "top_p": 0.9}, None),
    (MANUAL, {"temperature": 0.7, "top_p": 0.9}, None),
    (MANUAL, {"top_p": 0.5}, 31999),  # dropped: Claude Code would add temperature 1
    (ADAPTIVE, {"top_p": 0.5}, None),
    (MANUAL, {"top_p": 0.96}, 31999),  # allowed with thinking on
    (MANUAL, {"max_tokens": 50}, None),
    (MANUAL, {"max_tokens": 3000}, 1500),
    (MANUAL, {"max_completion_tokens": 1500}, None),
    (ADAPTIVE, {"reasoning_effort": "none"}, None),
    (MANUAL, {"reasoning_effort": "none"}, None),
    (MANUAL, {"tool_choice": "required"}, None),
])
def test_parameters_never_reach_the_api_in_a_form_it_refuses(
        upstream: FakeUpstream, config: Config, model: str | None, fields: dict[str, Any],
        thinking: int | None) -> None:
    # (the strict fake refuses every form the API refuses; this checks the choice made)
    completion = chat_completion(body(model, [ask("hello world")], **fields), config=config)
    assert completion["choices"][0]["message"]["content"]
    [call] = upstream.calls
    assert (call.get("thinking") or {}).get("budget_tokens") == thinking
    assert ("thinking" in call) is (thinking is not None)


def test_a_warm_process_gets_each_request_s_thinking_budget(upstream: FakeUpstream) -> None:
    import anyio

    from claude_openai import achat_completion, aclose_pools

    config = Config(timeout=60, max_retries=0, pool_size=2, pool_spares=1)

    async def main() -> dict[str, int]:
        try:
            for max_tokens in (4000, 3000, None):
                await anyio.sleep(0.3)  # the spare (re)started
                fields = {"max_tokens": max_tokens} if max_tokens else {}
                await achat_completion(body(MANUAL, [ask("hi")], **fields), config=config)
            from claude_openai._engine.runtime import pool_for
            return dict(pool_for(config).counts)
        finally:
            await aclose_pools()

    counts = anyio.run(main)
    assert counts.get("cold", 0) == 0, counts  # set on warm processes, not at spawn
    assert [c["thinking"]["budget_tokens"] for c in upstream.calls] == [2000, 1500, 31999]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_awkward_histories_become_valid_requests(upstream: FakeUpstream, config: Config,
                                                 stream: bool) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        ask("  "),  # whitespace only, then a real question
        {"role": "user", "content": [{"type": "text", "text": "weather?"},
                                     {"type": "text", "text": "\n"}]},
        {"role": "assistant", "content": ""},  # empty content
        ask("again?"),
        {"role": "assistant", "content": None, "tool_calls": [{  # null content with a call
            "id": "call_1", "type": "function",
            "function": {"name": "untyped", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
    ]
    tools = [{"type": "function", "function": {"name": "untyped"}},  # no parameters
             {"type": "function", "function": {"name": "loose", "parameters": {
                 "properties": {"x": {"type": "string"}}}}}]  # no "type"
    answer = complete({"messages": messages, "tools": tools}, config, stream=stream)
    assert answer["content"]
    [call] = upstream.calls
    assert all(t["input_schema"]["type"] == "object" for t in call["tools"])


def test_a_rebuilt_history_carries_the_blocks_a_sticky_process_holds(
        upstream: FakeUpstream) -> None:
    import anyio

    from claude_openai import achat_completion, aclose_pools

    config = Config(timeout=60, max_retries=0, pool_size=2, pool_spares=1)
    first = [ask("think first")]

    async def main() -> dict[str, Any]:
        try:
            upstream.queue(Reply(thinking=["deep ", "thought"], redacted=1, text="Answer one."))
            one = (await achat_completion({"messages": first}, config=config))["choices"][0]
            history = [*first, plain(one["message"])]
            # turn 2 rebuilds the history on a new process, which then holds it; turn 3 sticks
            await achat_completion({"messages": [*history, ask("two")]}, config=config)
            await achat_completion({"messages": [*history, ask("two"), {
                "role": "assistant", "content": "ECHO: two"}, ask("three")]}, config=config)
            assert pool_counts(config)["sticky"] == 1
            return dict(one["message"])
        finally:
            await aclose_pools()

    def pool_counts(config: Config) -> dict[str, int]:
        from claude_openai._engine.runtime import pool_for
        return dict(pool_for(config).counts)

    answer = anyio.run(main)
    _, rebuilt, sticky = upstream.calls
    assert [b["type"] for b in assistant_turns(rebuilt)[0]] == [
        "thinking", "redacted_thinking", "text"]
    assert thinking_of(assistant_turns(rebuilt)[0]) == answer["thinking_blocks"]
    assert assistant_turns(rebuilt)[0] == assistant_turns(sticky)[0]

