"""Pure translation, Responses side: SDK messages -> Response objects and stream events, each
validated against the `openai` package's own types, in OpenAI's canonical order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from claude_agent_sdk import StreamEvent
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from test_thinking import REDACTED, THOUGHT, events, result

from claude_openai import UpstreamError
from claude_openai._engine.tools import ToolConfig, ToolSpec
from claude_openai._responses.events import ResponsesBuilder
from claude_openai._responses.raw_input import RawInput
from claude_openai._responses.reasoning import decode_thinking, encode_thinking

EVENT = TypeAdapter(ResponseStreamEvent)
WEATHER = ToolSpec("get_weather", "", {"type": "object"})
PATCH = ToolSpec("apply_patch", "", {"type": "object"}, custom=True)
EXEC = ToolSpec("exec", "", {"type": "object"}, namespace="functions")
TEXT = {"type": "text", "text": "It is sunny."}
PATCH_TEXT = '*** Begin Patch\n*** Add File: a.txt\n+hi "there"\n*** End Patch\n'


def stream(builder: ResponsesBuilder, *blocks: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = [c for e in events(*blocks) for c in builder.feed(StreamEvent("u", "s", e))]
    return chunks + builder.feed(result())


def validated(chunks: list[dict[str, Any]]) -> list[str]:
    """Every event validates strictly, and numbers run 0, 1, 2, ...; returns their types."""
    for i, chunk in enumerate(chunks):
        EVENT.validate_python(chunk, strict=False)
        assert chunk["sequence_number"] == i
    final = chunks[-1]["response"]
    Response.model_validate(final)
    return [c["type"] for c in chunks]


def builder(**kw: Any) -> ResponsesBuilder:
    return ResponsesBuilder(model="sonnet", echo={"tools": [], "tool_choice": "auto",
                                                  "parallel_tool_calls": True}, **kw)


def test_text_streams_in_the_canonical_order_and_the_final_response_holds_it() -> None:
    b = builder()
    types = validated(stream(b, TEXT))
    assert types == ["response.created", "response.in_progress",
                     "response.output_item.added", "response.content_part.added",
                     "response.output_text.delta", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done",
                     "response.output_item.done", "response.completed"]
    final = Response.model_validate(b.final())
    assert final.output_text == "It is sunny." and final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens == 9
    assert final.usage.output_tokens_details.reasoning_tokens == 4
    assert final.usage.input_tokens_details.cached_tokens == 0


def test_ids_are_the_same_in_the_events_and_the_final_response() -> None:
    b = builder(tools=ToolConfig(tools=[WEATHER]))
    chunks = stream(b, TEXT, {"type": "tool_use", "id": "toolu_1", "name": "get_weather"})
    done = [c["item"]["id"] for c in chunks if c["type"] == "response.output_item.done"]
    assert done == [item["id"] for item in b.final()["output"]]
    assert done[0].startswith("msg_") and done[1].startswith("fc_")


def test_a_function_call_streams_its_arguments_and_ends_completed() -> None:
    b = builder(tools=ToolConfig(tools=[WEATHER]))
    chunks = stream(b, {"type": "tool_use", "id": "toolu_1", "name": "get_weather"})
    types = validated(chunks)
    assert types[2:] == ["response.output_item.added",
                         "response.function_call_arguments.delta",
                         "response.function_call_arguments.delta",
                         "response.function_call_arguments.done",
                         "response.output_item.done", "response.completed"]
    deltas = "".join(c["delta"] for c in chunks if c["type"].endswith("arguments.delta"))
    call = b.final()["output"][0]
    assert json.loads(deltas) == json.loads(call["arguments"]) == {"city": "Paris"}
    assert (call["type"], call["call_id"], call["name"], call["status"]) == (
        "function_call", "toolu_1", "get_weather", "completed")


def test_a_freeform_call_comes_back_as_raw_text_never_json() -> None:
    b = builder(tools=ToolConfig(tools=[PATCH]))
    fragments = [json.dumps({"input": PATCH_TEXT})[i:i + 7] for i in range(0, 80, 7)]
    messages = [StreamEvent("u", "s", e) for e in [
        {"type": "message_start", "message": {"model": "m", "usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_p", "name": "apply_patch", "input": {}}},
        *[{"type": "content_block_delta", "index": 0,
           "delta": {"type": "input_json_delta", "partial_json": f}} for f in fragments],
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}}]]
    chunks = [c for m in messages for c in b.feed(m)] + b.feed(result())
    types = validated(chunks)
    assert "response.custom_tool_call_input.delta" in types
    streamed = "".join(c["delta"] for c in chunks
                       if c["type"] == "response.custom_tool_call_input.delta")
    call = b.final()["output"][0]
    assert streamed == call["input"] == PATCH_TEXT
    assert call["type"] == "custom_tool_call" and call["call_id"] == "toolu_p"


@pytest.mark.parametrize("raw, expected", [
    ('{"input": "a\\nb', "a\nb"), ('{"input": "a\\', "a"), ('{"input": "x\\u00', "x"),
    ('{"input": "x\\u00e9', "xé"), ('{"input": "q\\"', 'q"'), ('{"inp', ""),
])
def test_raw_input_decodes_only_what_is_complete(raw: str, expected: str) -> None:
    decoder = RawInput()
    assert decoder.feed(raw) == expected


def test_a_namespaced_call_keeps_its_namespace() -> None:
    b = builder(tools=ToolConfig(tools=[EXEC]))
    stream(b, {"type": "tool_use", "id": "toolu_1", "name": "exec"})
    assert b.final()["output"][0]["namespace"] == "functions"


def test_thinking_is_a_reasoning_item_with_summary_and_its_signed_block_on_request() -> None:
    b = builder(summary=True, include_thinking=True)
    chunks = stream(b, THOUGHT, REDACTED, TEXT)
    types = validated(chunks)
    assert types[2:7] == ["response.output_item.added",
                          "response.reasoning_summary_part.added",
                          "response.reasoning_summary_text.delta",
                          "response.reasoning_summary_text.delta",
                          "response.reasoning_summary_text.done"]
    first, redacted, message = b.final()["output"]
    assert first["summary"] == [{"type": "summary_text", "text": "let me see"}]
    assert decode_thinking(first["encrypted_content"]) == [THOUGHT]
    assert decode_thinking(redacted["encrypted_content"]) == [REDACTED]
    assert redacted["summary"] == [] and message["type"] == "message"


def test_without_summary_or_include_thinking_leaves_no_reasoning_item() -> None:
    b = builder()
    stream(b, THOUGHT, TEXT)
    assert [item["type"] for item in b.final()["output"]] == ["message"]


def test_include_alone_gives_reasoning_items_without_summaries() -> None:
    b = builder(include_thinking=True)
    validated(stream(b, THOUGHT, TEXT))
    reasoning = b.final()["output"][0]
    assert reasoning["summary"] == [] and decode_thinking(reasoning["encrypted_content"])


def test_encrypted_content_that_is_not_ours_decodes_to_nothing() -> None:
    assert decode_thinking("gAAAAABfoo") == []
    assert decode_thinking(encode_thinking([THOUGHT])[:-3] + "!!!") == []
    assert decode_thinking(None) == []


def test_a_cut_answer_is_incomplete_with_its_reason() -> None:
    b = builder()
    cut = [e for e in events(TEXT) if e["type"] != "message_delta"] + [
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {}}]
    chunks = [c for e in cut for c in b.feed(StreamEvent("u", "s", e))] + b.feed(result())
    types = validated(chunks)
    assert types[-1] == "response.incomplete"
    final = Response.model_validate(b.final())
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"


def test_a_failure_after_the_stream_began_is_response_failed() -> None:
    b = builder()
    chunks = [c for e in events(TEXT)[:3] for c in b.feed(StreamEvent("u", "s", e))]
    chunks += b.failed(UpstreamError("The upstream went away.", code="upstream_error"))
    types = validated(chunks)
    assert types[-1] == "response.failed"
    assert chunks[-1]["response"]["error"] == {"code": "server_error",
                                               "message": "The upstream went away."}


def test_a_failure_before_any_output_still_opens_with_created() -> None:
    b = builder()
    types = validated(b.failed(UpstreamError("No.")))
    assert types == ["response.created", "response.in_progress", "response.failed"]


def test_the_completed_response_is_handed_to_the_store() -> None:
    kept: list[dict[str, Any]] = []
    b = ResponsesBuilder(model="sonnet", echo={"tools": [], "tool_choice": "auto",
                                                "parallel_tool_calls": True},
                         on_complete=kept.append)
    stream(b, TEXT)
    assert [r["id"] for r in kept] == [b.id] and kept[0]["status"] == "completed"
