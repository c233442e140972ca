"""Pure translation of tools, tool_choice, tool messages, response_format and tool-call output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from claude_agent_sdk import ResultMessage, StreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from claude_openai import Config, InvalidRequestError
from claude_openai._chat.completion import CompletionBuilder
from claude_openai._chat.request import parse_request
from claude_openai._chat.tools import parse_tool_config
from claude_openai._engine.options import cli_env
from claude_openai._engine.thinking import plan
from claude_openai._engine.tools import api_name

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def fn(name: str, **parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters or None}}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def calling(*calls: tuple[str, str, str], content: str | None = None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": [
        {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
        for i, n, a in calls]}


def test_names_the_api_accepts_pass_through_and_others_map_stably() -> None:
    assert api_name("get_weather") == "get_weather"
    assert api_name("a-b_C9") == "a-b_C9"
    dotted = api_name("tools.search")
    assert dotted.startswith("tools_search_") and dotted == api_name("tools.search")
    assert api_name("x" * 80) != api_name("x" * 81)
    assert all(len(api_name(n)) <= 64 for n in ("x" * 128, "a.b" * 40))


def test_tools_keep_schema_description_and_name() -> None:
    schema = {"type": "object", "$defs": {"X": {"type": "string"}},
              "properties": {"x": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}}}
    config = parse_tool_config({"tools": [
        {"type": "function", "function": {"name": "a.b", "description": "d" * 5000,
                                          "parameters": schema}},
        fn("no_props", type="object"), fn("no_params")]})
    assert [t.parameters for t in config.tools] == [
        schema, {"type": "object"}, {"type": "object", "properties": {}}]
    assert config.tools[0].description == "d" * 5000
    assert config.client_name(api_name("a.b")) == "a.b"


@pytest.mark.parametrize(("choice", "parallel", "expected", "forced"), [
    (None, None, None, False),
    ("auto", None, None, False),
    ("required", None, {"type": "any"}, True),
    ({"type": "function", "function": {"name": "get_weather"}}, None,
     {"type": "tool", "name": "get_weather"}, True),
    ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}, False),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}, True),
])
def test_tool_choice(choice: Any, parallel: Any, expected: Any, forced: bool) -> None:
    config = parse_tool_config({"tools": [WEATHER], "tool_choice": choice,
                                "parallel_tool_calls": parallel})
    assert (config.choice, config.forced) == (expected, forced)


def test_tool_choice_none_offers_no_tools() -> None:
    config = parse_tool_config({"tools": [WEATHER], "tool_choice": "none"})
    assert (config.tools, config.choice) == ([], None)


def test_tool_choice_none_after_tool_calls_keeps_the_definitions() -> None:
    chat = parse_request({"tools": [WEATHER], "tool_choice": "none", "messages": [
        user("a"), calling(("c1", "get_weather", "{}")),
        {"role": "tool", "tool_call_id": "c1", "content": "r"}]})
    assert [t.name for t in chat.tools.tools] == ["get_weather"]
    assert chat.tools.choice == {"type": "none"} and not chat.tools.forced


def test_legacy_functions_map_to_tools() -> None:
    config = parse_tool_config({"functions": [WEATHER["function"]],
                                "function_call": {"name": "get_weather"}})
    assert config.legacy and [t.name for t in config.tools] == ["get_weather"]
    assert config.choice == {"type": "tool", "name": "get_weather"}


@pytest.mark.parametrize(("fields", "param"), [
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER, WEATHER]}, "tools"),
    ({"tools": [fn("f", type="array")]}, "tools[0].function.parameters"),
    ({"tools": "all"}, "tools"),
    ({"functions": [{"name": ""}]}, "functions[0].name"),
])
def test_bad_tool_fields_name_the_param(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_request({"messages": [user("x")], **fields})
    assert info.value.param == param


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert parse_tool_config({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": schema, "strict": True}}}).schema == schema
    assert parse_tool_config({"response_format": {"type": "json_object"}}).schema == {
        "type": "object"}
    assert parse_tool_config({"response_format": {"type": "text"}}).schema is None


def test_tool_round_trip_becomes_tool_use_and_tool_result_blocks() -> None:
    chat = parse_request({"tools": [WEATHER], "messages": [
        user("weather in Paris and London?"),
        calling(("call_1", "get_weather", '{"city": "Paris"}'),
                ("call_2", "get_weather", '{"city": "London"}'), content="Checking."),
        {"role": "tool", "tool_call_id": "call_1", "content": "22C"},
        {"role": "tool", "tool_call_id": "call_2",
         "content": [{"type": "text", "text": "15C"}]},
    ]})
    assert chat.prompt is None, "tool results end the request: Claude continues"
    assert [t.role for t in chat.history] == ["user", "assistant", "user"]
    assert chat.history[1].blocks == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "London"}},
    ]
    assert chat.history[2].blocks == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "22C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "15C"},
    ]
    env = cli_env(chat, Config(), "/w")
    assert env["CLAUDE_CODE_RESUME_INTERRUPTED_TURN"] == "1"
    assert env["CLAUDE_AGENT_SDK_MCP_NO_PREFIX"] == "1"


def test_a_user_message_after_tool_results_joins_their_turn() -> None:
    chat = parse_request({"messages": [
        user("a"), calling(("c1", "f", "{}")), {"role": "tool", "tool_call_id": "c1",
                                                 "content": "r"}, user("thanks")]})
    assert chat.prompt is None
    assert [b["type"] for b in chat.history[-1].blocks] == ["tool_result", "text"]


def test_legacy_function_messages() -> None:
    chat = parse_request({"functions": [WEATHER["function"]], "messages": [
        user("weather?"),
        {"role": "assistant", "content": None,
         "function_call": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        {"role": "function", "name": "get_weather", "content": "30C"},
    ]})
    [use] = [b for b in chat.history[1].blocks if b["type"] == "tool_use"]
    [result] = chat.history[2].blocks
    assert result == {"type": "tool_result", "tool_use_id": use["id"], "content": "30C"}


@pytest.mark.parametrize(("messages", "param"), [
    ([user("a"), calling(("c1", "f", "{}")), {"role": "tool", "tool_call_id": "c2",
                                              "content": "r"}],
     "messages[2].tool_call_id"),
    ([user("a"), calling(("c1", "f", "{}")), {"role": "tool", "tool_call_id": "c1",
                                              "content": "r"},
      {"role": "tool", "tool_call_id": "c1", "content": "again"}], "messages[3].tool_call_id"),
    ([user("a"), calling(("c1", "f", "not json"))], "messages[1].tool_calls[0].function.arguments"),
    ([user("a"), {"role": "function", "name": "f", "content": "r"}], "messages[1].name"),
])
def test_tool_messages_must_match_a_call(messages: list[Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_request({"messages": messages})
    assert info.value.param == param


def test_forced_choice_turns_thinking_off_and_reaches_the_body() -> None:
    chat = plan(parse_request({"messages": [user("x")], "tools": [WEATHER],
                               "tool_choice": "required"}), Config())
    env = cli_env(chat, Config(), "/w")
    assert env["CLAUDE_CODE_DISABLE_THINKING"] == "1"
    assert json.loads(env["CLAUDE_CODE_EXTRA_BODY"]) == {"tool_choice": {"type": "any"}}


def event(payload: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=payload)


def tool_answer(*tools: tuple[str, str, list[str]], structured: bool = False) -> list[Any]:
    events: list[Any] = [event({"type": "message_start", "message": {"model": "m", "usage": {}}})]
    for index, (id_, name, pieces) in enumerate(tools):
        events.append(event({"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": id_, "name": name, "input": {}}}))
        events += [event({"type": "content_block_delta", "index": index, "delta": {
            "type": "input_json_delta", "partial_json": p}}) for p in pieces]
        events.append(event({"type": "content_block_stop", "index": index}))
    events.append(event({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                         "usage": {"output_tokens": 5}}))
    events.append(ResultMessage(subtype="success", duration_ms=1, duration_api_ms=1,
                                is_error=False, num_turns=1, session_id="s"))
    return events


def test_streamed_tool_calls_follow_openai_shape() -> None:
    tools = parse_tool_config({"tools": [WEATHER, fn("ping")]})
    builder = CompletionBuilder(model=None, tools=tools)
    chunks = [ChatCompletionChunk.model_validate(c) for m in tool_answer(
        ("toolu_1", "get_weather", ['{"ci', 'ty": "Pa', 'ris"}']), ("toolu_2", "ping", []))
        for c in builder.feed(m)]
    deltas = [c.choices[0].delta for c in chunks]
    first = deltas[0].tool_calls[0]  # type: ignore[index]
    assert (first.index, first.id, first.type, first.function.name) == (  # type: ignore[union-attr]
        0, "toolu_1", "function", "get_weather")
    fragments = [d.tool_calls[0].function.arguments for d in deltas[1:4]]  # type: ignore[index,union-attr]
    assert fragments == ['{"ci', 'ty": "Pa', 'ris"}']
    second = [d.tool_calls[0] for d in deltas[4:6]]  # type: ignore[index]
    assert (second[0].index, second[0].id, second[1].function.arguments) == (  # type: ignore[union-attr]
        1, "toolu_2", "{}")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    completion = ChatCompletion.model_validate(builder.completion())
    message = completion.choices[0].message
    assert message.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [  # type: ignore[union-attr,union-attr]
        ("toolu_1", "get_weather", '{"city": "Paris"}'), ("toolu_2", "ping", "{}")]


def test_legacy_requests_get_function_call() -> None:
    tools = parse_tool_config({"functions": [WEATHER["function"]]})
    builder = CompletionBuilder(model=None, tools=tools)
    chunks = [c for m in tool_answer(("toolu_1", "get_weather", ['{}'])) for c in builder.feed(m)]
    assert chunks[0]["choices"][0]["delta"]["function_call"] == {"name": "get_weather",
                                                                 "arguments": ""}
    completion = ChatCompletion.model_validate(builder.completion())
    assert completion.choices[0].finish_reason == "function_call"
    assert completion.choices[0].message.function_call.name == "get_weather"  # type: ignore[union-attr]


def test_structured_output_is_the_content() -> None:
    tools = parse_tool_config({"response_format": {"type": "json_object"}})
    builder = CompletionBuilder(model=None, tools=tools)
    chunks = [c for m in tool_answer(("t", "StructuredOutput", ['{"a"', ": 1}"]))
              for c in builder.feed(m)]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[:2]] == ['{"a"', ": 1}"]
    completion = builder.completion()
    assert completion["choices"][0]["message"]["content"] == '{"a": 1}'
    assert completion["choices"][0]["finish_reason"] == "stop"
