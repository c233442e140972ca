"""PURE: a `ClaudeRequest` and `Config` as Claude Agent SDK options: a plain model, isolated.

What each setting keeps out (notes §3.1, §3.2, §3.14, §7):
- ``tools=[]``, ``strict_mcp_config``: no built-in tools, none of the host's MCP servers;
- ``setting_sources=[]``, ``skills=[]``, ``CLAUDE_CODE_DISABLE_CLAUDE_MDS``: none of the host's
  settings, hooks, skills or CLAUDE.md;
- ``verbatim_prompts``: ``@path`` and slash commands in user text stay plain text;
- ``cwd``: one fixed, empty directory (see `working_directory`); ``CLAUDE_CODE_TMPDIR``: a
  dedicated empty directory per process, removed afterwards;
- ``--no-session-persistence``: no transcripts left on disk;
- ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC``: no title generation or telemetry calls;
- ``CLAUDE_CODE_MAX_RETRIES``: failures surface in seconds;
- ``CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK``: a failed stream fails instead of silently
  re-running without deltas;
- ``max_budget_usd``: one upstream call per request (see ``ONE_CALL_BUDGET``), kept out of the
  model's context by ``CLAUDE_CODE_DISABLE_ATTACHMENTS``;

Client functions (notes §4): an in-process MCP server lists them under their own names
(``CLAUDE_AGENT_SDK_MCP_NO_PREFIX``, full descriptions, schemas passed through untouched), and a
PreToolUse hook defers every call, so the CLI ends the turn with the calls and runs nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import tempfile
import uuid
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher
from claude_agent_sdk._internal._mcp_compat import build_tool_server
from mcp.types import CallToolResult, Tool

from .. import __version__
from .._config import Config
from .request import ClaudeRequest, plain_request
from .tools import ToolConfig

logger = logging.getLogger("claude_openai")
TOOL_SERVER = "client"

# The CLI checks its budget after every upstream call, so a budget below any real call's cost
# stops it after exactly one: no max_tokens auto-continuation (notes §3.5; interrupting at
# message_delta alone races with the CLI's continuation request).
ONE_CALL_BUDGET = 1e-9


TOOL_ENV = {"CLAUDE_AGENT_SDK_MCP_NO_PREFIX": "1",
            "CLAUDE_CODE_MAX_MCP_DESCRIPTION_LENGTH": "10000000"}


def request_env(request: ClaudeRequest) -> dict[str, str]:
    """The per-request knobs, each key always present ("" = the CLI's default).

    A spawned process gets the set ones in its environment; a warm process gets all of them
    through ``apply_flag_settings`` (notes §5.2), so nothing carries over from the last request.
    """
    extra: dict[str, Any] = dict(request.sampling)
    if request.stop:
        extra["stop_sequences"] = request.stop
    if request.tools.choice:
        extra["tool_choice"] = request.tools.choice
    # The API refuses most sampling values and forced tool use while thinking is on: the
    # request arrives here with thinking_off set for those (see _thinking.plan).
    return {
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(request.max_tokens or ""),
        "CLAUDE_CODE_EXTRA_BODY": json.dumps(extra) if extra else "",
        "CLAUDE_CODE_DISABLE_THINKING": "1" if request.thinking_off else "",
    }


def thinking_option(request: ClaudeRequest, config: Config) -> dict[str, Any]:
    """The SDK's ``thinking``: Claude Code picks adaptive or manual thinking by model; a budget
    applies to manual models only (adaptive ones ignore it), and ``display`` is what the client
    sees: a summary, or (reasoning off) nothing at all, which also gives the first text sooner."""
    display = "summarized" if config.reasoning == "summarized" else "omitted"
    if request.thinking_budget is not None:
        return {"type": "enabled", "budget_tokens": request.thinking_budget, "display": display}
    return {"type": "adaptive", "display": display}


def cli_env(request: ClaudeRequest, config: Config, workdir: str) -> dict[str, str]:
    env = {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_CLAUDE_MDS": "1",
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(config.max_retries),
        "ENABLE_TOOL_SEARCH": "false",
        "CLAUDE_CODE_TMPDIR": workdir,
        # No per-turn attachments: the one-call budget guard would show in every request as
        # "USD budget: $0/$1e-9; $1e-9 remaining" (none of the others apply to a plain model)
        "CLAUDE_CODE_DISABLE_ATTACHMENTS": "1",
    }
    if config.reasoning == "off":  # else Claude Code asks for "updates" instead of "omitted"
        env["CLAUDE_CODE_THINKING_DISPLAY_UPDATES"] = "0"
    env.update({k: v for k, v in request_env(request).items() if v})
    if request.tools.tools:
        env.update(TOOL_ENV)
    if request.prompt is None:  # hand back tool results and let Claude continue (notes §4.3)
        env["CLAUDE_CODE_RESUME_INTERRUPTED_TURN"] = "1"
    return env


@functools.cache
def working_directory() -> str:
    """The directory every Claude process runs in: one fixed, empty directory.

    Claude Code shows the model its working directory ("Primary working directory: ..."), early
    in the conversation.  The same path in every process keeps a conversation's prefix, and so
    its prompt cache, the same whichever process serves the next turn.  Each process still has
    its own temporary directory (``CLAUDE_CODE_TMPDIR``); nothing is written here."""
    shared = os.path.join(tempfile.gettempdir(), "claude-openai-cwd")
    try:
        os.makedirs(shared, mode=0o755, exist_ok=True)
        if os.path.isdir(shared) and not os.path.islink(shared) and os.access(
                shared, os.R_OK | os.X_OK) and not os.listdir(shared):
            return shared
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="claude-openai-cwd-")  # another user's: one of our own


def agent_options(
    request: ClaudeRequest, config: Config, workdir: str, *, stderr: Any = None
) -> ClaudeAgentOptions:
    """The options for one request; history, if any, comes in through ``resume``."""
    return ClaudeAgentOptions(
        system_prompt=request.system,
        model=request.model or config.model,
        effort=request.effort,  # type: ignore[arg-type]
        thinking=thinking_option(request, config),  # type: ignore[arg-type]
        tools=[],
        setting_sources=[],
        skills=[],
        strict_mcp_config=True,
        verbatim_prompts=True,
        include_partial_messages=True,
        cwd=working_directory(),
        cli_path=config.cli_path,
        env=cli_env(request, config, workdir),
        extra_args={"no-session-persistence": None},
        max_budget_usd=ONE_CALL_BUDGET,
        stderr=stderr,
        client_app=f"claude-openai/{__version__}",
        **_tool_options(request.tools),
    )


def _tool_options(tools: ToolConfig) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if tools.schema is not None:
        options["output_format"] = {"type": "json_schema", "schema": tools.schema}
    if tools.tools:
        options.update(tool_server_options(wire_tools(tools), {t.api_name for t in tools.tools}))
    return options


def tool_server_options(tools: list[Tool], names: set[str]) -> dict[str, Any]:
    """The client-tools MCP server and the hook that defers their calls.

    A warm process keeps both for its life: the pool changes ``tools`` and ``names`` in place.
    """
    server = build_tool_server(TOOL_SERVER, __version__, tools, _never_run)
    return {"mcp_servers": {TOOL_SERVER: {"type": "sdk", "name": TOOL_SERVER,
                                          "instance": server}},
            "hooks": {"PreToolUse": [HookMatcher(hooks=[_defer_hook(names)])]}}


def wire_tools(tools: ToolConfig) -> list[Tool]:
    # Built here rather than with the SDK's tool(): that rewrites schemas without "properties".
    return [Tool.model_validate({"name": t.api_name, "description": t.description,
                                 "inputSchema": t.parameters}) for t in tools.tools]


def _defer_hook(names: set[str]) -> Any:
    async def defer(data: Any, tool_use_id: str | None, context: Any) -> Any:
        if data.get("tool_name") not in names:
            return {}  # the CLI's own StructuredOutput tool goes on as usual
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                       "permissionDecision": "defer"}}

    return defer


async def _never_run(name: str, arguments: dict[str, Any]) -> CallToolResult:
    # Calls are deferred to the client; reaching this would mean a client function ran here.
    logger.error("client function %r was called on the server; refused", name)
    return CallToolResult.model_validate(
        {"content": [{"type": "text", "text": "not available"}], "isError": True})


def new_session_id() -> str:
    return str(uuid.uuid4())


def prompt_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The final user turn as a streaming-input message (keeps image blocks as images).

    ``client_composed`` delivers it verbatim (no ``@path``, no slash commands), on top of the
    process's own ``verbatim_prompts``.
    """
    return {"type": "user", "message": {"role": "user", "content": blocks},
            "parent_tool_use_id": None, "client_composed": True}


def process_options(system: str | None, config: Config, workdir: str, tools: list[Tool],
                    names: set[str], *, stderr: Any = None) -> ClaudeAgentOptions:
    """Spawn options of a warm process: what a live process cannot change (the system prompt),
    the isolation, and the client-tools server; per-request knobs are applied later."""
    options = agent_options(plain_request(system), config, workdir, stderr=stderr)
    return dataclasses.replace(options, env={**options.env, **TOOL_ENV},
                               **tool_server_options(tools, names))
