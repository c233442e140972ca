"""Pure translation, Responses API request side: a /v1/responses body -> ResponsesRequest, with
the shapes real clients send (openai-python, the Agents SDK, Codex), and every 400's ``param``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from images import png_data_url

from claude_openai import Config, InvalidRequestError
from claude_openai._engine.thinking_store import prefix_keys
from claude_openai._engine.tools import ToolSpec, api_name, object_schema
from claude_openai._engine.turns import Echo
from claude_openai._responses.policy import BY_NAME, FIELDS, HOSTED_TOOLS, compatibility_table
from claude_openai._responses.reasoning import encode_thinking
from claude_openai._responses.request import ResponsesRequest, parse_responses

CONFIG = Config()
THINKING = {"type": "thinking", "thinking": "Let me look.", "signature": "sig-1"}
REDACTED = {"type": "redacted_thinking", "data": "opaque"}
LARK = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'


def parse(body: dict[str, Any], **kw: Any) -> ResponsesRequest:
    return parse_responses({"model": "sonnet", **body}, CONFIG, **kw)


def rejects(body: Any, param: str | None, code: str | None = None,
            **kw: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse_responses(body, kw.pop("config", CONFIG), **kw)
    assert info.value.status_code == 400
    assert info.value.param == param
    if code is not None:
        assert info.value.code == code
    return info.value


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def fn(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}, **extra}


def call(call_id: str, name: str, args: Any = None, **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name,
            "arguments": json.dumps(args or {}), **extra}


def output(call_id: str, value: Any = "ok", kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": value}


# -- input shapes ------------------------------------------------------------------------------
def test_a_string_input_is_one_user_message() -> None:
    got = parse({"input": "hello", "instructions": "Be terse."})
    assert got.claude.prompt == [text("hello")]
    assert got.claude.history == []
    assert got.claude.system == "Be terse."
    assert got.items == [{"type": "message", "role": "user",
                          "content": [{"type": "input_text", "text": "hello"}]}]
    assert got.claude.model == "sonnet"
    assert got.store is True and got.previous_response_id is None
    assert got.include_thinking is False and got.show_summary is False


def test_no_model_means_the_default() -> None:
    assert parse_responses({"input": "hi"}, CONFIG).claude.model is None


def test_agents_sdk_items_without_type_with_ids_status_and_annotations() -> None:
    items = [
        {"content": "What is 2+2?", "role": "user"},
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "4", "annotations": [], "logprobs": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "And 3+3?"}]},
    ]
    got = parse({"input": items, "include": [], "instructions": "You are a calculator."})
    assert [(t.role, t.blocks) for t in got.claude.history] == [
        ("user", [text("What is 2+2?")]), ("assistant", [text("4")])]
    assert got.claude.history[1].echoes == (Echo([text("4")], []),)
    assert got.claude.prompt == [text("And 3+3?")]
    assert got.items[0] == {"type": "message", "content": "What is 2+2?", "role": "user"}
    assert got.items[1] is items[1]  # typed items are kept as they are
    assert got.claude.keys == tuple(prefix_keys("You are a calculator.",
                                                [*got.claude.history, _last(got)]))


def _last(got: ResponsesRequest) -> Any:
    from claude_openai._engine.turns import Turn
    assert got.claude.prompt is not None
    return Turn("user", got.claude.prompt)


def test_consecutive_items_of_one_side_merge_and_empty_text_is_dropped() -> None:
    got = parse({"input": [
        user("a"), {"role": "user", "content": [{"type": "input_text", "text": "  "},
                                                {"type": "input_text", "text": "b"}]},
        {"role": "assistant", "content": "c"}, {"role": "assistant", "content": "d"},
        user("e"),
    ]})
    assert [(t.role, t.blocks) for t in got.claude.history] == [
        ("user", [text("a"), text("b")]), ("assistant", [text("c"), text("d")])]
    assert got.claude.history[1].echoes == (Echo([text("c"), text("d")], []),)


def test_refusal_and_text_parts_and_a_part_without_type() -> None:
    got = parse({"input": [
        user("q"),
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."},
                                          {"type": "text", "text": "Sorry."}]},
        {"role": "user", "content": [{"text": "typeless part"}]},
    ]})
    assert got.claude.history[1].blocks == [text("No."), text("Sorry.")]
    assert got.claude.prompt == [text("typeless part")]


def test_system_and_developer_messages_join_the_instructions_in_order() -> None:
    got = parse({"instructions": "First.", "input": [
        {"role": "developer", "content": [{"type": "input_text", "text": "Second."}]},
        user("hi"),
        {"role": "system", "content": "Third."},
        user("again"),
    ]})
    assert got.claude.system == "First.\n\nSecond.\n\nThird."
    assert got.claude.prompt == [text("hi"), text("again")]


def test_input_images_as_a_string_url_and_as_an_object() -> None:
    url = png_data_url()
    got = parse({"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": url},
        {"type": "input_image", "image_url": {"url": "https://example.com/a.png"},
         "detail": "high"},
    ]}]})
    assert got.claude.prompt is not None
    assert got.claude.prompt[1] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": url.split(",", 1)[1]}}
    assert got.claude.prompt[2] == {"type": "image", "source": {
        "type": "url", "url": "https://example.com/a.png"}}


def test_image_errors_name_the_part() -> None:
    rejects({"input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-1"}]}]},
        "input[0].content[0].file_id", "unsupported_content")
    rejects({"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "ftp://x"}]}]}, "input[0].content[0].image_url")
    rejects({"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": {"url": 3}}]}]}, "input[0].content[0].image_url.url",
        "invalid_type")
    small = Config(max_image_bytes=10)
    rejects({"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": png_data_url()}]}]},
        "input[0].content[0].image_url", "image_too_large", config=small)


def test_files_and_unknown_parts_are_refused_naming_them() -> None:
    rejects({"input": [{"role": "user", "content": [
        {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA"}]}]},
        "input[0].content[0].type", "unsupported_content")
    rejects({"input": [user("q"), {"role": "assistant", "content": [
        {"type": "input_image", "image_url": png_data_url()}]}, user("r")]},
        "input[1].content[0].type", "unsupported_content")
    rejects({"input": [{"role": "developer", "content": [{"type": "audio"}]}, user("q")]},
            "input[0].content[0].type", "unsupported_content")
    rejects({"input": [{"role": "user", "content": [{"type": "input_text", "text": 1}]}]},
            "input[0].content[0].text", "invalid_type")


def test_input_shape_errors() -> None:
    rejects({"model": "sonnet", "input": 5}, "input", "invalid_type")
    rejects({"model": "sonnet", "input": ["hi"]}, "input[0]", "invalid_type")
    rejects({"model": "sonnet", "input": [{"role": "tool", "content": "x"}]}, "input[0].role")
    rejects({"model": "sonnet", "input": [{"role": "user", "content": 5}]}, "input[0].content",
            "invalid_type")
    rejects([], None, "invalid_type")


def test_the_last_turn_must_be_the_users() -> None:
    err = rejects({"input": [user("q"), {"role": "assistant", "content": "a"}]}, "input")
    assert "end with" in err.message
    rejects({"input": []}, "input")
    rejects({"model": "sonnet"}, "input")
    rejects({"input": [user("q"), {"role": "assistant", "content": "a"}, user("  ")]},
            "input[2].content")
    rejects({"input": [{"role": "developer", "content": "only instructions"}]}, "input")


def test_max_messages_counts_the_items() -> None:
    small = Config(max_messages=2)
    rejects({"input": [user("a"), user("b"), user("c")]}, "input", "array_above_max_length",
            config=small)
    parse_responses({"input": [user("a"), user("b")]}, small)


# -- tool calls in history --------------------------------------------------------------------
def test_function_call_and_output_round_trip() -> None:
    got = parse({"tools": [fn("get_weather")], "input": [
        user("weather?"),
        call("call_1", "get_weather", {"city": "Paris"}, id="fc_1", status="completed"),
        output("call_1", "sunny"),
    ]})
    assert got.claude.prompt is None  # continues after the tool results
    assert [t.role for t in got.claude.history] == ["user", "assistant", "user"]
    assert got.claude.history[1].blocks == [{"type": "tool_use", "id": "call_1",
                                             "name": "get_weather", "input": {"city": "Paris"}}]
    assert got.claude.history[2].blocks == [{"type": "tool_result", "tool_use_id": "call_1",
                                             "content": "sunny"}]
    assert len(got.claude.keys) == 4


def test_a_message_after_tool_outputs_joins_the_user_turn() -> None:
    got = parse({"tools": [fn("f")], "input": [
        user("q"), call("c1", "f"), output("c1", "r"), user("thanks, now summarise")]})
    assert got.claude.prompt is None
    assert got.claude.history[-1].blocks == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "r"},
        text("thanks, now summarise")]


def test_call_ids_and_names_are_made_api_safe() -> None:
    got = parse({"input": [user("q"), call("functions.Bash:0", "my.tool"),
                           output("functions.Bash:0")]})
    use, = got.claude.history[1].blocks
    assert use["id"] == "functions_Bash_0"
    assert use["name"] == api_name("my.tool") != "my.tool"
    assert got.claude.history[2].blocks[0]["tool_use_id"] == "functions_Bash_0"


def test_tool_output_parts_with_an_image() -> None:
    url = png_data_url()
    got = parse({"input": [user("q"), call("c1", "view_image"), output("c1", [
        {"type": "input_text", "text": "here it is"},
        {"type": "input_image", "image_url": url},
        {"type": "output_text", "text": "   "},
    ])]})
    result = got.claude.history[-1].blocks[0]
    assert result["content"] == [text("here it is"), {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": url.split(",", 1)[1]}}]


def test_an_empty_output_has_no_empty_text() -> None:
    got = parse({"input": [user("q"), call("c1", "f"), call("c2", "g"), call("c3", "h"),
                           output("c1", ""), output("c2", []), output("c3", None)]})
    assert got.claude.history[-1].blocks == [
        {"type": "tool_result", "tool_use_id": c} for c in ("c1", "c2", "c3")]


def test_tool_output_errors_name_the_part() -> None:
    rejects({"input": [user("q"), call("c1", "f"), output("c1", [
        {"type": "input_file", "file_id": "f"}])]}, "input[2].output[0].type",
        "unsupported_content")


def test_an_output_for_no_call_is_a_400() -> None:
    rejects({"input": [user("q"), output("nope")]}, "input[1].call_id", "unknown_tool_call")
    # an output answers its call once
    rejects({"input": [user("q"), call("c1", "f"), output("c1"), output("c1")]},
            "input[3].call_id", "unknown_tool_call")


def test_a_call_with_no_name_takes_its_outputs_else_400() -> None:
    got = parse({"input": [user("q"), call("c1", ""),
                           {**output("c1"), "name": "shell"}]})
    assert got.claude.history[1].blocks[0]["name"] == "shell"
    rejects({"input": [user("q"), {"type": "function_call", "call_id": "c1", "arguments": "{}"},
                       output("c1")]}, "input[1].name")
    rejects({"input": [user("q"), {"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[1].call_id")


def test_bad_arguments_are_a_400() -> None:
    rejects({"input": [user("q"), {**call("c1", "f"), "arguments": "{not json"},
                       output("c1")]}, "input[1].arguments")
    rejects({"input": [user("q"), {**call("c1", "f"), "arguments": "[1]"}, output("c1")]},
            "input[1].arguments")


def test_skipped_item_types_are_neither_turns_nor_errors() -> None:
    got = parse({"input": [
        {"type": "item_reference", "id": "msg_old"},
        user("q"),
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "x"}},
        call("c1", "f"),
        {"type": "local_shell_call", "id": "ls", "call_id": "ls1", "status": "completed",
         "action": {"type": "exec", "command": ["ls"]}},
        {"type": "compaction", "encrypted_content": "gAAAA"},
        {"type": "something_new", "x": 1},
        output("c1"),
    ]})
    assert [t.role for t in got.claude.history] == ["user", "assistant", "user"]
    assert got.claude.history[1].blocks[0]["id"] == "c1"
    assert len(got.items) == 8  # all of this request's items are kept for the store


# -- Codex -------------------------------------------------------------------------------------
def codex_tools() -> list[dict[str, Any]]:
    return [
        {"type": "custom", "name": "apply_patch",
         "description": "Use the `apply_patch` tool to edit files.",
         "format": {"type": "grammar", "syntax": "lark", "definition": LARK}},
        {"type": "namespace", "name": "functions", "description": "core tools", "tools": [
            {"type": "function", "name": "exec_command", "strict": False,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                            "required": ["cmd"], "additionalProperties": False}},
            {"type": "custom", "name": "exec", "description": "run code"},
        ]},
        {"type": "namespace", "name": "mcp__docs", "tools": [fn("search")]},
        fn("search"),
        {"type": "web_search"},
        {"type": "local_shell"},
        {"type": "image_generation"},
        {"type": "tool_search", "execution": "client"},
    ]


def codex_body(*history: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "sonnet", "instructions": None, "store": False, "stream": True,
        "tool_choice": "auto", "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "conv-uuid",
        "text": {"verbosity": "low"}, "tools": codex_tools(),
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "<permissions>sandboxed</permissions>"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context/>"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "fix the bug"}]},
            *history,
        ],
    }


def test_codex_body_flags_and_system_prompt() -> None:
    got = parse_responses(codex_body(), CONFIG)
    assert got.claude.system == "<permissions>sandboxed</permissions>"
    assert got.store is False and got.include_thinking and got.show_summary
    assert got.claude.effort == "medium" and not got.claude.thinking_off
    assert got.claude.prompt == [text("<environment_context/>"), text("fix the bug")]
    assert got.claude.tools.schema is None and got.claude.tools.choice is None


def test_codex_tools_are_flattened_and_hosted_ones_not_offered() -> None:
    tools = parse_responses(codex_body(), CONFIG).claude.tools.tools
    by_offer = {t.api_name: t for t in tools}
    assert list(by_offer) == ["apply_patch", "exec_command", "exec", "mcp__docs__search",
                              "search"]
    patch = by_offer["apply_patch"]
    assert patch.custom and patch.namespace is None
    assert patch.parameters == {
        "type": "object", "required": ["input"], "additionalProperties": False,
        "properties": {"input": {"type": "string", "description": "The raw input for the tool."}}}
    assert patch.description.startswith("Use the `apply_patch` tool to edit files.")
    assert "not wrapped in JSON" in patch.description
    assert patch.description.endswith("The input must match this lark grammar:\n" + LARK)
    assert by_offer["exec_command"].namespace == "functions"
    assert by_offer["exec_command"].parameters["required"] == ["cmd"]
    assert by_offer["exec_command"].offered is None  # no clash: its own name
    assert by_offer["exec"].custom and "grammar" not in by_offer["exec"].description
    clash = by_offer["mcp__docs__search"]
    assert (clash.name, clash.namespace, clash.offered) == ("search", "mcp__docs",
                                                           "mcp__docs__search")
    assert by_offer["search"].namespace is None and by_offer["search"].offered is None


def test_codex_history_with_calls_outputs_and_reasoning() -> None:
    url = png_data_url()
    ours = encode_thinking([THINKING])
    got = parse_responses(codex_body(
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Looking."}],
         "encrypted_content": ours},
        {"type": "function_call", "name": "exec_command", "namespace": "functions",
         "arguments": "{\"cmd\":\"ls\"}", "call_id": "call_a"},
        {"type": "function_call_output", "call_id": "call_a", "output": [
            {"type": "input_text", "text": "a.py"}, {"type": "input_image", "image_url": url}]},
        {"type": "reasoning", "summary": [], "encrypted_content": encode_thinking([REDACTED])},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABforeign=="},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Patching."}]},
        {"type": "custom_tool_call", "name": "apply_patch", "call_id": "call_b",
         "input": "*** Begin Patch\n*** End Patch\n"},
        {"type": "custom_tool_call_output", "call_id": "call_b", "output": "Done!"},
    ), CONFIG)
    assert got.claude.prompt is None
    roles = [t.role for t in got.claude.history]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    first, second = got.claude.history[1], got.claude.history[3]
    assert first.blocks == [{"type": "tool_use", "id": "call_a", "name": "exec_command",
                             "input": {"cmd": "ls"}}]
    assert first.echoes == (Echo(first.blocks, [THINKING]),)
    assert got.claude.history[2].blocks[0]["content"][0] == text("a.py")
    assert got.claude.history[2].blocks[0]["content"][1]["type"] == "image"
    assert second.blocks == [text("Patching."), {
        "type": "tool_use", "id": "call_b", "name": "apply_patch",
        "input": {"input": "*** Begin Patch\n*** End Patch\n"}}]
    assert second.echoes == (Echo(second.blocks, [REDACTED]),)  # the foreign one: nothing
    assert got.claude.history[4].blocks == [{"type": "tool_result", "tool_use_id": "call_b",
                                             "content": "Done!"}]


def test_reasoning_that_is_foreign_or_missing_gives_nothing() -> None:
    got = parse({"input": [
        user("q"),
        {"type": "reasoning", "summary": []},
        {"type": "reasoning", "summary": [], "encrypted_content": None},
        {"type": "reasoning", "summary": [], "encrypted_content": "claude-openai.thinking.v1:%%"},
        {"role": "assistant", "content": "a"},
        {"type": "reasoning", "summary": [], "encrypted_content": encode_thinking([THINKING])},
        user("r"),
    ]})
    assert got.claude.history[1].echoes == (Echo([text("a")], []),)
    # reasoning with no assistant item after it opens no turn: it goes nowhere
    assert [t.role for t in got.claude.history] == ["user", "assistant"]


def test_reasoning_between_assistant_items_stays_in_their_turn() -> None:
    got = parse({"input": [
        user("q"),
        {"type": "reasoning", "summary": [], "encrypted_content": encode_thinking([THINKING])},
        {"role": "assistant", "content": "Checking."},
        {"type": "reasoning", "summary": [], "encrypted_content": encode_thinking([REDACTED])},
        call("c1", "f"),
        output("c1"),
    ]})
    turn = got.claude.history[1]
    assert turn.blocks == [text("Checking."),
                           {"type": "tool_use", "id": "c1", "name": "f", "input": {}}]
    assert turn.echoes == (Echo(turn.blocks, [THINKING, REDACTED]),)


def test_namespaced_calls_map_to_the_offered_name() -> None:
    got = parse_responses(codex_body(
        {"type": "function_call", "name": "search", "namespace": "mcp__docs",
         "arguments": "{}", "call_id": "c1"},
        {"type": "function_call", "name": "search", "arguments": "{}", "call_id": "c2"},
        {"type": "custom_tool_call", "name": "exec", "namespace": "functions",
         "input": "print(1)", "call_id": "c3"},
        output("c1"), output("c2"), output("c3", kind="custom_tool_call_output"),
    ), CONFIG)
    names = [b["name"] for b in got.claude.history[1].blocks]
    assert names == ["mcp__docs__search", "search", "exec"]
    assert got.claude.tools.client_name("mcp__docs__search") == "search"
    assert got.claude.tools.spec("mcp__docs__search").namespace == "mcp__docs"  # type: ignore


def test_additional_tools_items_add_tools() -> None:
    got = parse({"tools": [fn("a")], "input": [
        {"type": "additional_tools", "role": "developer", "tools": [fn("b"), fn("a")]},
        user("q")]})
    assert [t.name for t in got.claude.tools.tools] == ["a", "b"]  # "a" again is no clash
    rejects({"model": "sonnet", "input": [
        {"type": "additional_tools", "tools": [{"type": "function", "name": ""}]}, user("q")]},
        "input[0].tools[0].name")


# -- previous_response_id ----------------------------------------------------------------------
def test_previous_response_id_prepends_the_stored_chain() -> None:
    stored = [{"content": "first question", "role": "user"},
              {"type": "message", "role": "developer", "content": "Old developer note."},
              {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}]
    asked: list[str] = []

    def earlier(rid: str) -> list[dict[str, Any]]:
        asked.append(rid)
        return stored

    got = parse({"previous_response_id": "resp_1", "instructions": "New.",
                 "input": [output("c1", "r")]}, earlier=earlier)
    assert asked == ["resp_1"]
    assert got.previous_response_id == "resp_1"
    assert got.claude.system == "New.\n\nOld developer note."
    assert [t.role for t in got.claude.history] == ["user", "assistant", "user"]
    assert got.items == [output("c1", "r")]  # only this request's items
    assert len(got.claude.keys) == 4


def test_previous_response_id_without_a_store_is_not_found() -> None:
    err = rejects({"model": "sonnet", "previous_response_id": "resp_x", "input": "hi"},
                  "previous_response_id", "previous_response_not_found")
    assert err.message == "Previous response with id 'resp_x' not found."
    rejects({"model": "sonnet", "previous_response_id": 7, "input": "hi"},
            "previous_response_id", "invalid_type")


def test_earlier_raises_its_own_400() -> None:
    def earlier(rid: str) -> list[dict[str, Any]]:
        raise InvalidRequestError("gone", param="previous_response_id", code="expired")

    rejects({"model": "sonnet", "previous_response_id": "r", "input": "hi"},
            "previous_response_id", "expired", earlier=earlier)


def test_errors_in_the_stored_chain_name_it() -> None:
    rejects({"model": "sonnet", "previous_response_id": "r", "input": "hi"},
            "previous_response_id.input[0].role", earlier=lambda rid: [{"role": "robot"}])


def test_max_messages_counts_the_stored_chain_too() -> None:
    rejects({"model": "sonnet", "previous_response_id": "r", "input": "hi"}, "input",
            "array_above_max_length", config=Config(max_messages=2),
            earlier=lambda rid: [user("a"), {"role": "assistant", "content": "b"}])


# -- tools -------------------------------------------------------------------------------------
def test_function_tools_are_flat_and_default_to_an_empty_schema() -> None:
    got = parse({"input": "q", "tools": [
        {"type": "function", "name": "noop", "parameters": None, "strict": True},
        {"type": "function", "function": {"name": "chat_shaped", "parameters": {
            "type": "object", "properties": {}}}},
        {"name": "typeless", "parameters": {"type": "object", "properties": {}}},
    ]})
    specs = got.claude.tools.tools
    assert specs[0] == ToolSpec("noop", "", {"type": "object", "properties": {}})
    assert [s.name for s in specs] == ["noop", "chat_shaped", "typeless"]


@pytest.mark.parametrize(("schema", "expected"), [
    ({"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "integer"}}}]},
     {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
    ({"type": "null"}, {"type": "object", "properties": {}}),
    ({"properties": {"a": {"type": "string"}}, "required": ["a"]},
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
    ({"type": ["object", "null"], "properties": {}}, {"type": "object", "properties": {}}),
    ({"type": "object", "properties": {"a": {}}, "required": ["a"],
      "oneOf": [{"properties": {"b": {}}}]},
     {"type": "object", "properties": {"b": {}, "a": {}}, "required": ["a"]}),
    ({"oneOf": [{"$ref": "#/$defs/x"}], "$defs": {"x": {"type": "object"}}},
     {"type": "object", "properties": {}, "$defs": {"x": {"type": "object"}}}),
    ({}, {"type": "object", "properties": {}}),
])
def test_schemas_that_are_not_objects_become_objects(schema: dict[str, Any],
                                                      expected: dict[str, Any]) -> None:
    assert object_schema(schema) == expected
    got = parse({"input": "q", "tools": [{"type": "function", "name": "t",
                                          "parameters": schema}]})
    assert got.claude.tools.tools[0].parameters == expected


def test_an_object_schema_is_kept_as_it_is() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"],
              "additionalProperties": False}
    assert object_schema(schema) == schema


def test_custom_tool_without_grammar() -> None:
    spec = parse({"input": "q", "tools": [{"type": "custom", "name": "note",
                                           "format": {"type": "text"}}]}).claude.tools.tools[0]
    assert spec.custom and "grammar" not in spec.description
    assert "freeform" in spec.description


def test_hosted_tools_are_neither_offered_nor_refused() -> None:
    hosted = [{"type": t} for t in (*HOSTED_TOOLS, "web_search_2025_08_26", "brand_new")]
    got = parse({"input": "q", "tools": [*hosted, fn("f")]})
    assert [t.name for t in got.claude.tools.tools] == ["f"]


def test_tool_errors_name_the_tool() -> None:
    rejects({"input": "q", "tools": {"type": "function"}}, "tools", "invalid_type")
    rejects({"input": "q", "tools": ["f"]}, "tools[0]", "invalid_type")
    rejects({"input": "q", "tools": [{"type": "function", "name": ""}]}, "tools[0].name")
    rejects({"input": "q", "tools": [{"type": "function", "name": "f", "parameters": "x"}]},
            "tools[0].parameters", "invalid_type")
    rejects({"input": "q", "tools": [{"type": "custom", "name": "f", "description": 3}]},
            "tools[0].description", "invalid_type")
    rejects({"input": "q", "tools": [{"type": "namespace", "name": "ns", "tools": "x"}]},
            "tools[0].tools", "invalid_type")
    rejects({"input": "q", "tools": [{"type": "namespace", "name": "ns",
                                      "tools": [{"type": "function", "name": 4}]}]},
            "tools[0].tools[0].name")


def test_duplicate_tool_names_are_a_400() -> None:
    rejects({"input": "q", "tools": [fn("f"), fn("f")]}, "tools")
    rejects({"input": "q", "tools": [{"type": "namespace", "name": "ns",
                                      "tools": [fn("f"), fn("f")]}]}, "tools")


# -- tool_choice -------------------------------------------------------------------------------
def choice(value: Any, tools: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    got = parse({"input": "q", "tools": tools if tools is not None else [fn("f"), fn("g")],
                 "tool_choice": value, **extra})
    return got.claude.tools


def test_tool_choice_auto_and_absent() -> None:
    assert choice("auto").choice is None
    assert len(choice(None).tools) == 2


def test_tool_choice_none_offers_no_tools_unless_history_uses_them() -> None:
    off = choice("none")
    assert off.tools == [] and off.choice is None
    got = parse({"tools": [fn("f")], "tool_choice": "none",
                 "input": [user("q"), call("c1", "f"), output("c1")]})
    assert [t.name for t in got.claude.tools.tools] == ["f"]
    assert got.claude.tools.choice == {"type": "none"}


def test_tool_choice_required() -> None:
    assert choice("required").choice == {"type": "any"}
    rejects({"input": "q", "tool_choice": "required"}, "tool_choice")


def test_tool_choice_named_function_and_custom() -> None:
    tools = [fn("f"), {"type": "custom", "name": "apply_patch"},
             {"type": "namespace", "name": "ns", "tools": [fn("f")]}]
    assert choice({"type": "function", "name": "f"}, tools).choice == {"type": "tool",
                                                                      "name": "f"}
    assert choice({"type": "custom", "name": "apply_patch"}, tools).choice == {
        "type": "tool", "name": "apply_patch"}
    assert choice({"type": "function", "name": "f", "namespace": "ns"}, tools).choice == {
        "type": "tool", "name": "ns__f"}
    rejects({"input": "q", "tools": tools, "tool_choice": {"type": "function", "name": "zz"}},
            "tool_choice")
    rejects({"input": "q", "tools": tools, "tool_choice": {"type": "function"}},
            "tool_choice.name", "invalid_type")


def test_tool_choice_allowed_tools() -> None:
    auto = choice({"type": "allowed_tools", "mode": "auto",
                   "tools": [{"type": "function", "name": "g"}, {"type": "web_search"}]})
    assert [t.name for t in auto.tools] == ["g"] and auto.choice is None
    required = choice({"type": "allowed_tools", "mode": "required",
                       "tools": [{"type": "function", "name": "f"}]})
    assert [t.name for t in required.tools] == ["f"] and required.choice == {"type": "any"}
    nothing = choice({"type": "allowed_tools", "mode": "auto", "tools": []})
    assert nothing.tools == [] and nothing.choice is None
    rejects({"input": "q", "tools": [fn("f")], "tool_choice": {
        "type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "x"}]}},
        "tool_choice.tools[0]")
    rejects({"input": "q", "tools": [fn("f")], "tool_choice": {
        "type": "allowed_tools", "mode": "always", "tools": []}}, "tool_choice.mode")
    rejects({"input": "q", "tools": [fn("f")], "tool_choice": {
        "type": "allowed_tools", "mode": "required", "tools": []}}, "tool_choice")


@pytest.mark.parametrize("value", [
    {"type": "web_search_preview"}, {"type": "file_search"}, {"type": "mcp", "server_label": "x"},
    {"type": "shell"}, {"type": "apply_patch"}, {"type": "computer_use_preview"},
    {"type": "image_generation"}, {"type": "code_interpreter"},
])
def test_forcing_a_hosted_tool_is_a_400(value: dict[str, Any]) -> None:
    rejects({"input": "q", "tools": [fn("f"), {"type": value["type"]}], "tool_choice": value},
            "tool_choice", "unsupported_value")


def test_tool_choice_garbage_is_a_400() -> None:
    rejects({"input": "q", "tools": [fn("f")], "tool_choice": "sometimes"}, "tool_choice")
    rejects({"input": "q", "tools": [fn("f")], "tool_choice": 3}, "tool_choice")


def test_parallel_tool_calls_false() -> None:
    assert choice(None, parallel_tool_calls=False).choice == {
        "type": "auto", "disable_parallel_tool_use": True}
    assert choice("required", parallel_tool_calls=False).choice == {
        "type": "any", "disable_parallel_tool_use": True}
    assert choice(None, parallel_tool_calls=True).choice is None
    assert choice(None, [], parallel_tool_calls=False).choice is None  # no tools: nothing


# -- text.format -------------------------------------------------------------------------------
def test_text_format_forms() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}

    def fmt(value: Any) -> Any:
        return parse({"input": "q", "text": {"format": value, "verbosity": "low"}}
                     ).claude.tools.schema

    assert fmt({"type": "text"}) is None
    assert fmt(None) is None
    assert fmt({"type": "json_object"}) == {"type": "object"}
    assert fmt({"type": "json_schema", "name": "out", "schema": schema, "strict": True}) == schema
    assert fmt({"type": "json_schema", "json_schema": {"schema": schema}}) == schema
    rejects({"input": "q", "text": {"format": {"type": "json_schema", "name": "x"}}},
            "text.format.schema")
    rejects({"input": "q", "text": {"format": {"type": "json_schema", "schema": "{}"}}},
            "text.format.schema")
    rejects({"input": "q", "text": {"format": {"type": "yaml"}}}, "text.format.type")
    rejects({"input": "q", "text": "json"}, "text", "invalid_type")


# -- scalars -----------------------------------------------------------------------------------
def test_max_output_tokens() -> None:
    assert parse({"input": "q", "max_output_tokens": 64}).claude.max_tokens == 64
    for bad in (0, -1, 1.5, "10", True):
        rejects({"input": "q", "max_output_tokens": bad}, "max_output_tokens")


def test_sampling_follows_chat() -> None:
    assert parse({"input": "q", "temperature": 0.2}).claude.sampling == {"temperature": 0.2}
    assert parse({"input": "q", "temperature": 1, "top_p": 1}).claude.sampling == {}
    assert parse({"input": "q", "temperature": 0.5, "top_p": 0.5}).claude.sampling == {
        "temperature": 0.5}
    rejects({"input": "q", "temperature": 3}, "temperature")
    rejects({"input": "q", "top_p": "high"}, "top_p", "invalid_type")


@pytest.mark.parametrize(("effort", "expected", "off"), [
    ("none", None, True), ("minimal", "low", False), ("low", "low", False),
    ("medium", "medium", False), ("high", "high", False), ("xhigh", "xhigh", False),
    ("max", "max", False), ("ultra", None, False), (7, None, False),
])
def test_reasoning_effort(effort: Any, expected: str | None, off: bool) -> None:
    got = parse({"input": "q", "reasoning": {"effort": effort}}).claude
    assert (got.effort, got.thinking_off) == (expected, off)


def test_reasoning_summary_and_include() -> None:
    for reasoning in ({"summary": "auto"}, {"summary": "concise"}, {"summary": "detailed"},
                      {"generate_summary": "auto"}):
        assert parse({"input": "q", "reasoning": reasoning}).show_summary
    assert not parse({"input": "q", "reasoning": {"effort": "high"}}).show_summary
    assert not parse({"input": "q", "reasoning": {"summary": None}}).show_summary
    assert parse({"input": "q", "include": ["reasoning.encrypted_content"]}).include_thinking
    assert not parse({"input": "q", "include": ["message.output_text.logprobs"]}
                     ).include_thinking
    rejects({"input": "q", "include": "reasoning.encrypted_content"}, "include", "invalid_type")
    rejects({"input": "q", "reasoning": "high"}, "reasoning", "invalid_type")


def test_store_stream_and_instructions_types() -> None:
    assert parse({"input": "q", "store": False}).store is False
    assert parse({"input": "q", "store": None}).store is True
    rejects({"input": "q", "store": "no"}, "store", "invalid_type")
    rejects({"input": "q", "stream": "yes"}, "stream", "invalid_type")
    assert parse({"input": "q", "stream": True}).claude.prompt == [text("q")]
    rejects({"input": "q", "instructions": ["x"]}, "instructions", "invalid_type")
    assert parse({"input": "q", "instructions": "  "}).claude.system is None


def test_unknown_model_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_responses({"model": "gpt-4o", "input": "q"}, CONFIG)
    assert info.value.param == "model"


# -- policy ------------------------------------------------------------------------------------
def test_policy_covers_every_documented_request_field() -> None:
    documented = {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
        "previous_response_id", "conversation", "store", "include", "reasoning", "text",
        "max_output_tokens", "stream", "stream_options", "temperature", "top_p",
        "top_logprobs", "truncation", "metadata", "user", "safety_identifier",
        "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "service_tier",
        "background", "max_tool_calls", "prompt", "context_management", "moderation",
        "client_metadata"}
    assert documented <= set(BY_NAME)
    assert len(BY_NAME) == len(FIELDS)
    assert all(f.note and f.support in ("supported", "ignored", "rejected") for f in FIELDS)
    table = compatibility_table()
    assert all(f"| `{name}` |" in table for name in documented)
    assert "web_search" in BY_NAME["tools"].note and "tool_choice" in BY_NAME["tools"].note


@pytest.mark.parametrize(("field", "value"), [
    ("conversation", "conv_1"), ("conversation", {"id": "conv_1"}),
    ("prompt", {"id": "pmpt_1"}), ("background", True), ("top_logprobs", 5),
])
def test_policy_rejects(field: str, value: Any) -> None:
    rejects({"input": "q", field: value}, field, "unsupported_parameter")


@pytest.mark.parametrize(("field", "value"), [("background", False), ("top_logprobs", 0),
                                              ("conversation", None), ("prompt", None)])
def test_policy_neutral_values_pass(field: str, value: Any) -> None:
    assert parse({"input": "q", field: value}).claude.prompt == [text("q")]


def test_ignored_fields_change_nothing() -> None:
    plain = parse({"input": "q"})
    ignored = parse({"input": "q", "truncation": "auto", "metadata": {"a": "b"}, "user": "u",
                     "safety_identifier": "s", "prompt_cache_key": "k", "service_tier": "flex",
                     "max_tool_calls": 3, "stream_options": {"include_obfuscation": False},
                     "context_management": [{"type": "compaction"}], "moderation": "auto",
                     "client_metadata": {"x": 1}, "prompt_cache_retention": "24h",
                     "vendor_extension": 1})
    assert ignored.claude == plain.claude
