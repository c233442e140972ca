"""End to end: the Responses API with the official `openai` client, through the real CLI and the
strict fake upstream.  Each test checks what the client got (validated against the `openai`
package's own types) and what reached the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fake_upstream import FakeUpstream, Reply
from images import png_data_url
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter
from servers import ThreadedServer

from claude_openai import Config, NotFoundError, create_app, create_response, get_response
from claude_openai._responses.reasoning import decode_thinking

pytestmark = pytest.mark.e2e

EVENT = TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"], "additionalProperties": False},
           "strict": True}
GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'
APPLY_PATCH = {"type": "custom", "name": "apply_patch",
               "description": "Use the `apply_patch` tool to edit files.",
               "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR}}
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi \"you\"\n*** End Patch\n"
MANUAL = "claude-sonnet-4-5"


@pytest.fixture
def server(config: Config) -> Iterator[ThreadedServer]:
    running = ThreadedServer(create_app(config)).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: ThreadedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)


def raw_stream(server: ThreadedServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events as sent, each checked: its ``event:`` line names its ``type``."""
    events = []
    with httpx.stream("POST", server.url + "/v1/responses", json={**body, "stream": True},
                      timeout=60) as response:
        assert response.status_code == 200
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                assert data["type"] == name
                events.append(data)
    return events


def messages_of(call: dict[str, Any], role: str) -> list[list[dict[str, Any]]]:
    return [m["content"] if isinstance(m["content"], list) else [{"type": "text",
                                                                 "text": m["content"]}]
            for m in call["messages"] if m["role"] == role]


def blocks_of(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for m in call["messages"] if isinstance(m["content"], list)
            for b in m["content"] if b.get("type") == kind]


def system_text(call: dict[str, Any]) -> str:
    system = call.get("system")
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system)
    return system or ""


def test_create_answers_with_a_valid_response(upstream: FakeUpstream, server: ThreadedServer,
                                             client: openai.OpenAI) -> None:
    upstream.queue(Reply(text="Hello there."))
    raw = client.responses.with_raw_response.create(
        model="sonnet", input="Hi", instructions="Answer briefly.")
    response = Response.model_validate(raw.http_response.json())
    assert response.output_text == "Hello there." and response.status == "completed"
    assert response.id.startswith("resp_") and response.instructions == "Answer briefly."
    assert response.usage is not None and response.usage.input_tokens == 19
    assert response.usage.input_tokens_details.cached_tokens == 5
    [call] = upstream.calls
    assert "Answer briefly." in system_text(call)
    assert messages_of(call, "user")[-1][-1]["text"] == "Hi"


def test_the_stream_follows_the_canonical_order(upstream: FakeUpstream,
                                                server: ThreadedServer) -> None:
    upstream.queue(Reply(deltas=["Hel", "lo", "!"]))
    events = raw_stream(server, {"model": "sonnet", "input": "Hi"})
    for i, event in enumerate(events):
        EVENT.validate_python(event)
        assert event["sequence_number"] == i
    kinds = [e["type"] for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * 3,
                     "response.output_text.done", "response.content_part.done",
                     "response.output_item.done", "response.completed"]
    final = Response.model_validate(events[-1]["response"])
    assert final.output_text == "Hello!" and final.usage is not None


def test_the_stream_helper_and_create_stream(upstream: FakeUpstream,
                                             client: openai.OpenAI) -> None:
    upstream.queue(Reply(deltas=["One ", "two."]))
    with client.responses.stream(model="sonnet", input="Count") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["One ", "two."] and final.output_text == "One two."
    upstream.queue(Reply(text="Three."))
    events = list(client.responses.create(model="sonnet", input="More", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Three."


class Person(BaseModel):
    name: str
    age: int


def test_parse_with_a_pydantic_format(upstream: FakeUpstream, client: openai.OpenAI) -> None:
    upstream.queue(Reply(text="", tools=[{"name": "StructuredOutput",
                                          "input": {"name": "Bob", "age": 42}}]))
    parsed = client.responses.parse(model="sonnet", input="Who?", text_format=Person)
    assert parsed.output_parsed == Person(name="Bob", age=42)
    tool = next(t for t in upstream.calls[0]["tools"] if t["name"] == "StructuredOutput")
    assert tool["input_schema"]["properties"]["age"]["type"] == "integer"


@pytest.mark.parametrize("stream", [False, True])
def test_function_tools_round_trip(upstream: FakeUpstream, client: openai.OpenAI,
                                   stream: bool) -> None:
    upstream.queue(Reply(text="", tools=[
        {"name": "get_weather", "input": {"city": "Paris"}, "id": "toolu_paris"},
        {"name": "get_weather", "input": {"city": "Rome"}, "id": "toolu_rome"}]))
    ask = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    if stream:
        with client.responses.stream(model="sonnet", input=ask, tools=[WEATHER]) as events:
            arguments = [e.delta for e in events
                         if e.type == "response.function_call_arguments.delta"]
            first = events.get_final_response()
        assert len(arguments) >= 2
    else:
        first = client.responses.create(model="sonnet", input=ask, tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("toolu_paris", "get_weather", {"city": "Paris"}),
        ("toolu_rome", "get_weather", {"city": "Rome"})]
    offered = {t["name"]: t for t in upstream.calls[0]["tools"]}
    assert offered["get_weather"]["input_schema"] == WEATHER["parameters"]
    upstream.queue(Reply(text="Both sunny."))
    results = [{"type": "function_call_output", "call_id": c.call_id, "output": f"sunny {i}"}
               for i, c in enumerate(calls)]
    final = client.responses.create(model="sonnet", tools=[WEATHER], store=False,
                                    input=[*ask, *[c.model_dump() for c in calls], *results])
    assert final.output_text == "Both sunny."
    sent = blocks_of(upstream.calls[1], "tool_result")
    assert [(r["tool_use_id"], r["content"]) for r in sent] == [
        ("toolu_paris", "sunny 0"), ("toolu_rome", "sunny 1")]


def test_images_in_the_input_and_in_a_tool_output(upstream: FakeUpstream,
                                                  client: openai.OpenAI) -> None:
    upstream.queue(Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Oslo"},
                                          "id": "toolu_img"}]))
    ask = [{"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                        {"type": "input_image", "image_url": png_data_url()}]}]
    first = client.responses.create(model="sonnet", input=ask, tools=[WEATHER])
    assert blocks_of(upstream.calls[0], "image")[0]["source"]["media_type"] == "image/png"
    upstream.queue(Reply(text="A red square."))
    output = [{"type": "input_text", "text": "a map"},
              {"type": "input_image", "image_url": png_data_url()}]
    client.responses.create(model="sonnet", tools=[WEATHER], input=[
        *ask, *[item.model_dump() for item in first.output],
        {"type": "function_call_output", "call_id": "toolu_img", "output": output}])
    [result] = blocks_of(upstream.calls[1], "tool_result")
    assert [b["type"] for b in result["content"]] == ["text", "image"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_freeform_tool_is_called_with_raw_text(upstream: FakeUpstream,
                                                 client: openai.OpenAI, stream: bool) -> None:
    upstream.queue(Reply(text="", tools=[{"name": "apply_patch", "input": {"input": PATCH},
                                          "id": "toolu_patch"}]))
    body: dict[str, Any] = {"model": "sonnet", "input": "Add hello.txt", "tools": [APPLY_PATCH]}
    if stream:
        events = list(client.responses.create(**body, stream=True))
        streamed = "".join(e.delta for e in events
                           if e.type == "response.custom_tool_call_input.delta")
        assert streamed == PATCH
        response = events[-1].response
    else:
        response = client.responses.create(**body)
    [call] = response.output
    assert (call.type, call.name, call.input, call.call_id) == (
        "custom_tool_call", "apply_patch", PATCH, "toolu_patch")
    offered = next(t for t in upstream.calls[0]["tools"] if t["name"] == "apply_patch")
    assert offered["input_schema"]["properties"]["input"]["type"] == "string"
    assert GRAMMAR.strip() in offered["description"]
    upstream.queue(Reply(text="Done."))
    client.responses.create(**{**body, "input": [
        {"role": "user", "content": "Add hello.txt"}, call.model_dump(),
        {"type": "custom_tool_call_output", "call_id": "toolu_patch", "output": "Success."}]})
    [use] = blocks_of(upstream.calls[1], "tool_use")
    assert use["input"] == {"input": PATCH}
    [result] = blocks_of(upstream.calls[1], "tool_result")
    assert result["tool_use_id"] == "toolu_patch" and "Success." in json.dumps(result)


def test_previous_response_id_continues_the_conversation(upstream: FakeUpstream,
                                                         client: openai.OpenAI) -> None:
    upstream.queue(Reply(text="Paris."), Reply(text="About 2 million."))
    first = client.responses.create(model="sonnet", input="Capital of France?",
                                    instructions="Be terse.")
    second = client.responses.create(model="sonnet", input="Population?",
                                     previous_response_id=first.id)
    assert second.output_text == "About 2 million."
    assert second.previous_response_id == first.id
    call = upstream.calls[1]
    texts = [b["text"] for m in call["messages"] for b in m["content"]
             if isinstance(m["content"], list) and b.get("type") == "text"
             and not b["text"].startswith("<system-reminder>")]
    assert texts[:3] == ["Capital of France?", "Paris.", "Population?"]
    assert "Be terse." not in system_text(call)  # instructions are not carried over
    assert client.responses.retrieve(first.id).output_text == "Paris."
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["message"]


def test_unknown_previous_response_and_store_false(upstream: FakeUpstream,
                                                   client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="sonnet", input="Hi", previous_response_id="resp_nope")
    assert info.value.code == "previous_response_not_found"
    assert info.value.body["param"] == "previous_response_id"  # type: ignore[index]
    upstream.queue(Reply(text="Not kept."))
    kept = client.responses.create(model="sonnet", input="Hi", store=False)
    assert kept.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="sonnet", input="Hi", previous_response_id=kept.id)
    assert len(upstream.calls) == 1  # the refused requests never reached the model


def test_delete_forgets_a_response(upstream: FakeUpstream, client: openai.OpenAI,
                                   config: Config) -> None:
    upstream.queue(Reply(text="Bye."))
    response = client.responses.create(model="sonnet", input="Hi")
    assert get_response(response.id, config=config)["id"] == response.id
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(NotFoundError):
        get_response(response.id, config=config)


def test_max_output_tokens_gives_an_incomplete_response(upstream: FakeUpstream,
                                                        client: openai.OpenAI) -> None:
    upstream.queue(Reply(text="A long answer cut"))
    response = client.responses.create(model="sonnet", input="Tell me", max_output_tokens=3)
    assert upstream.calls[0]["max_tokens"] == 3
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_errors_before_the_stream_are_http_statuses(upstream: FakeUpstream,
                                                    client: openai.OpenAI) -> None:
    upstream.queue(Reply(status=429, error_type="rate_limit_error"))
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="sonnet", input="Hi", stream=True)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="sonnet", input="Hi", conversation="conv_1")
    assert info.value.body["param"] == "conversation"  # type: ignore[index]


def test_a_failure_mid_stream_is_response_failed(upstream: FakeUpstream,
                                                 server: ThreadedServer) -> None:
    upstream.queue(Reply(deltas=["a", "b", "c", "d"], fail_after=2))
    events = raw_stream(server, {"model": "sonnet", "input": "Hi"})
    for event in events:
        EVENT.validate_python(event)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


@pytest.mark.parametrize("model", [None, MANUAL])
def test_thinking_rides_in_encrypted_content_through_a_stateless_tool_loop(
        upstream: FakeUpstream, client: openai.OpenAI, model: str | None) -> None:
    """Codex's way: store false, the whole history sent back, reasoning items included."""
    upstream.queue(Reply(thinking=["plan"], redacted=1, text="", tools=[
        {"name": "get_weather", "input": {"city": "Oslo"}, "id": "toolu_oslo"}]))
    body: dict[str, Any] = {"model": model or "sonnet", "tools": [WEATHER], "store": False,
                            "include": ["reasoning.encrypted_content"],
                            "reasoning": {"effort": "medium", "summary": "auto"}}
    ask = {"role": "user", "content": "Weather in Oslo?"}
    first = client.responses.create(**body, input=[ask])
    reasoning = [item for item in first.output if item.type == "reasoning"]
    signed = [b for item in reasoning for b in decode_thinking(item.encrypted_content)]
    assert [b["type"] for b in signed] == ["thinking", "redacted_thinking"]
    assert reasoning[0].summary[0].text == "plan"
    upstream.queue(Reply(text="Cold."))
    history = [ask, *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": "toolu_oslo", "output": "-3 C"}]
    fresh = Config(timeout=60, max_retries=0, pool_size=0, thinking_store_bytes=0)
    final = create_response({**body, "input": history}, config=fresh)  # no server state
    assert final["output"][-1]["content"][0]["text"] == "Cold."
    [assistant] = [m["content"] for m in upstream.calls[1]["messages"]
                   if m["role"] == "assistant"]
    assert [b for b in assistant if b["type"] in ("thinking", "redacted_thinking")] == signed
    assert upstream.calls[1].get("thinking"), "thinking stays on"


def test_the_same_keys_log_transcripts_and_routes_as_chat(upstream: FakeUpstream,
                                                          tmp_path: Any,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    import logging

    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from claude_openai import mount

    key = "sk-responses-key-123"
    config = Config(api_key=key, pool_size=0, max_retries=0, transcripts_dir=str(tmp_path))
    client = TestClient(create_app(config))
    body = {"model": "sonnet", "input": "Hi", "stream": True}
    assert client.post("/v1/responses", json=body).status_code == 401
    upstream.queue(Reply(text="Logged."))
    with caplog.at_level(logging.INFO, logger="claude_openai"):
        streamed = client.post("/responses", json=body,  # without the /v1 prefix too
                               headers={"Authorization": f"Bearer {key}",
                                        "X-Request-ID": "resp-log-1"})
    assert streamed.status_code == 200 and "event: response.completed" in streamed.text
    done = [json.loads(line[6:]) for line in streamed.text.splitlines()
            if line.startswith("data: ")][-1]["response"]
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resp_")]
    assert line.startswith(done["id"]) and "status=200" in line and "stream=true" in line
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert record["id"] == done["id"] and record["request"] == body
    assert record["response"]["output"] == done["output"]

    host = Starlette()
    mount(host, "/x/v1", config=Config(pool_size=0, max_retries=0))
    upstream.queue(Reply(text="Mounted."))
    mounted = TestClient(host).post("/x/v1/responses", json={"model": "sonnet", "input": "Hi"})
    assert mounted.status_code == 200
    assert mounted.json()["output"][0]["content"][0]["text"] == "Mounted."
