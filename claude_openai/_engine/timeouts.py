"""PURE: a run's time limits, which one the next wait for the CLI ends at, and its 504.

- ``timeout``: the whole run, from its start (the CLI's start included);
- ``first_token_timeout``: from the start until the first output of the reply;
- ``idle_timeout``: once output has started, the longest wait for the CLI's next message.

The idle clock restarts with every wait, so a consumer that reads slowly is never counted
against the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import StreamEvent

from .._config import Config
from .._exceptions import GatewayTimeoutError

MESSAGES = {
    "timeout": "The request took longer than the configured timeout of {seconds:g} s.",
    "first_token_timeout": "The model produced no output within the first_token_timeout of "
                           "{seconds:g} s; the Claude run was ended.",
    "idle_timeout": "The reply stalled: nothing arrived for the idle_timeout of {seconds:g} s; "
                    "the Claude run was ended.",
}


@dataclass(frozen=True)
class Limit:
    at: float  # when it passes, on the event loop's clock
    code: str  # the 504's code, a key of MESSAGES
    seconds: float  # the configured value


def next_limit(config: Config, started: float, now: float, output_seen: bool) -> Limit:
    """The limit a wait that begins at ``now`` must end by (the earliest; ``timeout`` on a tie)."""
    limits = [Limit(started + config.timeout, "timeout", config.timeout)]
    if config.first_token_timeout and not output_seen:
        limits.append(Limit(started + config.first_token_timeout, "first_token_timeout",
                            config.first_token_timeout))
    if config.idle_timeout and output_seen:
        limits.append(Limit(now + config.idle_timeout, "idle_timeout", config.idle_timeout))
    return min(limits, key=lambda limit: limit.at)


def is_output(message: Any) -> bool:
    """A delta of the reply: text, thinking or tool-call arguments."""
    return isinstance(message, StreamEvent) and message.event.get("type") == "content_block_delta"


def timeout_error(limit: Limit) -> GatewayTimeoutError:
    return GatewayTimeoutError(MESSAGES[limit.code].format(seconds=limit.seconds), code=limit.code)
