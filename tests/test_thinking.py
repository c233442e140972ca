"""Pure thinking code: blocks recorded from the stream, shown as reasoning, kept and restored."""

from __future__ import annotations

import time
from typing import Any
from unittest.mock import ANY

import pytest
from claude_agent_sdk import ResultMessage, StreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from claude_openai import InvalidRequestError
from claude_openai._chat.completion import CompletionBuilder
from claude_openai._chat.content import signed_blocks
from claude_openai._chat.request import parse_request
from claude_openai._engine.answer_blocks import BlockRecorder
from claude_openai._engine.thinking import manual_thinking
from claude_openai._engine.thinking_restore import restore_thinking
from claude_openai._engine.thinking_store import (
    StoredAnswer,
    ThinkingStore,
    conversation_key,
    prefix_keys,
)
from claude_openai._engine.turns import Turn

THOUGHT = {"type": "thinking", "thinking": "let me see", "signature": "sig-1"}
REDACTED = {"type": "redacted_thinking", "data": "opaque"}


def events(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events of one answer made of ``blocks``, as the API sends them."""
    out: list[dict[str, Any]] = [{"type": "message_start", "message": {
        "model": "claude-opus-5-5", "usage": {"input_tokens": 3, "output_tokens": 1}}}]
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            out += [{"type": "content_block_start", "index": i, "content_block": {
                        "type": "thinking", "thinking": "", "signature": ""}},
                    *[{"type": "content_block_delta", "index": i,
                       "delta": {"type": "thinking_delta", "thinking": part}}
                      for part in _halves(block["thinking"])],
                    {"type": "content_block_delta", "index": i,
                     "delta": {"type": "signature_delta", "signature": block["signature"]}}]
        elif kind == "redacted_thinking":
            out.append({"type": "content_block_start", "index": i, "content_block": block})
        elif kind == "text":
            out += [{"type": "content_block_start", "index": i,
                     "content_block": {"type": "text", "text": ""}},
                    *[{"type": "content_block_delta", "index": i,
                       "delta": {"type": "text_delta", "text": part}}
                      for part in _halves(block["text"])]]
        else:
            out += [{"type": "content_block_start", "index": i, "content_block": {
                        **block, "input": {}}},
                    {"type": "content_block_delta", "index": i, "delta": {
                        "type": "input_json_delta", "partial_json": '{"city": '}},
                    {"type": "content_block_delta", "index": i, "delta": {
                        "type": "input_json_delta", "partial_json": '"Paris"}'}}]
        out.append({"type": "content_block_stop", "index": i})
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    out += [{"type": "message_delta", "delta": {"stop_reason": stop},
             "usage": {"output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}}},
            {"type": "message_stop"}]
    return out


def _halves(text: str) -> list[str]:
    return [p for p in (text[: len(text) // 2], text[len(text) // 2:]) if p]


def result() -> ResultMessage:
    return ResultMessage(subtype="success", duration_ms=1, duration_api_ms=1, is_error=False,
                         num_turns=1, session_id="s", stop_reason="end_turn")


def answer(builder: CompletionBuilder, *blocks: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = [c for e in events(*blocks) for c in builder.feed(StreamEvent("u", "s", e))]
    return chunks + builder.feed(result())


# -- recording and showing ---------------------------------------------------------------------
def test_the_recorder_rebuilds_the_exact_content_array_redacted_blocks_included() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
    blocks = [THOUGHT, REDACTED, {"type": "text", "text": "Checking."}, call]
    recorder = BlockRecorder()
    for e in events(*blocks):
        recorder.event(e)
    assert recorder.blocks == blocks
    assert recorder.thinking() == [THOUGHT, REDACTED]


def test_reasoning_is_shown_on_the_message_never_in_the_content() -> None:
    builder = CompletionBuilder(model=None)
    answer(builder, THOUGHT, {"type": "thinking", "thinking": "more", "signature": "s2"},
           {"type": "text", "text": "Hello"})
    completion = builder.completion()
    message = ChatCompletion.model_validate(completion).choices[0].message
    assert message.content == "Hello"
    assert message.model_extra == {"reasoning_content": "let me see\n\nmore", "thinking_blocks": [
        THOUGHT, {"type": "thinking", "thinking": "more", "signature": "s2"}]}
    assert completion["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}


def test_reasoning_streams_before_the_content_as_it_arrives() -> None:
    builder = CompletionBuilder(model=None)
    chunks = answer(builder, THOUGHT, {"type": "text", "text": "Hello"})
    deltas = [ChatCompletionChunk.model_validate(c).choices[0].delta for c in chunks]
    extras = [d.model_extra for d in deltas if d.model_extra]
    assert extras == [{"reasoning_content": "let m"}, {"reasoning_content": "e see"},
                      {"thinking_blocks": [THOUGHT]}]  # the signed block once it is whole
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not (d.model_extra or {}).get("reasoning_content")
               for d in deltas[first_content:])
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == "Hello"


def test_reasoning_off_shows_none_but_still_records_the_blocks() -> None:
    builder = CompletionBuilder(model=None, reasoning=False)
    chunks = answer(builder, THOUGHT, {"type": "text", "text": "Hi"})
    assert not any("reasoning_content" in c["choices"][0]["delta"] for c in chunks if c["choices"])
    message = builder.completion()["choices"][0]["message"]
    assert "reasoning_content" not in message and message["thinking_blocks"] == [THOUGHT]
    assert builder.recorder.thinking() == [THOUGHT]


def test_an_answer_without_thinking_has_no_reasoning_field() -> None:
    builder = CompletionBuilder(model=None)
    answer(builder, {"type": "text", "text": "Hi"})
    message = builder.completion()["choices"][0]["message"]
    assert "reasoning_content" not in message and "thinking_blocks" not in message


# -- what clients carry back -------------------------------------------------------------------
def test_signed_blocks_come_from_litellm_openrouter_and_anthropic_parts() -> None:
    assert signed_blocks({"thinking_blocks": [THOUGHT, REDACTED]}) == [THOUGHT, REDACTED]
    assert signed_blocks({"reasoning_details": [
        {"type": "reasoning.text", "text": "let me see", "signature": "sig-1",
         "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": "opaque", "format": "anthropic-claude-v1"},
    ]}) == [THOUGHT, REDACTED]
    assert signed_blocks({"content": [THOUGHT, {"type": "text", "text": "x"}]}) == [THOUGHT]


@pytest.mark.parametrize("message", [
    {"reasoning_content": "plain text is never a thinking block"},
    {"reasoning": "nor this"},
    {"thinking_blocks": [{"type": "thinking", "thinking": "unsigned", "signature": ""}]},
    {"thinking_blocks": "not a list"},
    {"thinking_blocks": [None, 3, {"type": "redacted_thinking"}]},
    {"reasoning_details": [{"type": "reasoning.text", "text": "t", "signature": "s",
                            "format": "openai-responses-v1"}]},
    {"reasoning_details": [{"type": "reasoning.summary", "summary": "s",
                            "format": "anthropic-claude-v1"}]},
])
def test_unsigned_or_malformed_reasoning_is_ignored_never_refused(message: dict[str, Any]) -> None:
    assert signed_blocks(message) == []
    chat = parse_request({"model": "sonnet", "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b", **message},
        {"role": "user", "content": "c"}]})
    assert chat.history[1].blocks == [{"type": "text", "text": "b"}]


# -- the store ---------------------------------------------------------------------------------
CALL = {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Paris"}}
BY = {"model": "claude-opus-5-5", "requested": None}


def test_the_store_finds_an_answer_by_its_tool_call_ids() -> None:
    store = ThinkingStore(1 << 20, 60)
    stored = [THOUGHT, {"type": "text", "text": "Checking."}, CALL]
    assert store.remember(stored, "conv", model="claude-opus-5-5", requested=None)
    echoed = [{"type": "text", "text": "Checking."}, CALL]
    assert store.find(echoed, "any conversation") == StoredAnswer(
        stored, "claude-opus-5-5", None, ANY, ANY)
    edited = [{"type": "text", "text": "Checking!"}, CALL]
    assert store.find(edited, "conv") is None  # an edited message gets no old thinking
    assert store.find([{**CALL, "input": {"city": "Rome"}}], "conv") is None


def test_the_store_finds_a_text_answer_only_in_its_own_conversation() -> None:
    store = ThinkingStore(1 << 20, 60)
    store.remember([THOUGHT, {"type": "text", "text": "Sure."}], "conv-a", **BY)
    found = store.find([{"type": "text", "text": "Sure."}], "conv-a")
    assert found is not None and found.blocks == [THOUGHT, {"type": "text", "text": "Sure."}]
    assert store.find([{"type": "text", "text": "Sure."}], "conv-b") is None


def test_the_store_is_bounded_by_bytes_and_age() -> None:
    store = ThinkingStore(400, 60)
    for i in range(10):
        store.remember([THOUGHT, {**CALL, "id": f"toolu_{i}"}], "c", **BY)
    assert store.bytes <= 400 and 0 < len(store) < 10
    assert store.find([{**CALL, "id": "toolu_9"}], "c") is not None  # newest kept
    assert store.find([{**CALL, "id": "toolu_0"}], "c") is None  # oldest out
    aged = ThinkingStore(1 << 20, 0.01)
    aged.remember([THOUGHT, CALL], "c", **BY)
    time.sleep(0.02)
    assert aged.find([CALL], "c") is None and aged.state() == {"answers": 0, "bytes": 0}


# -- restoring ---------------------------------------------------------------------------------
def chat_turns(*calls: str) -> list[Turn]:
    """user, then per call id an assistant tool call and the user's tool result."""
    turns = [Turn("user", [{"type": "text", "text": "weather?"}])]
    for call_id in calls:
        blocks = [{**CALL, "id": call_id}]
        turns.append(Turn("assistant", blocks, _echo(blocks)))
        turns.append(Turn("user", [{"type": "tool_result", "tool_use_id": call_id,
                                    "content": "sunny"}]))
    return turns


def _echo(blocks: list[dict[str, Any]], signed: list[dict[str, Any]] | None = None) -> Any:
    from claude_openai._engine.turns import Echo
    return (Echo(blocks, signed or []),)


def finder(known: dict[str, list[dict[str, Any]]]) -> Any:
    def find(blocks: list[dict[str, Any]], conversation: str) -> Any:
        ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
        return stored(known.get(ids[0] if ids else blocks[0]["text"]))
    return find


def stored(blocks: list[dict[str, Any]] | None, model: str = "claude-opus-5-5") -> Any:
    return None if blocks is None else StoredAnswer(blocks, model, None)


def restore(turns: list[Turn], find: Any, **models: Any) -> Any:
    return restore_thinking(prefix_keys(None, turns), turns, find, **models)


def thought(n: int) -> dict[str, Any]:
    return {"type": "thinking", "thinking": f"t{n}", "signature": f"s{n}"}


def test_the_tool_turn_in_progress_is_restored_whole() -> None:
    turns = chat_turns("a", "b")
    known = {"a": [thought(1), {**CALL, "id": "a"}], "b": [thought(2), {**CALL, "id": "b"}]}
    restored = restore(turns, finder(known))
    assert [t.blocks for t in restored.turns if t.role == "assistant"] == [known["a"], known["b"]]
    assert not restored.opens_without_thinking and restored.restored == 2


def test_the_turn_in_progress_is_all_or_nothing() -> None:
    turns = chat_turns("a", "b")  # one tool turn in progress: two calls in a row
    restored = restore(turns, finder({"b": [thought(2), {**CALL, "id": "b"}]}))
    assert all(t.blocks == [{**CALL, "id": t.blocks[0]["id"]}]
               for t in restored.turns if t.role == "assistant")
    assert restored.opens_without_thinking


def test_earlier_turns_keep_only_a_newest_run_never_a_hole() -> None:
    # three finished tool turns, each closed by the user's next question; b is unknown
    turns = [Turn("user", [{"type": "text", "text": "q0"}])]
    for n, call_id in enumerate("abc"):
        blocks = [{**CALL, "id": call_id}]
        turns += [Turn("assistant", blocks, _echo(blocks)),
                  Turn("user", [{"type": "tool_result", "tool_use_id": call_id, "content": "ok"},
                                {"type": "text", "text": f"q{n + 1}"}])]
    turns.append(Turn("assistant", [{"type": "text", "text": "done"}],
                      _echo([{"type": "text", "text": "done"}])))
    turns.append(Turn("user", [{"type": "text", "text": "thanks"}]))
    known = {k: [thought(i), {**CALL, "id": k}] for i, k in enumerate("ac")}
    restored = restore(turns, finder(known))
    assistants = [t.blocks for t in restored.turns if t.role == "assistant"]
    assert assistants[0] == [{**CALL, "id": "a"}], "a is older than the unknown b: no hole"
    assert assistants[1] == [{**CALL, "id": "b"}]
    assert assistants[2] == [{**CALL, "id": "c"}], "the text answer after c is unknown too"
    assert restored.dropped == 4 and not restored.opens_without_thinking
    known["done"] = [thought(9), {"type": "text", "text": "done"}]
    find = finder(known)
    restored = restore(turns, find)
    assistants = [t.blocks for t in restored.turns if t.role == "assistant"]
    assert assistants[2:] == [known["c"], known["done"]], "the newest run keeps its thinking"
    assert assistants[:2] == [[{**CALL, "id": "a"}], [{**CALL, "id": "b"}]]


def test_signed_blocks_from_the_client_fill_in_when_the_store_has_none() -> None:
    turns = chat_turns("a")
    blocks = turns[1].blocks
    turns[1] = Turn("assistant", blocks, _echo(blocks, [REDACTED, THOUGHT]))
    restored = restore(turns, finder({}))
    assert restored.turns[1].blocks == [REDACTED, THOUGHT, *blocks]
    assert not restored.opens_without_thinking


def test_answers_of_another_model_are_not_restored() -> None:
    turns = chat_turns("a")
    known = {"a": [thought(1), {**CALL, "id": "a"}]}
    other = restore(turns, lambda b, c: stored(known["a"], "claude-sonnet-4-5"),
                    requested="claude-opus-5-5", running="claude-opus-5-5")
    assert other.opens_without_thinking and other.turns[1].blocks == [{**CALL, "id": "a"}]
    same = restore(turns, finder(known), requested="opus", running="claude-opus-5-5")
    assert same.turns[1].blocks == known["a"] and same.turns[1].model == "claude-opus-5-5"


def test_a_known_answer_without_thinking_still_opens_without_thinking() -> None:
    turns = chat_turns("a")
    restored = restore(turns, finder({"a": [{**CALL, "id": "a"}]}))
    assert restored.opens_without_thinking  # a manual model must answer with thinking off


def test_the_conversation_key_ignores_thinking_and_text_splits() -> None:
    plain = [Turn("user", [{"type": "text", "text": "hi"}]),
             Turn("assistant", [{"type": "text", "text": "Hello there"}])]
    split = [plain[0], Turn("assistant", [THOUGHT, {"type": "text", "text": "Hello"},
                                          {"type": "text", "text": " there"}])]
    assert conversation_key("s", plain) == conversation_key("s", split)
    assert conversation_key("s", plain) != conversation_key("t", plain)
    keys = prefix_keys("s", plain)
    assert keys == [conversation_key("s", plain[:i]) for i in range(3)]
    assert len(set(keys)) == 3


# -- request side ------------------------------------------------------------------------------
def test_whitespace_only_parts_are_dropped_and_a_blank_prompt_is_refused() -> None:
    chat = parse_request({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "  "}, {"type": "text",
                                                                       "text": "hi"}]},
        {"role": "assistant", "content": " \n"},
        {"role": "user", "content": "go"}]})
    # the blank assistant message is dropped, so the two user messages make one turn
    assert (chat.history, chat.prompt) == ([], [{"type": "text", "text": "hi"},
                                                {"type": "text", "text": "go"}])
    with pytest.raises(InvalidRequestError) as info:
        parse_request({"messages": [{"role": "user", "content": " \n "}]})
    assert info.value.param == "messages[0].content"


def test_reasoning_effort_none_turns_thinking_off() -> None:
    chat = parse_request({"messages": [{"role": "user", "content": "x"}],
                          "reasoning_effort": "none"})
    assert chat.thinking_off and chat.effort is None


@pytest.mark.parametrize(("model", "manual"), [
    ("claude-sonnet-4-5", True), ("claude-opus-4-5-20251101", True), ("claude-haiku-4-5", True),
    ("claude-opus-4-1", True), ("claude-sonnet-4-20250514", True),
    ("claude-opus-5-5", False), ("sonnet", False), (None, False), ("claude-sonnet-4-6", False),
])
def test_manual_thinking_models(model: str | None, manual: bool) -> None:
    assert manual_thinking(model) is manual


# -- planning what reaches the API -------------------------------------------------------------
def planned(model: str | None = None, **fields: Any) -> Any:
    from claude_openai import Config
    from claude_openai._engine.thinking import plan
    body = {"messages": [{"role": "user", "content": "x"}], **fields}
    if model:
        body["model"] = model
    return plan(parse_request(body), Config())


@pytest.mark.parametrize(("model", "fields", "sampling", "off"), [
    (None, {"top_p": 0.5}, {"top_p": 0.5}, True),
    (None, {"top_p": 0.97}, {"top_p": 0.97}, False),  # the API takes top_p >= 0.95 with thinking
    ("claude-sonnet-4-5", {"top_p": 0.5}, {}, False),  # Claude Code would add temperature 1
    ("claude-sonnet-4-6", {"top_p": 0.5}, {}, False),
    ("claude-opus-4-7", {"top_p": 0.5}, {"top_p": 0.5}, True),
    ("claude-sonnet-4-5", {"temperature": 0.2, "top_p": 0.5}, {"temperature": 0.2}, True),
    ("claude-sonnet-4-5", {"temperature": 1}, {}, False),
])
def test_sampling_and_thinking_are_chosen_so_the_api_accepts_them(
        model: str | None, fields: dict[str, Any], sampling: dict[str, float], off: bool) -> None:
    chat = planned(model, **fields)
    assert (chat.sampling, chat.thinking_off) == (sampling, off)


@pytest.mark.parametrize(("model", "max_tokens", "budget", "off"), [
    ("claude-sonnet-4-5", 50, None, True),  # no room for the least budget (1024) and an answer
    ("claude-sonnet-4-5", 2047, None, True),
    ("claude-sonnet-4-5", 2048, 1024, False),
    ("claude-opus-4-5", 10000, 5000, False),
    ("claude-sonnet-4-5", 100000, 31999, False),
    ("claude-sonnet-4-5", None, None, False),  # Claude Code's own budget, below its max_tokens
    ("claude-opus-5-5", 50, None, False),  # adaptive thinking has no budget to fit
])
def test_a_manual_thinking_budget_fits_below_max_tokens(
        model: str, max_tokens: int | None, budget: int | None, off: bool) -> None:
    chat = planned(model, **({"max_tokens": max_tokens} if max_tokens else {}))
    assert (chat.thinking_budget, chat.thinking_off) == (budget, off)
