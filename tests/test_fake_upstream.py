"""The fake Anthropic API refuses what the real one refuses, with the real 400, and accepts the
matching valid request; its thinking blocks are signed and checked when they come back; its
simulated prompt cache (opt-in) reads and writes prefixes the way Anthropic's does.

Fast unit-level tests: plain HTTP to a fake of their own on 127.0.0.1, no CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_upstream import (
    ADAPTIVE_UNSUPPORTED,
    BAD_SIGNATURE,
    DEFAULT_USAGE,
    EMPTY_MESSAGE,
    ENABLED_UNSUPPORTED,
    MODIFIED,
    THINKING_FIRST,
    UNANSWERED,
    UNEXPECTED_RESULT,
    FakeUpstream,
    PromptCache,
    Reply,
    api_error,
    cache_segments,
    model_family,
    verify,
)

ADAPTIVE_MODEL = "claude-sonnet-5-5"
MANUAL_MODEL = "claude-sonnet-4-5"
ADAPTIVE = {"type": "adaptive"}
MANUAL = {"type": "enabled", "budget_tokens": 2000}
INTERLEAVED = {"anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}
WEATHER = {"name": "get_weather", "description": "Weather.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeUpstream) -> Iterator[FakeUpstream]:
    server.reset()
    server.expect_refusals()  # refusing is what these tests are about
    yield server


def request(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": ADAPTIVE_MODEL, "max_tokens": 4000,
                            "messages": [{"role": "user", "content": "hi"}]}
    return {**body, **fields}


def post(fake: FakeUpstream, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=fake.url, trust_env=False, timeout=10) as client:
        return client.post("/v1/messages", json=body, headers=headers or {})


def refused(fake: FakeUpstream, body: Any, message: str,
            headers: dict[str, str] | None = None) -> None:
    response = post(fake, body, headers)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == {"type": "invalid_request_error", "message": message}
    assert answer["type"] == "error" and answer["request_id"].startswith("req_fake")
    assert response.headers["x-should-retry"] == "false"
    assert fake.refusals[-1] == (body, message)


def accepted(fake: FakeUpstream, body: Any, headers: dict[str, str] | None = None,
             ) -> dict[str, Any]:
    before = len(fake.refusals)
    response = post(fake, body, headers)
    assert response.status_code == 200, response.text
    assert len(fake.refusals) == before
    return response.json()


def answer(fake: FakeUpstream, reply: Reply | None = None, **fields: Any) -> dict[str, Any]:
    """A non-streamed answer to ``request(**fields)``."""
    if reply is not None:
        fake.queue(reply)
    return accepted(fake, request(**fields))


# -- the refusal itself -----------------------------------------------------------------------

def test_a_refusal_has_the_real_shape_and_leaves_the_scripted_reply_queued(
        fake: FakeUpstream) -> None:
    fake.queue(Reply(text="kept"))
    body = request(temperature=0.5, top_p=0.5)
    refused(fake, body, "`temperature` and `top_p` cannot both be specified for this model."
                        " Please use only one.")
    assert fake.calls == [body], "a refused request is still recorded"
    assert answer(fake)["content"] == [{"type": "text", "text": "kept"}]


def test_the_check_fails_a_test_with_an_unexpected_refusal(server: FakeUpstream) -> None:
    server.reset()
    refused(server, request(messages=[{"role": "user", "content": ""}]),
            EMPTY_MESSAGE.format(i=0))
    with pytest.raises(AssertionError) as info:
        server.check_refusals()
    assert "messages.0: all messages must have non-empty content" in str(info.value)
    assert "- call 1, model 'claude-sonnet-5-5', last user text ''" in str(info.value)
    server.check_refusals()  # reported once: the refusal is taken out
    server.reset()
    assert server.stray_refusals == []


def test_expected_refusals_pass_the_check(server: FakeUpstream) -> None:
    server.reset()
    server.expect_refusals()
    refused(server, request(top_k=5, thinking=ADAPTIVE),
            "`top_k` must be unset when thinking is enabled.")
    server.check_refusals()
    server.reset()
    assert server.stray_refusals == []


def test_refusals_nobody_checked_are_kept_as_stray(server: FakeUpstream) -> None:
    server.reset()
    body = request(messages=[{"role": "user", "content": " "}])
    refused(server, body, "messages: text content blocks must contain non-whitespace text")
    server.reset()
    assert server.stray_refusals == [(body, server.stray_refusals[0][1])]
    server.stray_refusals.clear()


def test_a_request_that_is_not_an_object_is_refused(fake: FakeUpstream) -> None:
    refused(fake, [1, 2], "messages: Field required")
    refused(fake, {"model": ADAPTIVE_MODEL}, "messages: Field required")


# -- sampling parameters ----------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "message"), [
    ({"temperature": 0.2, "top_p": 0.9},
     "`temperature` and `top_p` cannot both be specified for this model. Please use only one."),
    ({"thinking": ADAPTIVE, "temperature": 0.5},
     "`temperature` may only be set to 1 when thinking is enabled."),
    ({"thinking": ADAPTIVE, "top_k": 5}, "`top_k` must be unset when thinking is enabled."),
    ({"thinking": ADAPTIVE, "top_p": 0.9},
     "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."),
    ({"thinking": ADAPTIVE, "tools": [WEATHER], "tool_choice": {"type": "any"}},
     "Thinking may not be enabled when tool_choice forces tool use."),
    ({"thinking": ADAPTIVE, "tools": [WEATHER],
      "tool_choice": {"type": "tool", "name": "get_weather"}},
     "Thinking may not be enabled when tool_choice forces tool use."),
    ({"model": MANUAL_MODEL, "thinking": MANUAL, "temperature": 0},
     "`temperature` may only be set to 1 when thinking is enabled."),
])
def test_sampling_parameters_the_api_refuses(fake: FakeUpstream, fields: dict[str, Any],
                                             message: str) -> None:
    refused(fake, request(**fields), message)


@pytest.mark.parametrize("fields", [
    {"temperature": 0.2}, {"top_p": 0.5}, {"top_k": 5, "temperature": 0.3},
    {"tools": [WEATHER], "tool_choice": {"type": "any"}},
    {"thinking": {"type": "disabled"}, "temperature": 0.1},
    {"thinking": ADAPTIVE, "temperature": 1}, {"thinking": ADAPTIVE, "top_p": 0.95},
    {"thinking": ADAPTIVE, "tools": [WEATHER], "tool_choice": {"type": "auto"}},
    {"thinking": ADAPTIVE, "tools": [WEATHER], "tool_choice": {"type": "none"}},
])
def test_sampling_parameters_the_api_accepts(fake: FakeUpstream, fields: dict[str, Any]) -> None:
    accepted(fake, request(**fields))


# -- thinking configuration per model ---------------------------------------------------------

@pytest.mark.parametrize(("model", "family"), [
    ("claude-sonnet-4-5", "manual"), ("claude-sonnet-4-5-20250929", "manual"),
    ("claude-opus-4-5", "manual"), ("claude-haiku-4-5", "manual"), ("claude-opus-4-1", "manual"),
    ("claude-opus-4-20250514", "manual"), ("claude-sonnet-4-0", "manual"),
    ("claude-3-7-sonnet-20250219", "manual"),
    ("claude-opus-4-6", None), ("claude-sonnet-4-6", None),
    ("claude-opus-4-7", "adaptive"), ("claude-opus-5-5", "adaptive"),
    ("claude-sonnet-5-5", "adaptive"), ("claude-haiku-5-5", "adaptive"),
    ("claude-fable-5-2", "adaptive"), ("claude-sonnet-5", "adaptive"),
    ("gpt-4o", None), ("my-custom-model", None), (None, None),
])
def test_model_families(model: Any, family: str | None) -> None:
    assert model_family(model) == family


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5",
                                   "claude-opus-4-1-20250805"])
def test_a_manual_thinking_model_refuses_adaptive(fake: FakeUpstream, model: str) -> None:
    refused(fake, request(model=model, thinking=ADAPTIVE), ADAPTIVE_UNSUPPORTED)
    accepted(fake, request(model=model, thinking=MANUAL))


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5",
                                   "claude-fable-5-2"])
def test_an_adaptive_model_refuses_manual_thinking(fake: FakeUpstream, model: str) -> None:
    refused(fake, request(model=model, thinking=MANUAL), ENABLED_UNSUPPORTED)
    accepted(fake, request(model=model, thinking={"type": "adaptive", "display": "updates"}))


@pytest.mark.parametrize("model", ["gpt-4o", "my-custom-model", "claude-sonnet-4-6"])
def test_other_models_take_either_mode(fake: FakeUpstream, model: str) -> None:
    accepted(fake, request(model=model, thinking=ADAPTIVE))
    accepted(fake, request(model=model, thinking=MANUAL))


def test_a_budget_under_1024_is_refused(fake: FakeUpstream) -> None:
    body = request(model=MANUAL_MODEL, thinking={"type": "enabled", "budget_tokens": 1023})
    refused(fake, body, "thinking.enabled.budget_tokens: Input should be greater than or equal"
                        " to 1024", INTERLEAVED)
    accepted(fake, request(model=MANUAL_MODEL, thinking={"type": "enabled",
                                                         "budget_tokens": 1024}))


@pytest.mark.parametrize("budget", [4000, 31999])
def test_a_budget_reaching_max_tokens_needs_interleaved_thinking(fake: FakeUpstream,
                                                                 budget: int) -> None:
    body = request(model=MANUAL_MODEL, thinking={"type": "enabled", "budget_tokens": budget})
    refused(fake, body, "`max_tokens` must be greater than `thinking.budget_tokens`.")
    refused(fake, body, "`max_tokens` must be greater than `thinking.budget_tokens`.",
            {"anthropic-beta": "claude-code-20250219,context-management-2025-06-27"})
    accepted(fake, body, INTERLEAVED)
    accepted(fake, body, {"Anthropic-Beta": "interleaved-thinking-2025-05-14"})
    accepted(fake, request(model=MANUAL_MODEL, max_tokens=budget + 1,
                           thinking={"type": "enabled", "budget_tokens": budget}))


# -- text and empty messages ------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "message"), [
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
     "messages: text content blocks must be non-empty"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                 {"type": "text", "text": " \n"}]}]},
     "messages: text content blocks must contain non-whitespace text"),
    ({"messages": [{"role": "user", "content": "  "}]},
     "messages: text content blocks must contain non-whitespace text"),
    ({"system": [{"type": "text", "text": ""}]}, "system: text content blocks must be non-empty"),
    ({"system": [{"type": "text", "text": "ok"}, {"type": "text", "text": "\t"}]},
     "system: text content blocks must contain non-whitespace text"),
    ({"messages": [{"role": "user", "content": ""}]}, EMPTY_MESSAGE.format(i=0)),
    ({"messages": [{"role": "user", "content": []}]}, EMPTY_MESSAGE.format(i=0)),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": []},
                   {"role": "assistant", "content": "hello"},
                   {"role": "user", "content": "again"}]}, EMPTY_MESSAGE.format(i=1)),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""},
                   {"role": "user", "content": "again"}]}, EMPTY_MESSAGE.format(i=1)),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": ""}]},
     EMPTY_MESSAGE.format(i=1)),
])
def test_empty_text_is_refused(fake: FakeUpstream, fields: dict[str, Any], message: str) -> None:
    refused(fake, request(**fields), message)


@pytest.mark.parametrize("fields", [
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
    {"system": [{"type": "text", "text": "Be terse."}]},
    {"system": "Be terse."},
    {"messages": [{"role": "user", "content": "hi"},
                  {"role": "system", "content": [{"type": "text", "text": "# Environment"}]}]},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": []}]},
])
def test_non_empty_text_is_accepted(fake: FakeUpstream, fields: dict[str, Any]) -> None:
    accepted(fake, request(**fields))


# -- tool_use and tool_result pairs -----------------------------------------------------------

def call(*ids: str, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": "get_weather", "input": {"city": i}}
                for i in ids]
    return {"role": "assistant", "content": content}


def results(*ids: str, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": i, "content": "22C"}
                                     for i in ids]
    content += [{"type": "text", "text": text}] if text else []
    return {"role": "user", "content": content}


ASK = {"role": "user", "content": "weather?"}
ENVIRONMENT = {"role": "system", "content": [{"type": "text", "text": "# Environment"}]}


@pytest.mark.parametrize(("messages", "message"), [
    ([ASK, results("toolu_x")], UNEXPECTED_RESULT.format(i=1, j=0, id="toolu_x")),
    ([ASK, call("toolu_a"), results("toolu_a", "toolu_b")],
     UNEXPECTED_RESULT.format(i=2, j=1, id="toolu_b")),
    ([ASK, call("toolu_a"), results("toolu_a"), {"role": "assistant", "content": "ok"},
      results("toolu_a")], UNEXPECTED_RESULT.format(i=4, j=0, id="toolu_a")),
    ([ASK, call("toolu_a"), {"role": "user", "content": "never mind"}],
     UNANSWERED.format(i=1, ids="toolu_a")),
    ([ASK, call("toolu_a", "toolu_b", "toolu_c"), results("toolu_b")],
     UNANSWERED.format(i=1, ids="toolu_a, toolu_c")),
    ([ASK, call("toolu_a"), ENVIRONMENT, {"role": "user", "content": "next"}],
     UNANSWERED.format(i=1, ids="toolu_a")),
    ([ASK, call("toolu_a"), {"role": "assistant", "content": "more"}, results("toolu_a")],
     UNANSWERED.format(i=1, ids="toolu_a")),
])
def test_unpaired_tool_blocks_are_refused(fake: FakeUpstream, messages: list[Any],
                                          message: str) -> None:
    refused(fake, request(messages=messages, tools=[WEATHER]), message)


@pytest.mark.parametrize("messages", [
    [ASK, call("toolu_a", "toolu_b"), results("toolu_b", "toolu_a", text="Continue.")],
    [ASK, call("toolu_a", text="Let me check."), ENVIRONMENT, results("toolu_a")],
    [ASK, ENVIRONMENT, call("toolu_a"), ENVIRONMENT, results("toolu_a"), ENVIRONMENT],
    [ASK, call("toolu_a")],  # a final tool call, answered by nothing yet
    [ASK, call("toolu_a"), ENVIRONMENT],
])
def test_paired_tool_blocks_are_accepted(fake: FakeUpstream, messages: list[Any]) -> None:
    accepted(fake, request(messages=messages, tools=[WEATHER]))


# -- tools ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("tool", "message"), [
    ({**WEATHER, "input_schema": {"type": "string"}},
     "tools.1.custom.input_schema.type: Input should be 'object'"),
    ({**WEATHER, "input_schema": {"properties": {}}},
     "tools.1.custom.input_schema.type: Input should be 'object'"),
    ({"name": "get_weather", "description": "no schema"},
     "tools.1.custom.input_schema: Field required"),
    ({**WEATHER, "name": "search.docs"},
     "tools.1.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
    ({**WEATHER, "name": "x" * 65},
     "tools.1.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
    ({**WEATHER, "input_schema": {"type": "object", "anyOf": [
        {"properties": {"city": {"type": "string"}}},
        {"properties": {"zip": {"type": "string"}}}]}},
     "tools.1.custom.input_schema: input_schema does not support oneOf, allOf, or anyOf at the "
     "top level"),
])
def test_bad_tools_are_refused(fake: FakeUpstream, tool: dict[str, Any], message: str) -> None:
    refused(fake, request(tools=[{**WEATHER, "name": "first"}, tool]), message)


def test_good_tools_are_accepted(fake: FakeUpstream) -> None:
    union_inside = {"type": "object", "properties": {"where": {"anyOf": [
        {"type": "string"}, {"type": "null"}]}}}  # a union below the root is fine
    accepted(fake, request(tools=[WEATHER, {**WEATHER, "name": "no_props",
                                            "input_schema": {"type": "object"}},
                                  {**WEATHER, "name": "inner", "input_schema": union_inside},
                                  {"type": "web_search_20250305", "name": "web_search"}]))


# -- thinking output --------------------------------------------------------------------------

def thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["content"] if b["type"] in ("thinking", "redacted_thinking")]


def test_no_thinking_without_thinking_on(fake: FakeUpstream) -> None:
    message = answer(fake, Reply(text="plain", thinking=["hidden"], redacted=1))
    assert message["content"] == [{"type": "text", "text": "plain"}]
    assert "output_tokens_details" not in message["usage"]


def test_a_manual_model_always_thinks_first(fake: FakeUpstream) -> None:
    message = answer(fake, model=MANUAL_MODEL, thinking=MANUAL)
    first, text = message["content"]
    assert (first["type"], first["thinking"]) == ("thinking", "Thinking about: hi")
    assert verify(first) is not None
    assert text == {"type": "text", "text": "ECHO: hi"}
    assert fake.issued[message["id"]] == [first]
    assert message["usage"]["output_tokens_details"] == {"thinking_tokens": 3}
    assert message["usage"]["output_tokens"] == 5


def test_an_adaptive_model_thinks_only_when_scripted(fake: FakeUpstream) -> None:
    assert thinking_blocks(answer(fake, thinking={"type": "adaptive", "display": "summarized"})
                           ) == []
    message = answer(fake, Reply(thinking=["Let me ", "see."]),
                     thinking={"type": "adaptive", "display": "summarized"})
    assert message["content"][0]["thinking"] == "Let me see."
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]


@pytest.mark.parametrize(("model", "thinking", "shown"), [
    (ADAPTIVE_MODEL, {"type": "adaptive"}, False),  # the newest models omit by default
    (ADAPTIVE_MODEL, {"type": "adaptive", "display": "omitted"}, False),
    (ADAPTIVE_MODEL, {"type": "adaptive", "display": "updates"}, True),
    (ADAPTIVE_MODEL, {"type": "adaptive", "display": "summarized"}, True),
    (MANUAL_MODEL, MANUAL, True),  # earlier models summarize by default
    (MANUAL_MODEL, {**MANUAL, "display": "omitted"}, False),
    (MANUAL_MODEL, {**MANUAL, "display": "updates"}, True),
    ("claude-opus-4-6", {"type": "adaptive"}, True),
])
def test_thinking_display(fake: FakeUpstream, model: str, thinking: dict[str, Any],
                          shown: bool) -> None:
    message = answer(fake, Reply(thinking=["deep thought"]), model=model, thinking=thinking)
    [block] = thinking_blocks(message)
    assert block["thinking"] == ("deep thought" if shown else "")
    assert block["signature"] and verify(block) is not None


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in response.text.splitlines()
            if line.startswith("data: ")]


@pytest.mark.parametrize("display", ["summarized", "omitted"])
def test_streamed_thinking_has_the_real_event_shape(fake: FakeUpstream, display: str) -> None:
    fake.queue(Reply(text="two words", thinking=["a ", "b"], redacted=1,
                     tools=[{"name": "get_weather", "input": {"city": "Oslo"}}]))
    response = post(fake, request(stream=True, tools=[WEATHER],
                                  thinking={"type": "adaptive", "display": display}))
    assert response.status_code == 200
    events = sse_events(response)
    message_id = events[0]["message"]["id"]
    thought, redacted = fake.issued[message_id]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["type"]) for e in starts] == [
        (0, "thinking"), (1, "redacted_thinking"), (2, "text"), (3, "tool_use")]
    assert starts[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert starts[1]["content_block"] == redacted
    first = [e for e in events if e.get("index") == 0]
    deltas = [e["delta"] for e in first if e["type"] == "content_block_delta"]
    expected = [{"type": "thinking_delta", "thinking": p} for p in ("a ", "b")
                ] if display == "summarized" else []
    assert deltas == [*expected, {"type": "signature_delta", "signature": thought["signature"]}]
    assert first[-1] == {"type": "content_block_stop", "index": 0}
    assert thought["thinking"] == ("a b" if display == "summarized" else "")
    assert verify(thought) is not None and verify(redacted) is not None
    [delta] = [e for e in events if e["type"] == "message_delta"]
    usage = delta["usage"]
    assert usage["output_tokens"] >= usage["output_tokens_details"]["thinking_tokens"] > 0


# -- manual thinking in a tool loop -----------------------------------------------------------

def turn(fake: FakeUpstream, reply: Reply, **fields: Any) -> dict[str, Any]:
    """The assistant message the fake answers with, as a client hands it back."""
    message = answer(fake, reply, **fields)
    return {"role": "assistant", "content": message["content"]}


def manual(**fields: Any) -> dict[str, Any]:
    return request(model=MANUAL_MODEL, thinking=MANUAL, tools=[WEATHER], **fields)


def test_a_manual_tool_loop_must_bring_the_thinking_back(fake: FakeUpstream) -> None:
    called = turn(fake, Reply(text="Let me check.", tools=[{"name": "get_weather",
                  "input": {"city": "Oslo"}, "id": "toolu_o"}]), **manual(messages=[ASK]))
    assert called["content"][0]["type"] == "thinking"
    accepted(fake, manual(messages=[ASK, called, results("toolu_o")]))
    bare = {"role": "assistant", "content": called["content"][1:]}
    refused(fake, manual(messages=[ASK, bare, results("toolu_o")]),
            THINKING_FIRST.format(i=1, type="text"))
    refused(fake, manual(messages=[ASK, ENVIRONMENT, call("toolu_o"), results("toolu_o")]),
            THINKING_FIRST.format(i=2, type="tool_use"))
    # Adaptive thinking and thinking off have no such rule.
    accepted(fake, request(thinking=ADAPTIVE, tools=[WEATHER],
                           messages=[ASK, bare, results("toolu_o")]))
    accepted(fake, request(tools=[WEATHER], messages=[ASK, bare, results("toolu_o")]))


def test_the_rule_counts_every_assistant_message_of_the_turn(fake: FakeUpstream) -> None:
    called = turn(fake, Reply(text="", tools=[{"name": "get_weather", "input": {},
                                                "id": "toolu_1"}]), **manual(messages=[ASK]))
    again = turn(fake, Reply(text="", tools=[{"name": "get_weather", "input": {},
                                               "id": "toolu_2"}]),
                 **manual(messages=[ASK, called, results("toolu_1")]))
    both = [ASK, called, results("toolu_1"), again, results("toolu_2")]
    accepted(fake, manual(messages=both))
    # The turn's later messages may go without thinking; its first may not.
    accepted(fake, manual(messages=[*both[:3], {"role": "assistant", "content":
                                                again["content"][1:]}, results("toolu_2")]))
    refused(fake, manual(messages=[ASK, {"role": "assistant", "content": called["content"][1:]},
                                   *both[2:]]), THINKING_FIRST.format(i=1, type="tool_use"))


def test_finished_turns_may_drop_their_thinking(fake: FakeUpstream) -> None:
    history = [ASK, call("toolu_a"), results("toolu_a"),
               {"role": "assistant", "content": "It is 22C."},
               {"role": "user", "content": "thanks"}]
    accepted(fake, manual(messages=history))
    refused(fake, manual(messages=[*history, {"role": "assistant", "content": "You are"}]),
            THINKING_FIRST.format(i=5, type="text"))  # a prefill opens the turn in progress


# -- signatures -------------------------------------------------------------------------------

def thought_turn(fake: FakeUpstream, **thinking: Any) -> dict[str, Any]:
    """An answer with a thinking and a redacted_thinking block, then a tool call."""
    return turn(fake, Reply(text="", thinking=["Weighing ", "it."], redacted=1,
                            tools=[{"name": "get_weather", "input": {}, "id": "toolu_t"}]),
                **request(thinking={"type": "adaptive", "display": "summarized", **thinking},
                          tools=[WEATHER], messages=[ASK]))


def loop(fake: FakeUpstream, content: list[dict[str, Any]], **thinking: Any) -> dict[str, Any]:
    return request(thinking={"type": "adaptive", **thinking}, tools=[WEATHER], messages=[
        ASK, {"role": "assistant", "content": content}, results("toolu_t")])


def test_issued_blocks_come_back_valid(fake: FakeUpstream) -> None:
    called = thought_turn(fake)
    thought, redacted, tool = called["content"]
    assert (thought["type"], redacted["type"], tool["type"]) == (
        "thinking", "redacted_thinking", "tool_use")
    accepted(fake, loop(fake, called["content"]))
    accepted(fake, loop(fake, called["content"], display="omitted"))


def test_a_modified_or_invented_signature_is_refused(fake: FakeUpstream) -> None:
    thought, redacted, tool = thought_turn(fake)["content"]
    edited = {**thought, "thinking": thought["thinking"] + "!"}
    refused(fake, loop(fake, [edited, redacted, tool]), BAD_SIGNATURE.format(i=1, j=0))
    invented = {**thought, "signature": "fake-signature"}
    refused(fake, loop(fake, [invented, redacted, tool]), BAD_SIGNATURE.format(i=1, j=0))
    unsigned = {"type": "thinking", "thinking": thought["thinking"]}
    refused(fake, loop(fake, [unsigned, redacted, tool]), BAD_SIGNATURE.format(i=1, j=0))
    forged = {**redacted, "data": redacted["data"][:-4] + "AAA="}
    refused(fake, loop(fake, [thought, forged, tool]), BAD_SIGNATURE.format(i=1, j=1))
    as_thinking = {"type": "thinking", "thinking": "", "signature": redacted["data"]}
    refused(fake, loop(fake, [thought, as_thinking, tool]), BAD_SIGNATURE.format(i=1, j=1))


def test_another_blocks_signature_does_not_verify(fake: FakeUpstream) -> None:
    first, redacted, tool = thought_turn(fake)["content"]
    other = turn(fake, Reply(thinking=["Something else."]),
                 **request(thinking={"type": "adaptive", "display": "summarized"}))
    swapped = {**first, "signature": other["content"][0]["signature"]}
    refused(fake, loop(fake, [swapped, redacted, tool]), BAD_SIGNATURE.format(i=1, j=0))
    # Each block valid, but one response's blocks mixed with another's: the first is cut short.
    refused(fake, loop(fake, [first, other["content"][0], tool]), MODIFIED.format(i=1, j=0))


def test_signatures_are_checked_in_finished_turns_too(fake: FakeUpstream) -> None:
    thought, redacted, tool = thought_turn(fake)["content"]
    history = [ASK, {"role": "assistant", "content": [
        {**thought, "thinking": "changed"}, redacted, tool]}, results("toolu_t"),
        {"role": "assistant", "content": "22C."}, {"role": "user", "content": "thanks"}]
    refused(fake, request(thinking=ADAPTIVE, tools=[WEATHER], messages=history),
            BAD_SIGNATURE.format(i=1, j=0))
    refused(fake, request(tools=[WEATHER], messages=history), BAD_SIGNATURE.format(i=1, j=0))


def test_reordered_or_partly_dropped_blocks_are_refused_in_the_turn_in_progress(
        fake: FakeUpstream) -> None:
    thought, redacted, tool = thought_turn(fake)["content"]
    refused(fake, loop(fake, [redacted, thought, tool]), MODIFIED.format(i=1, j=0))
    refused(fake, loop(fake, [thought, tool]), MODIFIED.format(i=1, j=0))
    refused(fake, loop(fake, [redacted, tool]), MODIFIED.format(i=1, j=0))
    refused(fake, loop(fake, [thought, redacted, redacted, tool]), MODIFIED.format(i=1, j=2))
    accepted(fake, loop(fake, [tool]))  # adaptive: dropping them all is allowed


def test_partly_dropped_blocks_of_a_finished_turn_are_accepted(fake: FakeUpstream) -> None:
    thought, redacted, tool = thought_turn(fake)["content"]
    history = [ASK, {"role": "assistant", "content": [redacted, tool]}, results("toolu_t"),
               {"role": "assistant", "content": "22C."}, {"role": "user", "content": "thanks"}]
    accepted(fake, request(thinking=ADAPTIVE, tools=[WEATHER], messages=history))


def test_omitted_blocks_verify_whatever_text_comes_back(fake: FakeUpstream) -> None:
    thought, redacted, tool = thought_turn(fake, display="omitted")["content"]
    assert thought["thinking"] == ""
    for text in ("", "made up", "Weighing it."):
        accepted(fake, loop(fake, [{**thought, "thinking": text}, redacted, tool]))
    refused(fake, loop(fake, [{**thought, "signature": thought["signature"][:-8] + "AAAAAAA="},
                              redacted, tool]), BAD_SIGNATURE.format(i=1, j=0))


def test_redacted_thinking_round_trips_in_a_manual_loop(fake: FakeUpstream) -> None:
    called = turn(fake, Reply(text="", redacted=2, tools=[{"name": "get_weather", "input": {},
                                                  "id": "toolu_r"}]), **manual(messages=[ASK]))
    types = [b["type"] for b in called["content"]]
    assert types == ["thinking", "redacted_thinking", "redacted_thinking", "tool_use"]
    accepted(fake, manual(messages=[ASK, called, results("toolu_r")]))
    without_thinking = {"role": "assistant", "content": called["content"][1:]}
    refused(fake, manual(messages=[ASK, without_thinking, results("toolu_r")]),
            MODIFIED.format(i=1, j=0))


def test_the_validator_is_a_pure_function() -> None:
    body = request(temperature=0.5, top_p=0.5)
    assert api_error(body, {}) == api_error(body, {"anthropic-beta": "x"}) is not None
    assert api_error(request(), {}) is None


# -- the simulated prompt cache ---------------------------------------------------------------

CC = {"type": "ephemeral"}
SYSTEM = [{"type": "text", "text": "header"},
          {"type": "text", "text": "You are a helpful agent. " * 20, "cache_control": CC}]


def text(words: str, marked: bool = False) -> dict[str, Any]:
    return {"type": "text", "text": words, **({"cache_control": CC} if marked else {})}


def conversation(*turns: str, marked: int | None = -1, **fields: Any) -> dict[str, Any]:
    """user, assistant, user... one text block each; the block of message ``marked`` carries
    the marker (None: no message does), as the CLI marks the last user message."""
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": [text(t)]}
                for i, t in enumerate(turns)]
    if marked is not None:
        messages[marked]["content"][0]["cache_control"] = CC
    return {"model": ADAPTIVE_MODEL, "max_tokens": 100, "tools": [WEATHER], "system": SYSTEM,
            "messages": messages, **fields}


def total(body: dict[str, Any]) -> int:
    return sum(s.tokens for s in cache_segments(body))


def tokens_to(body: dict[str, Any], where: str) -> int:
    """The tokens of ``body``'s prefix up to and including the segment at ``where``."""
    segments = cache_segments(body)
    end = next(k for k, s in enumerate(segments) if s.where == where) + 1
    return sum(s.tokens for s in segments[:end])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def usage(read: int, written: int, rest: int) -> dict[str, int]:
    return {"input_tokens": rest, "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read}


def test_segments_follow_tools_system_messages_and_ignore_the_marker() -> None:
    body = conversation("one", "two", "three")
    assert [s.where for s in cache_segments(body)] == [
        "tools.0", "system.0", "system.1", "settings", "messages.0.content.0",
        "messages.1.content.0", "messages.2.content.0"]
    moved = conversation("one", "two", "three", marked=0)
    assert [s.text for s in cache_segments(moved)] == [s.text for s in cache_segments(body)]
    assert [s.ttl is not None for s in cache_segments(moved)] == [
        False, False, True, False, True, False, False]
    # a string is one text block; tokens are bytes / 4 of the canonical JSON, rounded up
    as_string = {"messages": [{"role": "user", "content": "one"}], "system": "sys"}
    segments = cache_segments(as_string)
    assert segments[2].text == cache_segments(conversation("one", marked=None))[4].text
    assert all(s.tokens == (len(s.text.encode()) + 3) // 4 for s in segments if s.tokens)


def test_a_block_moved_to_another_message_differs() -> None:
    asked = cache_segments(conversation("same words", "x"))
    answered = cache_segments(conversation("x", "same words"))
    assert asked[4].text != answered[5].text


def test_a_second_identical_request_reads_everything_the_first_wrote() -> None:
    cache, body = PromptCache(Clock()), conversation("hello", "hi there", "how are you?")
    assert cache.usage(body) == usage(0, total(body), 0)
    assert cache.usage(body) == usage(total(body), 0, 0)


def test_a_change_early_reads_only_up_to_the_change() -> None:
    cache = PromptCache(Clock())
    first, second = conversation("hello"), conversation("hello", "hi there", "how are you?")
    cache.usage(first)
    cache.usage(second)
    changed = conversation("hello", "hi THERE", "how are you?")
    read = tokens_to(changed, "messages.0.content.0")  # what the first request wrote
    assert cache.usage(changed) == usage(read, total(changed) - read, 0)
    early = conversation("HELLO", "hi there", "how are you?")
    system = tokens_to(early, "system.1")  # the system's breakpoint, tools included
    assert cache.usage(early) == usage(system, total(early) - system, 0)


def test_a_prefix_older_than_5_minutes_is_not_read_and_a_read_refreshes_it() -> None:
    clock = Clock()
    cache, body = PromptCache(clock), conversation("hello")
    cache.usage(body)
    clock.now += 299
    assert cache.usage(body)["cache_read_input_tokens"] == total(body)
    clock.now += 299  # 598 s after the write, 299 s after the read that refreshed it
    assert cache.usage(body)["cache_read_input_tokens"] == total(body)
    clock.now += 301
    assert cache.usage(body) == usage(0, total(body), 0)


def test_a_one_hour_marker_is_kept_an_hour() -> None:
    clock = Clock()
    cache, body = PromptCache(clock), conversation("hello")
    body["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    cache.usage(body)
    clock.now += 3500
    assert cache.usage(body)["cache_read_input_tokens"] == total(body)


def test_a_marker_moved_later_reads_the_old_prefix_and_writes_the_new_part() -> None:
    cache = PromptCache(Clock())
    early = conversation("hello", "hi there", "how are you?", marked=0)
    cache.usage(early)
    later = conversation("hello", "hi there", "how are you?", marked=2)
    read = tokens_to(later, "messages.0.content.0")
    assert cache.usage(later) == usage(read, total(later) - read, 0)
    assert cache.usage(later) == usage(total(later), 0, 0)


def test_what_follows_the_last_breakpoint_is_input_and_no_marker_caches_nothing() -> None:
    cache = PromptCache(Clock())
    body = conversation("hello", "hi there", "how are you?", marked=0)
    written = tokens_to(body, "messages.0.content.0")
    assert cache.usage(body) == usage(0, written, total(body) - written)
    bare = conversation("hello", marked=None, system=[text("plain")])
    assert cache.usage(bare) == usage(0, 0, total(bare))
    assert cache.usage(bare) == usage(0, 0, total(bare))


def test_the_cache_is_per_model_and_thinking_invalidates_only_the_messages() -> None:
    cache = PromptCache(Clock())
    body = conversation("hello")
    cache.usage(body)
    other_model = {**body, "model": MANUAL_MODEL}
    assert cache.usage(other_model)["cache_read_input_tokens"] == 0
    thinking = {**body, "thinking": ADAPTIVE}
    system = tokens_to(body, "system.1")
    assert cache.usage(thinking) == usage(system, total(body) - system, 0)
    tools = {**body, "tools": [{**WEATHER, "description": "Other."}]}
    assert cache.usage(tools)["cache_read_input_tokens"] == 0


@pytest.mark.parametrize("body", [
    conversation("a", "b", "c", "d", "e"),
    conversation("a", "b", "c", marked=0, tool_choice={"type": "auto"}),
    conversation("a", marked=None),
    {"model": "m", "system": "s", "messages": [{"role": "system", "content": "between"},
                                                {"role": "user", "content": [text("q", True)]}]},
])
def test_usage_adds_up_to_the_whole_prompt(body: dict[str, Any]) -> None:
    cache = PromptCache(Clock())
    for _ in range(2):
        assert sum(cache.usage(body).values()) == total(body)


def test_the_fake_reports_the_cache_when_asked_and_reset_clears_it(server: FakeUpstream) -> None:
    body = conversation("hello", "hi there", "how are you?")
    server.reset()
    assert answer(server, **body)["usage"]["cache_read_input_tokens"] == 5  # off by default
    server.simulate_cache = True
    first = answer(server, **body)["usage"]
    events = sse_events(post(server, {**body, "stream": True}))
    second = events[0]["message"]["usage"]
    assert {k: first[k] for k in DEFAULT_USAGE} == usage(0, total(body), 0)
    assert {k: second[k] for k in DEFAULT_USAGE} == usage(total(body), 0, 0)
    assert server.usages == [DEFAULT_USAGE, usage(0, total(body), 0), usage(total(body), 0, 0)]
    server.reset()  # the cache is emptied and the simulation back to the fake's default: off
    assert server.simulate_cache is False and server.cache.entries == {} and server.usages == []
    own = FakeUpstream(cache=True, clock=Clock())
    own.start()
    try:
        assert answer(own, **body)["usage"]["cache_creation_input_tokens"] == total(body)
        own.reset()
        assert own.simulate_cache is True and own.cache.entries == {}
        assert answer(own, **body)["usage"]["cache_read_input_tokens"] == 0
    finally:
        own.stop()
