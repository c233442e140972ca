"""PURE: a `ChatRequest` and `Config` as Claude Agent SDK options: a plain model, isolated.

What each setting keeps out (notes §3.1, §3.2, §3.14, §7):
- ``tools=[]``, ``strict_mcp_config``: no built-in tools, none of the host's MCP servers;
- ``setting_sources=[]``, ``skills=[]``, ``CLAUDE_CODE_DISABLE_CLAUDE_MDS``: none of the host's
  settings, hooks, skills or CLAUDE.md;
- ``verbatim_prompts``: ``@path`` and slash commands in user text stay plain text;
- ``cwd``/``CLAUDE_CODE_TMPDIR``: a dedicated empty directory per request, removed afterwards;
- ``--no-session-persistence``: no transcripts left on disk;
- ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC``: no title generation or telemetry calls;
- ``CLAUDE_CODE_MAX_RETRIES``: failures surface in seconds;
- ``CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK``: a failed stream fails instead of silently
  re-running without deltas;
- ``max_budget_usd``: one upstream call per request (see ``ONE_CALL_BUDGET``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

from . import __version__
from ._config import Config
from ._request import ChatRequest

# The CLI checks its budget after every upstream call, so a budget below any real call's cost
# stops it after exactly one: no max_tokens auto-continuation (notes §3.5; interrupting at
# message_delta alone races with the CLI's continuation request).
ONE_CALL_BUDGET = 1e-9


def cli_env(request: ChatRequest, config: Config, workdir: str) -> dict[str, str]:
    env = {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_CLAUDE_MDS": "1",
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(config.max_retries),
        "ENABLE_TOOL_SEARCH": "false",
        "CLAUDE_CODE_TMPDIR": workdir,
    }
    if request.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.max_tokens)
    extra: dict[str, Any] = dict(request.sampling)
    if request.stop:
        extra["stop_sequences"] = request.stop
    if request.sampling:
        # The API refuses sampling parameters while extended thinking is on (notes §3.6).
        env["CLAUDE_CODE_DISABLE_THINKING"] = "1"
    if extra:
        env["CLAUDE_CODE_EXTRA_BODY"] = json.dumps(extra)
    return env


def agent_options(
    request: ChatRequest, config: Config, workdir: str, *, stderr: Any = None
) -> ClaudeAgentOptions:
    """The options for one request; history, if any, comes in through ``resume``."""
    return ClaudeAgentOptions(
        system_prompt=request.system,
        model=request.model or config.model,
        effort=request.effort,  # type: ignore[arg-type]
        tools=[],
        setting_sources=[],
        skills=[],
        strict_mcp_config=True,
        verbatim_prompts=True,
        include_partial_messages=True,
        cwd=workdir,
        cli_path=config.cli_path,
        env=cli_env(request, config, workdir),
        extra_args={"no-session-persistence": None},
        max_budget_usd=ONE_CALL_BUDGET,
        stderr=stderr,
        client_app=f"claude-openai/{__version__}",
    )


def new_session_id() -> str:
    return str(uuid.uuid4())


def prompt_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The final user turn as a streaming-input message (keeps image blocks as images)."""
    return {"type": "user", "message": {"role": "user", "content": blocks},
            "parent_tool_use_id": None}
