"""A warm process: a connected Claude Code CLI and the settings applied to it."""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import ClaudeSDKClient, ResultMessage
from mcp.types import Tool

from ._config import Config
from ._options import TOOL_SERVER, prompt_message, request_env, wire_tools
from ._request import ChatRequest, plain_request
from ._session import single

# What a process is spawned with, before any request's settings are applied.
_SPAWNED_ENV = request_env(plain_request(None))
_SPAWNED_KNOBS = {"env": _SPAWNED_ENV, "effortLevel": None}
BASE_URL = "ANTHROPIC_BASE_URL"
# Throwaway queries a spare runs before it serves: measured, the second query of a new process is
# still slower than later ones; a third gains nothing more.
PRIME_QUERIES = 2


@dataclass(eq=False)
class WarmProcess:
    key: str | None  # the system prompt it was spawned with
    client: ClaudeSDKClient
    workdir: str
    tools: list[Tool]  # the client-tools server's list, changed in place
    names: set[str]  # the tool names the defer hook answers for, changed in place
    stderr: deque[str]
    served: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    applied: dict[str, Any] = field(default_factory=dict)
    held: str | None = None  # sticky: the fingerprint of the conversation it holds

    async def prepare(self, request: ChatRequest, config: Config) -> None:
        """Apply this request's settings; only what differs from the last request is sent."""
        knobs = {"env": request_env(request), "effortLevel": request.effort}
        if knobs != self.applied.get("knobs", _SPAWNED_KNOBS):
            await self.client._query._send_control_request(  # type: ignore[union-attr]
                {"subtype": "apply_flag_settings", "settings": knobs})
        model = request.model or config.model
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

    async def clear(self) -> None:
        await self.client.query("/clear")
        async for _ in self.client.receive_response():
            pass
