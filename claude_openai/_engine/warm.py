"""A warm process: a connected Claude Code CLI and the settings applied to it."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import ClaudeSDKClient, ResultMessage
from mcp.types import Tool

from .._config import Config
from .options import TOOL_SERVER, prompt_message, request_env, wire_tools
from .request import ClaudeRequest, plain_request
from .session import single

# What a process is spawned with, before any request's settings are applied.
_SPAWNED_ENV = request_env(plain_request(None))
CUSTOM_MODEL = "ANTHROPIC_CUSTOM_MODEL_OPTION"
_SPAWNED_KNOBS = {"env": {**_SPAWNED_ENV, CUSTOM_MODEL: ""}, "effortLevel": None}
BASE_URL = "ANTHROPIC_BASE_URL"
# Throwaway queries a spare runs before it serves: measured, the second query of a new process is
# still slower than later ones; a third gains nothing more.
PRIME_QUERIES = 2


# What a warm process is spawned for: its system prompt, and whether it has the one-call budget
# guard (single use: see `Pool`).
Key = tuple[str | None, bool]


@dataclass(eq=False)
class WarmProcess:
    key: Key
    client: ClaudeSDKClient
    workdir: str
    # The client-tools server's list, changed in place.  Also what the session has announced:
    # the CLI keeps announcing a tool once listed, until a /clear, so a process reset by
    # rewinding serves only requests with these very tools (or any, while it has none).
    tools: list[Tool]
    names: set[str]  # the tool names the defer hook answers for, changed in place
    stderr: deque[str]
    served: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    applied: dict[str, Any] = field(default_factory=dict)
    held: str | None = None  # sticky: the fingerprint of the conversation it holds
    marker: str = ""  # the uuid of the current request's prompt: the reset rewinds to it
    cost: float = 0.0  # the CLI's running total_cost_usd (it adds up across rewinds)

    @property
    def guarded(self) -> bool:
        return self.key[1]

    def fits(self, tools: list[Tool]) -> bool:
        """Whether a request with ``tools`` can run here with exactly those tools offered."""
        return not self.tools or self.tools == tools

    def prompt(self, blocks: list[dict[str, Any]]) -> dict[str, Any]:
        """The request's prompt message, marked so that `reset` can take the request back."""
        self.marker = str(uuid.uuid4())
        return {**prompt_message(blocks), "uuid": self.marker}

    def own_cost(self, message: Any) -> Any:
        """``message`` with a result's running cost turned into this request's own."""
        if not isinstance(message, ResultMessage) or message.total_cost_usd is None:
            return message
        before, self.cost = self.cost, message.total_cost_usd
        return dataclasses.replace(message,
                                   total_cost_usd=max(message.total_cost_usd - before, 0.0))

    async def prepare(self, request: ClaudeRequest, config: Config) -> None:
        """Apply this request's settings; only what differs from the last request is sent."""
        model = request.model or config.model
        # Named as the "custom model option", a model is taken as it is: else switching to a
        # full model id first sends a one-token check request upstream.
        env = {**request_env(request), CUSTOM_MODEL: model or ""}
        knobs = {"env": env, "effortLevel": request.effort}
        if knobs != self.applied.get("knobs", _SPAWNED_KNOBS):
            await self.client._query._send_control_request(  # type: ignore[union-attr]
                {"subtype": "apply_flag_settings", "settings": knobs})
        if model != self.applied.get("model", config.model):
            await self.client.set_model(model)
        if request.thinking_budget != self.applied.get("budget"):  # session state: kept
            await self.client._query._send_control_request(  # type: ignore[union-attr]
                {"subtype": "set_max_thinking_tokens",
                 "max_thinking_tokens": request.thinking_budget})
        tools = wire_tools(request.tools)
        if tools != self.tools:
            self.tools[:] = tools
            self.names.clear()
            self.names.update(t.name for t in tools)
            await self.client.toggle_mcp_server(TOOL_SERVER, False)
            await self.client.toggle_mcp_server(TOOL_SERVER, True)
        self.applied = {"knobs": knobs, "model": model, "budget": request.thinking_budget}

    async def prime(self, sink_url: str, base_url: str) -> bool:
        """Run the CLI's first queries against the prime sink, then take them back.

        ``ANTHROPIC_BASE_URL`` points at the sink for those queries (the CLI reads it per
        request from its settings' env), then back at ``base_url``, the CLI's own value: the CLI
        cannot unset a variable once set, so a process whose CLI has none is never primed.
        ``rewind_conversation`` leaves the session empty (``/clear`` would leave a caveat block
        in the next request). True when all of that held and the queries cost nothing (the
        one-call budget is intact); else the process must not serve.
        """
        control = self.client._query._send_control_request  # type: ignore[union-attr]
        env = _SPAWNED_ENV
        await control({"subtype": "apply_flag_settings",
                       "settings": {"env": {**env, BASE_URL: sink_url}}})
        try:
            clean = True
            for _ in range(PRIME_QUERIES):
                clean = clean and await self._throwaway_query(control)
        finally:  # the CLI's own value back in its environment, then the settings as spawned
            await control({"subtype": "apply_flag_settings",
                           "settings": {"env": {**env, BASE_URL: base_url}}})
            await control({"subtype": "apply_flag_settings", "settings": {"env": env}})
        return clean

    async def _throwaway_query(self, control: Any) -> bool:
        marker = str(uuid.uuid4())
        await self.client.query(single({**prompt_message([{"type": "text", "text": "."}]),
                                        "uuid": marker}))
        results = [m async for m in self.client.receive_response()
                   if isinstance(m, ResultMessage)]
        rewind = await control({"subtype": "rewind_conversation", "target_message_uuid": marker})
        return (len(results) == 1 and not results[0].is_error
                and not results[0].total_cost_usd and rewind.get("rewound") is True)

    async def reset(self) -> bool:
        """Take the last request back (``rewind_conversation`` to its prompt): the session is
        empty again and the next request carries no trace of it, where a ``/clear`` would leave
        its own record (a caveat, the command and its output) in the next request."""
        control = self.client._query._send_control_request  # type: ignore[union-attr]
        rewind = await control({"subtype": "rewind_conversation",
                                "target_message_uuid": self.marker})
        return rewind.get("rewound") is True
