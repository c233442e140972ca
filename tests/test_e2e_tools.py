"""End to end: tool calling and structured outputs through the real CLI and the fake upstream.

Each test checks both sides: what the model was offered or sent, and what the client got.
No client function ever runs on the server: `_options._never_run` would log an error, and a
run that executed a tool would send its result upstream in a second call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from servers import ThreadedServer
from starlette.testclient import TestClient

from claude_openai import Config, UpstreamError, chat_completion, create_app, stream_chat_completion
from claude_openai._engine.tools import api_name

pytestmark = pytest.mark.e2e

NESTED = {"type": "object", "properties": {
    "filter": {"type": "object", "properties": {"tags": {"type": "array",
                                                          "items": {"type": "string"}}}}},
    "required": ["filter"]}
DEFS = {"type": "object", "$defs": {"Unit": {"enum": ["c", "f"]}},
        "properties": {"unit": {"anyOf": [{"$ref": "#/$defs/Unit"}, {"type": "null"}]}}}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def function(name: str, parameters: dict[str, Any] | None = None,
             description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "description": description or f"The {name} tool."}
    if parameters is not None:
        spec["parameters"] = parameters
    return {"type": "function", "function": spec}


TOOLS = [function("get_weather", WEATHER), function("search.docs", NESTED),
         function("set-unit", DEFS), function("no_props", {"type": "object"})]
ASK = [{"role": "user", "content": "What is the weather in Paris and London?"}]


@pytest.fixture(autouse=True)
def nothing_runs_on_the_server(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.ERROR, logger="claude_openai"):
        yield
    assert not [r for r in caplog.records if "called on the server" in r.getMessage()]


def tool_results(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for m in call["messages"] if m["role"] == "user" and isinstance(m["content"], list)
            for b in m["content"] if b.get("type") == "tool_result"]


def weather_calls(*cities: str) -> Reply:
    return Reply(text="Let me check.", tools=[
        {"name": "get_weather", "input": {"city": c}, "id": f"toolu_{c.lower()}"} for c in cities])


def test_tools_reach_the_model_intact_and_in_a_stable_order(upstream: FakeUpstream,
                                                             config: Config) -> None:
    long_text = "Looks things up. " * 400
    tools = [*TOOLS, function("long_description", WEATHER, long_text)]
    for _ in range(2):
        chat_completion({"messages": ASK, "tools": tools}, config=config)
    first, second = upstream.calls
    offered = {t["name"]: t for t in first["tools"]}
    assert set(offered) == {"get_weather", api_name("search.docs"), "set-unit", "no_props",
                            "long_description"}
    assert offered["get_weather"]["input_schema"] == WEATHER
    assert offered[api_name("search.docs")]["input_schema"] == NESTED
    assert offered["set-unit"]["input_schema"] == DEFS
    assert offered["no_props"]["input_schema"] == {"type": "object"}
    assert offered["long_description"]["description"] == long_text
    assert [t["name"] for t in first["tools"]] == [t["name"] for t in second["tools"]]
    assert [t["name"] for t in first["tools"]] == sorted(t["name"] for t in first["tools"])


def test_a_tool_call_comes_back_and_nothing_runs(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(weather_calls("Paris"))
    completion = ChatCompletion.model_validate(
        chat_completion({"messages": ASK, "tools": TOOLS}, config=config))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [call] = choice.message.tool_calls  # type: ignore[misc]
    assert (call.id, call.type, call.function.name) == ("toolu_paris", "function", "get_weather")  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert len(upstream.calls) == 1


def test_a_dotted_name_comes_back_as_the_client_wrote_it(upstream: FakeUpstream,
                                                         config: Config) -> None:
    upstream.queue(Reply(text="", tools=[{"name": api_name("search.docs"),
                                          "input": {"filter": {"tags": ["a"]}}}]))
    completion = chat_completion({"messages": ASK, "tools": TOOLS}, config=config)
    [call] = completion["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "search.docs"
    assert completion["choices"][0]["message"]["content"] is None


def test_parallel_calls_are_all_kept_in_order(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(weather_calls("Paris", "London", "Rome"))
    completion = chat_completion({"messages": ASK, "tools": TOOLS}, config=config)
    calls = completion["choices"][0]["message"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"])["city"] for c in calls] == [
        "Paris", "London", "Rome"]
    assert len(upstream.calls) == 1


def test_streamed_tool_calls_carry_argument_fragments(upstream: FakeUpstream,
                                                      config: Config) -> None:
    upstream.queue(weather_calls("Paris", "London"))
    chunks = [ChatCompletionChunk.model_validate(c) for c in stream_chat_completion(
        {"messages": ASK, "tools": TOOLS}, config=config)]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    tool_deltas = [d.tool_calls[0] for d in deltas if d.tool_calls]
    starts = [t for t in tool_deltas if t.id]
    assert [(t.index, t.id, t.type, t.function.name) for t in starts] == [  # type: ignore[union-attr]
        (0, "toolu_paris", "function", "get_weather"), (1, "toolu_london", "function",
                                                        "get_weather")]
    for index, city in ((0, "Paris"), (1, "London")):
        fragments = [t.function.arguments for t in tool_deltas  # type: ignore[union-attr]
                     if t.index == index and not t.id]
        assert len(fragments) > 1, "arguments must stream in pieces, not one blob"
        assert json.loads("".join(fragments)) == {"city": city}  # type: ignore[arg-type]
    assert "".join(d.content or "" for d in deltas) == "Let me check."
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_results_reach_the_model_as_exact_pairs(upstream: FakeUpstream,
                                                     config: Config) -> None:
    upstream.queue(Reply(text="Paris is sunny, London rainy."))
    messages = [*ASK, {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "call_p1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_l2", "type": "function",
         "function": {"name": "search.docs", "arguments": '{"filter": {}}'}}]},
        {"role": "tool", "tool_call_id": "call_p1", "content": "22C and sunny"},
        {"role": "tool", "tool_call_id": "call_l2", "content": "15C and rain"}]
    completion = chat_completion({"messages": messages, "tools": TOOLS}, config=config)
    assert completion["choices"][0]["message"]["content"] == "Paris is sunny, London rainy."
    [call] = upstream.calls
    turns = [m for m in call["messages"] if m["role"] != "system"]
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_p1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_l2", "name": api_name("search.docs"),
         "input": {"filter": {}}}]
    results = [b for b in turns[2]["content"] if b["type"] == "tool_result"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        ("call_p1", "22C and sunny"), ("call_l2", "15C and rain")]
    extra = [b for b in turns[2]["content"] if b["type"] != "tool_result"]
    assert [b["type"] for b in extra] == ["text"], "only the CLI's one resume note may be added"


def test_a_result_for_no_call_is_400(upstream: FakeUpstream, config: Config) -> None:
    response = TestClient(create_app(config)).post("/v1/chat/completions", json={"messages": [
        *ASK, {"role": "tool", "tool_call_id": "call_x", "content": "?"}], "tools": TOOLS})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[1].tool_call_id"
    assert upstream.calls == []


@pytest.mark.parametrize(("choice", "parallel", "offered", "expected"), [
    ("none", None, False, None),
    ("auto", None, True, None),
    ("required", None, True, {"type": "any"}),
    ({"type": "function", "function": {"name": "get_weather"}}, None, True,
     {"type": "tool", "name": "get_weather"}),
    ("auto", False, True, {"type": "auto", "disable_parallel_tool_use": True}),
])
def test_tool_choice_reaches_the_model(upstream: FakeUpstream, config: Config, choice: Any,
                                       parallel: Any, offered: bool, expected: Any) -> None:
    body = {"messages": ASK, "tools": TOOLS, "tool_choice": choice}
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    chat_completion(body, config=config)
    [call] = upstream.calls
    assert bool(call["tools"]) is offered
    assert call.get("tool_choice") == expected
    forced = expected is not None and expected["type"] in ("any", "tool")
    assert ("thinking" not in call) is forced, "forcing a tool turns thinking off, only then"


def test_legacy_functions_round_trip(upstream: FakeUpstream, config: Config) -> None:
    functions = [TOOLS[0]["function"]]
    upstream.queue(weather_calls("Rome"))
    first = chat_completion({"messages": ASK, "functions": functions,
                             "function_call": "auto"}, config=config)
    message = first["choices"][0]["message"]
    assert first["choices"][0]["finish_reason"] == "function_call"
    assert message["function_call"]["name"] == "get_weather"
    assert "tool_calls" not in message
    upstream.queue(Reply(text="Rome is warm."))
    second = chat_completion({"functions": functions, "messages": [
        *ASK, {"role": "assistant", "content": None, "function_call": message["function_call"]},
        {"role": "function", "name": "get_weather", "content": "30C"}]}, config=config)
    assert second["choices"][0]["message"]["content"] == "Rome is warm."
    assert [b["content"] for b in tool_results(upstream.calls[1])] == ["30C"]


def test_fifty_tools(upstream: FakeUpstream, config: Config) -> None:
    tools = [function(f"tool_{i:02d}", WEATHER) for i in range(50)]
    upstream.queue(Reply(text="", tools=[{"name": "tool_42", "input": {"city": "Oslo"}}]))
    completion = chat_completion({"messages": ASK, "tools": tools}, config=config)
    assert completion["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "tool_42"
    assert len(upstream.calls[0]["tools"]) == 50


PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON,
                                                      "strict": True}}


def structured(value: dict[str, Any]) -> Reply:
    return Reply(text="", tools=[{"name": "StructuredOutput", "input": value}])


def test_json_schema_output(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(structured({"name": "Bob", "age": 42}))
    completion = chat_completion({"messages": ASK, "response_format": JSON_SCHEMA},
                                 config=config)
    assert json.loads(completion["choices"][0]["message"]["content"]) == {"name": "Bob", "age": 42}
    assert completion["choices"][0]["finish_reason"] == "stop"
    [call] = upstream.calls
    [tool] = call["tools"]
    assert (tool["name"], tool["input_schema"]) == ("StructuredOutput", PERSON)


def test_json_schema_output_streams_as_content(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(structured({"name": "Ada", "age": 36}))
    chunks = list(stream_chat_completion({"messages": ASK, "response_format": JSON_SCHEMA},
                                         config=config))
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    pieces = [c for c in contents if c]
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == {"name": "Ada", "age": 36}


def test_json_object_output(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(structured({"anything": [1, 2]}))
    completion = chat_completion({"messages": ASK, "response_format": {"type": "json_object"}},
                                 config=config)
    assert json.loads(completion["choices"][0]["message"]["content"]) == {"anything": [1, 2]}
    assert upstream.calls[0]["tools"][0]["input_schema"] == {"type": "object"}


def test_prose_instead_of_json_is_a_clear_error(upstream: FakeUpstream, config: Config) -> None:
    upstream.queue(Reply(text="Bob is 42 years old."))
    with pytest.raises(UpstreamError) as info:
        chat_completion({"messages": ASK, "response_format": JSON_SCHEMA}, config=config)
    assert info.value.code == "structured_output_failed"
    assert "response_format" in info.value.message


def test_tools_and_response_format_together(upstream: FakeUpstream, config: Config) -> None:
    body = {"messages": ASK, "tools": TOOLS, "response_format": JSON_SCHEMA}
    upstream.queue(weather_calls("Paris"))
    first = chat_completion(body, config=config)
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    upstream.queue(structured({"name": "Paris", "age": 2000}))
    second = chat_completion(body, config=config)
    assert json.loads(second["choices"][0]["message"]["content"])["name"] == "Paris"
    offered = {t["name"] for t in upstream.calls[0]["tools"]}
    assert {"StructuredOutput", "get_weather"} <= offered


@pytest.mark.parametrize("stream", [False, True])
def test_agent_loop_with_the_official_client(upstream: FakeUpstream, config: Config,
                                             stream: bool) -> None:
    """Call, run the tool locally, send the result, get the final answer: unchanged code."""
    server = ThreadedServer(create_app(config)).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        tools = [function("get_weather", WEATHER)]
        messages: list[Any] = list(ASK)
        upstream.queue(weather_calls("Paris"), Reply(text="It is 22C in Paris."))
        for _ in range(2):
            if stream:
                with client.chat.completions.stream(model="sonnet", messages=messages,
                                                    tools=tools) as events:  # type: ignore[arg-type]
                    message = events.get_final_completion().choices[0].message
            else:
                message = client.chat.completions.create(model="sonnet", messages=messages,
                                                         tools=tools).choices[0].message  # type: ignore[arg-type]
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                break
            for call in message.tool_calls:
                city = json.loads(call.function.arguments)["city"]  # type: ignore[union-attr]
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": f"22C in {city}"})
        assert message.content == "It is 22C in Paris."
        assert len(upstream.calls) == 2
        assert [(b["tool_use_id"], b["content"]) for b in tool_results(upstream.calls[1])] == [
            ("toolu_paris", "22C in Paris")]
    finally:
        server.stop()


def test_official_client_parse_with_a_pydantic_model(upstream: FakeUpstream,
                                                    config: Config) -> None:
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    upstream.queue(structured({"name": "Grace", "age": 85}))
    server = ThreadedServer(create_app(config)).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        completion = client.chat.completions.parse(model="sonnet", messages=ASK,  # type: ignore[arg-type]
                                                   response_format=Person)
    finally:
        server.stop()
    assert completion.choices[0].message.parsed == Person(name="Grace", age=85)
    offered = upstream.calls[0]["tools"][0]["input_schema"]
    assert offered["properties"].keys() == {"name", "age"}


def test_litellm_gets_tool_calls(upstream: FakeUpstream, config: Config) -> None:
    import litellm

    upstream.queue(weather_calls("Paris"))
    server = ThreadedServer(create_app(config)).start()
    try:
        response = litellm.completion(model="openai/sonnet", api_base=server.url + "/v1",
                                      api_key="x", messages=ASK, tools=TOOLS[:1])
    finally:
        server.stop()
    [call] = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert response.choices[0].finish_reason == "tool_calls"


def test_a_union_at_the_schema_root_is_folded_into_one_object(upstream: FakeUpstream,
                                                              config: Config) -> None:
    """The API refuses anyOf/oneOf/allOf at the top of an input schema (the fake too); the
    variants' properties become one object's, so Claude can still call the tool."""
    either = {"type": "object", "anyOf": [
        {"properties": {"city": {"type": "string"}}, "required": ["city"]},
        {"properties": {"zip": {"type": "string"}}, "required": ["zip"]}]}
    chat_completion({"messages": ASK, "tools": [function("locate", either)]}, config=config)
    [offered] = [t for t in upstream.calls[0]["tools"] if t["name"] == "locate"]
    assert offered["input_schema"] == {"type": "object", "properties": {
        "city": {"type": "string"}, "zip": {"type": "string"}}}
