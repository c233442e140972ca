"""Pure translation, request side: OpenAI body -> ClaudeRequest, and every 400's ``param``."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from images import png_data_url

from claude_openai import Config, InvalidRequestError, ModelNotFoundError
from claude_openai._chat.policy import FIELDS
from claude_openai._chat.request import parse_request
from claude_openai._engine.models import resolve_model
from claude_openai._engine.options import agent_options, cli_env, working_directory
from claude_openai._engine.thinking import plan
from claude_openai._engine.transcript import transcript_entries


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "sonnet", "messages": list(messages) or [user("hi")], **fields}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def rejects(request: Any, param: str | None) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse_request(request)
    assert info.value.param == param
    assert info.value.status_code == 400
    return info.value


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    chat = parse_request(body(
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        user("hi"),
    ))
    assert chat.system == "Be terse.\n\nUse French."
    assert chat.prompt == [{"type": "text", "text": "hi"}]
    assert chat.history == []


def test_history_becomes_alternating_turns_and_repeated_roles_merge() -> None:
    chat = parse_request(body(
        user("a"), user("b"), {"role": "assistant", "content": "c"}, user("d"),
    ))
    assert [(t.role, t.blocks) for t in chat.history] == [
        ("user", [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
        ("assistant", [{"type": "text", "text": "c"}]),
    ]
    assert chat.prompt == [{"type": "text", "text": "d"}]


def test_image_parts_become_image_blocks() -> None:
    url = png_data_url()
    chat = parse_request(body(user([
        {"type": "input_text", "text": "look"},
        {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ])))
    assert chat.prompt == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": url.split(",", 1)[1]}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    ]


@pytest.mark.parametrize(("request_body", "param"), [
    ([], None),
    ({"model": "sonnet"}, "messages"),
    (body(messages=[]), "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "c"}]},
     "messages[0].tool_call_id"),
    ({"messages": [user(5)]}, "messages[0].content"),
    ({"messages": [user("")]}, "messages[0].content"),
    ({"messages": [user([{"type": "input_audio"}])]}, "messages[0].content[0].type"),
    ({"messages": [user([{"type": "text", "text": 3}])]}, "messages[0].content[0].text"),
    ({"messages": [user([{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}])]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [user([image("data:text/plain;base64,aGk=")])]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [user([image("data:image/png;base64,@@")])]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url"}]}, user("x")]},
     "messages[0].content[0].type"),
    ({"messages": [user("x"), {"role": "assistant", "content": "y"}]}, "messages"),
    ({"messages": [user("x")], "model": "--dangerously-skip-permissions"}, "model"),
    ({"messages": [user("x")], "model": 7}, "model"),
    ({"messages": [user("x")], "max_tokens": 0}, "max_tokens"),
    ({"messages": [user("x")], "max_completion_tokens": "9"}, "max_completion_tokens"),
    ({"messages": [user("x")], "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"messages": [user("x")], "stop": 5}, "stop"),
    ({"messages": [user("x")], "temperature": 3}, "temperature"),
    ({"messages": [user("x")], "top_p": "high"}, "top_p"),
    ({"messages": [user("x")], "stream": "yes"}, "stream"),
    ({"messages": [user("x")], "stream_options": {"include_usage": 1}},
     "stream_options.include_usage"),
    ({"messages": [user("x")], "reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"messages": [user("x")], "n": 2}, "n"),
    ({"messages": [user("x")], "logprobs": True}, "logprobs"),
    ({"messages": [user("x")], "tools": [{"type": "function"}]}, "tools[0].function"),
    ({"messages": [user("x")], "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"messages": [user("x")], "response_format": {"type": "xml"}}, "response_format.type"),
    ({"messages": [user("x")], "response_format": {"type": "json_schema"}},
     "response_format.json_schema.schema"),
])
def test_bad_requests_name_the_param(request_body: Any, param: str | None) -> None:
    error = rejects(request_body, param)
    assert error.to_dict()["error"]["type"] == "invalid_request_error"


def test_neutral_values_of_rejected_fields_are_accepted() -> None:
    chat = parse_request(body(n=1, logprobs=False, modalities=["text"], top_logprobs=0))
    assert chat.prompt == [{"type": "text", "text": "hi"}]


def test_ignored_and_unknown_fields_are_accepted() -> None:
    ignored = {f.name: 1 for f in FIELDS if f.support == "ignored"}
    assert parse_request(body(**ignored, x_vendor_extension={"a": 1})).model == "sonnet"


def test_parameters_are_carried() -> None:
    chat = parse_request(body(max_completion_tokens=50, max_tokens=99, stop="END",
                              temperature=0.2, reasoning_effort="minimal",
                              stream_options={"include_usage": True}))
    assert (chat.max_tokens, chat.stop, chat.sampling, chat.effort, chat.include_usage) == (
        50, ["END"], {"temperature": 0.2}, "low", True)


@pytest.mark.parametrize(("name", "resolved"), [
    ("sonnet", "sonnet"), ("Opus", "opus"), ("haiku", "haiku"), ("sonnet[1m]", "sonnet[1m]"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    ("claude-opus-4-1", "claude-opus-4-1"),
    ("claude-3-5-sonnet-latest", "sonnet"), ("claude-3-5-sonnet-20241022", "sonnet"),
    ("claude-3-opus-20240229", "opus"), ("claude-3-5-haiku-latest", "haiku"),
    ("claude-sonnet-latest", "sonnet"), ("claude-opus", "opus"),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
])
def test_model_names_resolve(name: str, resolved: str) -> None:
    assert resolve_model(name) == resolved


@pytest.mark.parametrize("name", ["gpt-4o", "llama3", "anthropic/gpt-4"])
def test_unknown_models_are_404(name: str) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(name)
    assert (info.value.status_code, info.value.param, info.value.code) == (
        404, "model", "model_not_found")


def test_options_isolate_the_cli_from_the_host() -> None:
    config = Config(model="haiku", max_retries=1)
    chat = plan(parse_request(body({"role": "system", "content": "S"}, user("hi"), max_tokens=7,
                                   stop=["END"], temperature=0.5)), config)
    options = agent_options(chat, config, "/tmp/w")
    assert options.tools == [] and options.setting_sources == [] and options.skills == []
    assert options.strict_mcp_config and options.verbatim_prompts
    assert options.include_partial_messages and options.env["CLAUDE_CODE_TMPDIR"] == "/tmp/w"
    # every process runs in one fixed, empty directory: Claude Code shows it to the model
    assert options.cwd == working_directory() == agent_options(chat, config, "/tmp/x").cwd
    assert os.path.isdir(working_directory()) and not os.listdir(working_directory())
    assert options.model == "sonnet" and options.system_prompt == "S"
    assert "no-session-persistence" in options.extra_args
    env = options.env
    assert env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "7"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["CLAUDE_CODE_DISABLE_THINKING"] == "1"
    assert json.loads(env["CLAUDE_CODE_EXTRA_BODY"]) == {"temperature": 0.5,
                                                         "stop_sequences": ["END"]}


def test_no_extra_body_without_parameters() -> None:
    env = cli_env(parse_request(body()), Config(), "/tmp/w")
    assert "CLAUDE_CODE_EXTRA_BODY" not in env and "CLAUDE_CODE_DISABLE_THINKING" not in env
    assert "CLAUDE_CODE_MAX_OUTPUT_TOKENS" not in env


def test_transcript_entries_chain_the_turns() -> None:
    chat = parse_request(body(user("a"), {"role": "assistant", "content": "b"}, user("c")))
    entries = transcript_entries(chat.history, session_id="s", cwd="/w", model="sonnet")
    assert [e["type"] for e in entries] == ["user", "attachment", "assistant"]
    assert entries[0]["parentUuid"] is None
    assert [e["parentUuid"] for e in entries[1:]] == [e["uuid"] for e in entries[:-1]]
    assert entries[1]["attachment"] == {"type": "date", "date": time.strftime("%Y-%m-%d")}
    assert entries[2]["message"]["content"] == [{"type": "text", "text": "b"}]
    assert {e["sessionId"] for e in entries} == {"s"}


ENVIRONMENT = {"type": "environment", "snapshot": {"workingDirectory": "/w"}}
MODEL = {"type": "model", "identity": {"modelId": "m"}, "text": "You are m."}


def test_transcript_entries_carry_the_session_context_and_answered_tool_results() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    chat = parse_request(body(user("a"), {"role": "assistant", "tool_calls": [call]},
                              {"role": "tool", "tool_call_id": "c1", "content": "r"},
                              {"role": "assistant", "content": "b"}, user("c")))
    entries = transcript_entries(chat.history, session_id="s", cwd="/w", model="sonnet",
                                 context=[ENVIRONMENT, MODEL])
    assert [e.get("attachment", {}).get("type") for e in entries[1:4]] == [
        "environment", "model", "date"]
    assert [e["parentUuid"] for e in entries[1:]] == [e["uuid"] for e in entries[:-1]]
    results = entries[5]["message"]["content"]  # as Claude Code sent them when it answered
    assert [b["type"] for b in results] == ["tool_result", "text"]
    assert results[1] == {"type": "text", "text": "Continue from where you left off."}
