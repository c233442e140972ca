"""Pure: which time limit a wait for the CLI ends at, what counts as output, and the 504s."""

from __future__ import annotations

import pytest
from claude_agent_sdk import AssistantMessage, StreamEvent, SystemMessage, TextBlock

from claude_openai import Config, GatewayTimeoutError
from claude_openai._engine.timeouts import is_output, next_limit, timeout_error

CONFIG = Config(timeout=600, first_token_timeout=300, idle_timeout=120)


def event(kind: str, **fields: object) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event={"type": kind, **fields})


def test_before_any_output_the_first_token_limit_counts_from_the_start() -> None:
    limit = next_limit(CONFIG, started=1000, now=1250, output_seen=False)
    assert (limit.at, limit.code, limit.seconds) == (1300, "first_token_timeout", 300)


def test_after_output_each_wait_gets_the_idle_limit() -> None:
    limit = next_limit(CONFIG, started=1000, now=1250, output_seen=True)
    assert (limit.at, limit.code) == (1370, "idle_timeout")


def test_the_total_timeout_wins_when_it_comes_first() -> None:
    assert next_limit(CONFIG, started=1000, now=1550, output_seen=True).code == "timeout"
    short = Config(timeout=100, first_token_timeout=300)
    limit = next_limit(short, started=1000, now=1000, output_seen=False)
    assert (limit.at, limit.code) == (1100, "timeout")
    tie = Config(timeout=300, first_token_timeout=300)
    assert next_limit(tie, started=0, now=0, output_seen=False).code == "timeout"


@pytest.mark.parametrize("output_seen", [False, True])
def test_zero_turns_a_limit_off(output_seen: bool) -> None:
    off = Config(timeout=600, first_token_timeout=0, idle_timeout=0)
    limit = next_limit(off, started=1000, now=1200, output_seen=output_seen)
    assert (limit.at, limit.code) == (1600, "timeout")


@pytest.mark.parametrize(("message", "output"), [
    (event("content_block_delta", index=0, delta={"type": "text_delta", "text": "a"}), True),
    (event("content_block_delta", index=0,
           delta={"type": "thinking_delta", "thinking": "hm"}), True),
    (event("content_block_delta", index=1,
           delta={"type": "input_json_delta", "partial_json": "{"}), True),
    (event("message_start", message={}), False),
    (event("content_block_start", index=0, content_block={"type": "text"}), False),
    (event("ping"), False),
    (SystemMessage(subtype="api_retry", data={}), False),
    (AssistantMessage(content=[TextBlock("a")], model="m"), False),
])
def test_output_is_any_delta_of_the_reply(message: object, output: bool) -> None:
    assert is_output(message) is output


@pytest.mark.parametrize(("config", "output_seen", "code"), [
    (Config(timeout=1, first_token_timeout=0), False, "timeout"),
    (Config(timeout=1, first_token_timeout=0.5), False, "first_token_timeout"),
    (Config(timeout=1, idle_timeout=0.25), True, "idle_timeout"),
])
def test_each_limit_is_a_504_with_its_own_code(config: Config, output_seen: bool,
                                               code: str) -> None:
    limit = next_limit(config, started=0, now=0, output_seen=output_seen)
    error = timeout_error(limit)
    assert isinstance(error, GatewayTimeoutError) and error.status_code == 504
    assert error.code == code
    assert f"{limit.seconds:g} s" in error.message
