"""A warm process: a connected Claude Code CLI and the settings applied to it."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import ClaudeSDKClient
from mcp.types import Tool

from ._config import Config
from ._options import TOOL_SERVER, request_env, wire_tools
from ._request import ChatRequest, plain_request

# What a process is spawned with, before any request's settings are applied.
_SPAWNED_KNOBS = {"env": request_env(plain_request(None)), "effortLevel": None}


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
        tools = wire_tools(request.tools)
        if tools != self.tools:
            self.tools[:] = tools
            self.names.clear()
            self.names.update(t.name for t in tools)
            await self.client.toggle_mcp_server(TOOL_SERVER, False)
            await self.client.toggle_mcp_server(TOOL_SERVER, True)
        self.applied = {"knobs": knobs, "model": model}

    async def clear(self) -> None:
        await self.client.query("/clear")
        async for _ in self.client.receive_response():
            pass
