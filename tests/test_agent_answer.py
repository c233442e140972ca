"""An agent's run read from synthetic SDK messages, without the CLI: its turns as text, its tool
steps in each progress mode, the closing notes, the markup `strip_markup` takes out again, and
the Chat Completion, chunks and Response it makes, validated with the `openai` package's types."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ToolUseBlock,
    UserMessage,
)
from claude_agent_sdk.types import ToolResultBlock
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from claude_openai import UpstreamError
from claude_openai._agent.answer import STEPS_BLOCK, AgentAnswer, TimeLimit
from claude_openai._agent.steps import Step, step_line, strip_markup
from claude_openai._chat.completion import CompletionBuilder
from claude_openai._engine.answer import Finished, TextDelta, ThinkingDelta
from claude_openai._responses.events import ResponsesBuilder

ROOT = "/srv/work/proj"
MODEL = "agent:proj"
LIMITS = {"turns": 3, "budget": 0.5, "seconds": 60.0}
DENIAL = ("<tool_use_error>Permission denied by hook: Read of /etc/passwd refused: it is "
          "outside the workspace</tool_use_error>")
OWN_TEXT = "Let me look.\n\nThe word is plum."
EVENT = TypeAdapter(ResponseStreamEvent)
Call = tuple[str, str, dict[str, Any]]


# -- synthetic SDK messages --------------------------------------------------------------------
def event(payload: dict[str, Any]) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=payload)


def turn(text: str = "", calls: tuple[Call, ...] = (), *, stop: str = "end_turn",
         thinking: str = "", input_tokens: int = 10, output_tokens: int = 3) -> list[Any]:
    """One model call as the CLI streams it: thinking, text, tool calls; then its message."""
    out: list[Any] = [event({"type": "message_start", "message": {
        "model": "claude-sonnet-4-5",
        "usage": {"input_tokens": input_tokens, "cache_read_input_tokens": 2,
                  "cache_creation_input_tokens": 1}}})]
    index = 0

    def block(start: dict[str, Any], delta: dict[str, Any]) -> None:
        nonlocal index
        out.extend([event({"type": "content_block_start", "index": index,
                           "content_block": start}),
                    event({"type": "content_block_delta", "index": index, "delta": delta}),
                    event({"type": "content_block_stop", "index": index})])
        index += 1

    if thinking:
        block({"type": "thinking", "thinking": ""}, {"type": "thinking_delta",
                                                      "thinking": thinking})
    if text:
        block({"type": "text", "text": ""}, {"type": "text_delta", "text": text})
    for call_id, name, arguments in calls:
        block({"type": "tool_use", "id": call_id, "name": name, "input": {}},
              {"type": "input_json_delta", "partial_json": json.dumps(arguments)})
    out += [event({"type": "message_delta", "delta": {"stop_reason": stop},
                   "usage": {"output_tokens": output_tokens}}),
            event({"type": "message_stop"})]
    blocks: list[Any] = [TextBlock(text)] if text else []
    blocks += [ToolUseBlock(call_id, name, arguments) for call_id, name, arguments in calls]
    out.append(AssistantMessage(content=blocks, model="claude-sonnet-4-5"))
    return out


def results(*outcomes: tuple[str, Any, bool]) -> UserMessage:
    return UserMessage(content=[ToolResultBlock(call_id, content, is_error)
                                for call_id, content, is_error in outcomes])


def result(subtype: str = "success", **fields: Any) -> ResultMessage:
    values: dict[str, Any] = {"subtype": subtype, "duration_ms": 1, "duration_api_ms": 1,
                              "is_error": subtype != "success", "num_turns": 2,
                              "session_id": "s", "total_cost_usd": 0.0125}
    return ResultMessage(**{**values, **fields})


def run(end: Any = None, *, last_stop: str = "end_turn") -> list[Any]:
    """Text, a Read, text: the agent's whole run (``end``: its last message)."""
    return [*turn("Let me look.", (("t1", "Read", {"file_path": f"{ROOT}/notes.txt"}),),
                  stop="tool_use"),
            results(("t1", "the word is plum", False)),
            *turn("The word is plum.", stop=last_stop),
            result() if end is None else end]


def busy_run(end: Any = None) -> list[Any]:
    """Parallel calls, an edit, a denial, a failure; three model calls."""
    edit = {"file_path": f"{ROOT}/src/app.py", "old_string": "<a>", "new_string": '"b" & c'}
    return [*turn("Let me look.", (("t1", "Read", {"file_path": f"{ROOT}/notes.txt"}),
                                   ("t2", "Edit", edit)), stop="tool_use"),
            results(("t1", "the word is plum", False), ("t2", [{"type": "text",
                                                               "text": "Updated."}], False)),
            *turn("", (("t3", "Read", {"file_path": "/etc/passwd"}),
                       ("t4", "Bash", {"command": "ls\nmissing"})), stop="tool_use"),
            results(("t3", DENIAL, True), ("t4", "Error: exit code 2\nls: missing", True)),
            *turn("The word is plum.", stop="end_turn"),
            result() if end is None else end]


def ticking() -> Callable[[], float]:
    times: Iterator[float] = iter(float(t) for t in range(0, 1000, 2))
    return lambda: next(times)


def agent(progress: str, **kw: Any) -> AgentAnswer:
    return AgentAnswer(model=MODEL, root=ROOT, progress=progress, limits=dict(LIMITS),
                       clock=kw.pop("clock", ticking()), **kw)


def chat(progress: str, messages: list[Any], **kw: Any
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The completion and its chunks (each validated), from an AgentAnswer in a builder."""
    builder = CompletionBuilder(model=MODEL, include_usage=True)
    builder.answer = agent(progress, **kw)
    chunks = [c for m in messages for c in builder.feed(m)]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    completion = builder.completion()
    ChatCompletion.model_validate(completion)
    return completion, chunks


def message_of(completion: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = completion["choices"][0]["message"]
    return message


def streamed(chunks: list[dict[str, Any]], key: str) -> str:
    return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks if c["choices"])


# -- turns and steps, mode by mode -------------------------------------------------------------
@pytest.mark.parametrize("progress", ["reasoning", "content", "openwebui", "off"])
def test_every_mode_keeps_the_agents_text_and_never_makes_tool_calls(progress: str) -> None:
    completion, chunks = chat(progress, run())
    message = message_of(completion)
    assert "tool_calls" not in message and "function_call" not in message
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["model"] == MODEL and {c["model"] for c in chunks} == {MODEL}
    assert streamed(chunks, "content") == message["content"]
    assert streamed(chunks, "reasoning_content") == message.get("reasoning_content", "")
    assert strip_markup(message["content"]) == strip_markup(OWN_TEXT) == (
        "Let me look.\nThe word is plum.")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "stop"


def test_reasoning_mode_writes_steps_to_reasoning_as_they_happen() -> None:
    answer = agent("reasoning", clock=iter([10.0, 11.5]).__next__)
    messages = run()
    seen = [answer.feed(m) for m in messages]
    call = next(i for i, m in enumerate(messages) if isinstance(m, AssistantMessage))
    # the tool call's own stream events make nothing: only the text came before its message
    assert [e for events in seen[:call] for e in events] == [TextDelta("Let me look.")]
    assert seen[call] == [ThinkingDelta("▸ Read notes.txt", STEPS_BLOCK)]
    assert seen[call + 1] == [ThinkingDelta(" → ok (1.5 s)\n", STEPS_BLOCK)]
    assert TextDelta("The word is plum.", gap="\n\n") in [e for events in seen for e in events]
    assert seen[-1] == [Finished()]
    assert "".join(answer.text) == OWN_TEXT
    assert answer.reasoning == ["▸ Read notes.txt → ok (1.5 s)\n"]


def test_reasoning_mode_in_the_completion() -> None:
    completion, _ = chat("reasoning", run())
    message = message_of(completion)
    assert message["content"] == OWN_TEXT
    assert re.fullmatch(r"▸ Read notes\.txt → ok \(2\.0 s\)\n", message["reasoning_content"])


def test_reasoning_mode_keeps_parallel_steps_on_lines_of_their_own() -> None:
    completion, chunks = chat("reasoning", busy_run())
    reasoning = message_of(completion)["reasoning_content"]
    assert streamed(chunks, "reasoning_content") == reasoning
    assert reasoning.splitlines() == [
        "▸ Read notes.txt",
        "▸ Edit src/app.py",
        "▸ Read notes.txt → ok (4.0 s)",
        "▸ Edit src/app.py → ok (4.0 s)",
        "▸ Read /etc/passwd",
        "▸ Bash ls missing",
        "▸ Read /etc/passwd → denied: Permission denied by hook: Read of /etc/passwd refused: "
        "it is outside the workspace",
        "▸ Bash ls missing → failed: exit code 2 ls: missing (4.0 s)",
    ]
    assert reasoning.endswith("\n")


def test_reasoning_mode_sets_steps_apart_from_the_models_thinking() -> None:
    messages = [*turn("Let me look.", (("t1", "Read", {"file_path": "notes.txt"}),),
                      thinking="Plan first.", stop="tool_use"),
                results(("t1", "plum", False)),
                *turn("The word is plum.", thinking="Got it."),
                result()]
    completion, chunks = chat("reasoning", messages)
    message = message_of(completion)
    assert message["reasoning_content"] == (
        "Plan first.\n\n▸ Read notes.txt → ok (2.0 s)\n\n\nGot it.")
    assert streamed(chunks, "reasoning_content") == message["reasoning_content"]
    assert message["content"] == OWN_TEXT


def test_content_mode_quotes_each_step_in_the_answer() -> None:
    completion, chunks = chat("content", busy_run())
    content = message_of(completion)["content"]
    assert "reasoning_content" not in message_of(completion)
    assert content.startswith(
        "Let me look.\n\n"
        "> ▸ Read notes.txt → ok (4.0 s)\n\n"
        "> ▸ Edit src/app.py → ok (4.0 s)\n\n"
        "> ✗ Read /etc/passwd → denied: Permission denied by hook: Read of /etc/passwd "
        "refused: it is outside the workspace\n\n"
        "> ▸ Bash ls missing → failed: exit code 2 ls: missing (4.0 s)\n\n"
        "The word is plum.\n\n")
    assert strip_markup(content) == "Let me look.\nThe word is plum."
    assert streamed(chunks, "content") == content


def test_openwebui_mode_writes_cards_with_escaped_arguments() -> None:
    completion, _ = chat("openwebui", busy_run())
    content = message_of(completion)["content"]
    cards = re.findall(r'<details type="tool_calls" done="true" id="([^"]*)" name="([^"]*)" '
                       r'arguments="([^"]*)" result="([^"]*)">\n<summary>Tool Executed'
                       r'</summary>\n</details>\n', content)
    assert [(i, n) for i, n, _, _ in cards] == [("t1", "Read"), ("t2", "Edit"), ("t3", "Read"),
                                                ("t4", "Bash")]
    arguments = json.loads(html.unescape(cards[1][2]))
    assert arguments == {"file_path": f"{ROOT}/src/app.py", "old_string": "<a>",
                         "new_string": '"b" & c'}
    assert "<a>" not in cards[1][2] and '"' not in cards[1][2]
    assert html.unescape(cards[0][3]) == "ok (4.0 s): the word is plum"
    assert html.unescape(cards[2][3]).startswith("denied: Permission denied by hook")
    assert json.loads(html.unescape(cards[3][2])) == {"command": "ls\nmissing"}
    assert content.startswith("Let me look.\n\n<details")
    assert "</details>\nThe word is plum." in content
    assert strip_markup(content) == "Let me look.\nThe word is plum."
    assert "reasoning_content" not in message_of(completion)


def test_off_mode_shows_no_step_anywhere() -> None:
    completion, chunks = chat("off", busy_run())
    message = message_of(completion)
    assert "reasoning_content" not in message
    assert "▸" not in message["content"] and "<details" not in message["content"]
    assert message["content"].startswith("Let me look.\n\nThe word is plum.\n\n> ✗ ")
    assert all("reasoning_content" not in c["choices"][0]["delta"]
               for c in chunks if c["choices"])


# -- closing notes -----------------------------------------------------------------------------
@pytest.mark.parametrize("progress", ["reasoning", "content", "openwebui", "off"])
def test_notes_say_what_was_denied_and_which_files_changed(progress: str) -> None:
    completion, _ = chat(progress, busy_run())
    content = message_of(completion)["content"]
    assert content.endswith(
        "The word is plum.\n\n"
        "> ✗ Not allowed in this workspace: Read /etc/passwd (Permission denied by hook: "
        "Read of /etc/passwd refused: it is outside the workspace). The server's operator "
        "sets what agents may do.\n\n"
        "> ✎ Files changed: src/app.py\n\n")
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert strip_markup(content) == "Let me look.\nThe word is plum."


def test_only_successful_edits_count_as_changed_files_once_each() -> None:
    messages = [*turn("", (("e1", "Write", {"file_path": "new.txt", "content": "x"}),
                           ("e2", "Edit", {"file_path": f"{ROOT}/a.py"}),
                           ("e3", "Edit", {"file_path": f"{ROOT}/b.py"}),
                           ("e4", "Edit", {"file_path": f"{ROOT}/a.py"})), stop="tool_use"),
                results(("e1", "ok", False), ("e2", "ok", False),
                        ("e3", "String to replace not found", True), ("e4", "ok", False)),
                *turn("Done."), result()]
    answer = agent("off")
    for m in messages:
        answer.feed(m)
    assert answer.notes.files == ["new.txt", "a.py"]
    assert answer.notes.denied == []
    assert "".join(answer.text) == "Done.\n\n> ✎ Files changed: new.txt, a.py\n\n"


@pytest.mark.parametrize(("end", "sentence"), [
    (result("error_max_turns", stop_reason="tool_use"),
     "> ⏹ Stopped after 3 model turns, the limit for one request; say \"continue\" to go on "
     "from here.\n\n"),
    (result("error_max_budget_usd"),
     "> ⏹ Stopped at the spending limit for one request ($0.5); say \"continue\" to go on "
     "from here.\n\n"),
    (TimeLimit(),
     "> ⏹ Stopped after 60 seconds, the time limit for one request; say \"continue\" to go "
     "on from here.\n\n"),
])
@pytest.mark.parametrize("progress", ["reasoning", "content"])
def test_a_limit_ends_with_length_and_a_sentence_saying_so(end: Any, sentence: str,
                                                           progress: str) -> None:
    messages = run(end, last_stop="tool_use")  # stopped where it would have gone on
    completion, chunks = chat(progress, messages)
    content = message_of(completion)["content"]
    assert content.endswith("The word is plum.\n\n" + sentence)
    assert completion["choices"][0]["finish_reason"] == "length"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "length" and finishes.count("length") == 1
    assert strip_markup(content) == "Let me look.\nThe word is plum."
    assert chunks[-1]["usage"]["completion_tokens"] == 6


def test_a_real_failure_still_raises() -> None:
    answer = agent("reasoning")
    for m in run()[:-1]:
        answer.feed(m)
    with pytest.raises(UpstreamError, match="boom"):
        answer.feed(result("error_during_execution", result="boom"))


# -- usage, model, cost ------------------------------------------------------------------------
def test_usage_is_summed_over_the_model_calls_and_the_model_is_the_agent() -> None:
    completion, chunks = chat("reasoning", busy_run(result(total_cost_usd=0.042)))
    # three model calls: 10 input + 2 cache reads + 1 cache write each, 3 output tokens each
    assert completion["usage"] == {
        "prompt_tokens": 39, "completion_tokens": 9, "total_tokens": 48,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 0}}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == completion["usage"]
    assert completion["model"] == MODEL
    answer = agent("off")
    for m in busy_run(result(total_cost_usd=0.042)):
        answer.feed(m)
    assert answer.cost == 0.042 and answer.model == MODEL


# -- the Responses API -------------------------------------------------------------------------
def responses(progress: str, messages: list[Any]) -> tuple[dict[str, Any], list[str]]:
    builder = ResponsesBuilder(model=MODEL, echo={"tools": [], "tool_choice": "auto",
                                                  "parallel_tool_calls": True})
    builder.answer = agent(progress)
    chunks = [c for m in messages for c in builder.feed(m)]
    for i, chunk in enumerate(chunks):
        EVENT.validate_python(chunk)
        assert chunk["sequence_number"] == i
    final = builder.final()
    Response.model_validate(final)
    assert chunks[-1]["response"]["output"] == final["output"]
    return final, [c["type"] for c in chunks]


def test_a_response_holds_each_turn_as_a_message_and_the_steps_as_reasoning() -> None:
    final, types = responses("reasoning", busy_run())
    response = Response.model_validate(final)
    assert response.status == "completed" and response.model == MODEL
    assert [item.type for item in response.output] == ["message", "reasoning", "message"]
    texts = [item["content"][0]["text"] for item in final["output"] if item["type"] == "message"]
    assert texts[0] == "Let me look."
    assert texts[1].startswith("The word is plum.\n\n> ✗ Not allowed in this workspace: ")
    steps = final["output"][1]["summary"][0]["text"]
    assert steps.startswith("▸ Read notes.txt\n▸ Edit src/app.py\n")
    assert "function_call" not in json.dumps(final)
    assert types[-1] == "response.completed"
    assert response.usage is not None and response.usage.input_tokens == 39
    assert response.usage.output_tokens == 9
    assert strip_markup("\n\n".join(texts)) == "Let me look.\nThe word is plum."


def test_a_response_stopped_at_a_limit_is_incomplete() -> None:
    final, types = responses("content", run(TimeLimit()))
    assert final["status"] == "incomplete" and types[-1] == "response.incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    text = "".join(item["content"][0]["text"] for item in final["output"])
    assert "> ▸ Read notes.txt → ok" in text
    assert text.endswith("the time limit for one request; say \"continue\" to go on from "
                         "here.\n\n")


# -- strip_markup ------------------------------------------------------------------------------
def test_strip_markup_removes_folded_in_reasoning() -> None:
    text = ("<think>\nPlan.\n</think>\nLet me look.\n\n"
            '<details type="reasoning" done="true" duration="3">\n<summary>Thought for 3 '
            "seconds</summary>\n> hmm\n</details>\nThe word is plum.")
    assert strip_markup(text) == "Let me look.\nThe word is plum."


def test_strip_markup_evens_out_whitespace_and_keeps_the_users_own_quotes() -> None:
    assert strip_markup("  a  \n\n\n\tb \n\n") == strip_markup("a\nb") == "a\nb"
    assert strip_markup("> a quote\n> ▸not ours") == "> a quote\n> ▸not ours"
    assert strip_markup("a\n> ✎ Files changed: x\nb") == "a\nb"


@pytest.mark.parametrize("mode", ["content", "openwebui"])
def test_a_step_line_with_awkward_input_is_removed_whole(mode: str) -> None:
    step = Step("t<1>", "Bash", {"command": "echo '</details>'\n> ▸ x\ncat <<EOF\nEOF"}, 0.0,
                ended=1.0, ok=False, result="line one\n</details>\n\n> ✗ two")
    line = step_line(step, ROOT, mode)
    assert line.count("\n") == (2 if mode == "content" else 3)
    assert strip_markup("Before.\n\n" + line + "After.") == "Before.\nAfter."


def test_a_denial_reason_loses_the_clis_wrapping() -> None:
    from claude_openai._agent.steps import _reason

    hook = "PreToolUse:Read hook error: Read of /etc/passwd refused: it is outside the workspace"
    assert _reason(hook) == "it is outside the workspace"
    assert _reason("<tool_use_error>Error: No such tool available: Bash. Bash is disabled"
                   "</tool_use_error>") == "No such tool available: Bash. Bash is disabled"
    assert _reason("Permission to use Read has been denied because Claude Code is running in "
                   "don't ask mode. IMPORTANT: You *may* attempt") == (
        "Permission to use Read has been denied because Claude Code is running in don't ask "
        "mode.")
