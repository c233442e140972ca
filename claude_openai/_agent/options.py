"""An agent request as Claude Agent SDK options: Claude Code's own tools, fenced in.

- tools: the preset's list, in ``dontAsk`` mode (nothing asks; what no rule approves is denied),
  approved only inside the workspace; ``disallowed_tools`` for what has no place over HTTP;
- ``settings.permissions.deny``: the workspace's secrets and the home directory's key stores;
- a PreToolUse hook checks every path on its resolved form (`policy.refusal`);
- ``shell``: Bash inside Claude Code's sandbox, with no way out of it;
- ``container``: permissions bypassed, only where the operator declared a disposable container;
- the host's settings, hooks, skills, MCP servers and CLAUDE.md stay out, as for a plain model;
  MCP servers come only from ``--agent-mcp-config``; the workspace's CLAUDE.md only with
  ``--agent-claude-md``, read here and appended to the system prompt;
- turns and dollars are capped by the CLI (``max_turns``, ``max_budget_usd``), time by the run.
"""

from __future__ import annotations

import functools
import json
import platform
import shutil
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher

from .. import __version__
from .._config import Config
from .._engine.options import cli_env, thinking_option
from .._engine.request import ClaudeRequest
from .policy import PRESETS, deny_rules, refusal, tool_lists
from .workspaces import Workspace

HOME_SECRET_DIRS = (".ssh", ".aws", ".gnupg", ".config/gcloud", ".docker", ".kube", ".claude",
                    ".azure")
HOME_SECRET_FILES = (".netrc", ".npmrc", ".pypirc", ".git-credentials", ".claude.json")
CLAUDE_MD_LIMIT = 64 * 1024


@functools.cache
def sandbox_missing() -> str | None:
    """Why Claude Code's Bash sandbox cannot run here, or None when it can (looked up once:
    every shell request asks)."""
    system = platform.system()
    if system == "Darwin":
        return None if shutil.which("sandbox-exec") else "sandbox-exec is missing"
    if system == "Linux":
        missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
        return f"{' and '.join(missing)} not installed" if missing else None
    return f"no sandbox on {system}"


@functools.lru_cache(maxsize=8)
def mcp_servers(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    data = json.loads(Path(path).read_text())
    servers = data.get("mcpServers", data) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ValueError(f"{path}: expected {{\"mcpServers\": {{name: server, ...}}}}")
    return servers


def system_prompt(request: ClaudeRequest, workspace: Workspace, config: Config,
                  note: str | None) -> dict[str, Any]:
    parts = [request.system or ""]
    if config.agent_claude_md:
        claude_md = Path(workspace.path) / "CLAUDE.md"
        if claude_md.is_file():
            text = claude_md.read_text(errors="replace")[:CLAUDE_MD_LIMIT]
            parts.append(f"Contents of {claude_md} (project instructions):\n\n{text}")
    if note:
        parts.append(note)
    append = "\n\n".join(p for p in parts if p)
    prompt: dict[str, Any] = {"type": "preset", "preset": "claude_code"}
    if append:
        prompt["append"] = append
    return prompt


def containment_hook(roots: list[str]) -> Any:
    async def contain(data: Any, tool_use_id: str | None, context: Any) -> Any:
        tool_input = data.get("tool_input")
        reason = refusal(str(data.get("tool_name")),
                         tool_input if isinstance(tool_input, dict) else {}, roots)
        if reason is None:
            return {}
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                       "permissionDecision": "deny",
                                       "permissionDecisionReason": reason}}

    return contain


def agent_options(request: ClaudeRequest, workspace: Workspace, config: Config, *,
                  workdir: str, config_dir: str, resume: str | None, note: str | None,
                  stderr: Any = None) -> ClaudeAgentOptions:
    """The options of one agent run.  ``resume``: the session to continue (forked)."""
    preset = PRESETS[workspace.preset]
    servers = mcp_servers(config.agent_mcp_config)
    lists = tool_lists(workspace.preset, workspace.path, web=config.agent_web,
                       mcp=list(servers))
    deny = deny_rules() + [f"{tool}(~/{place})" for tool in ("Read", "Edit")
                           for place in [f"{d}/**" for d in HOME_SECRET_DIRS]
                           + list(HOME_SECRET_FILES)]
    settings: dict[str, Any] = {"permissions": {"deny": deny}}
    if not preset.bypass:
        settings["permissions"]["disableBypassPermissionsMode"] = "disable"
    env = {**cli_env(request, config, workdir), "CLAUDE_CONFIG_DIR": config_dir}
    env.pop("CLAUDE_CODE_RESUME_INTERRUPTED_TURN", None)
    if preset.bypass:
        env["IS_SANDBOX"] = "1"  # the operator declared a disposable container
    sandbox: dict[str, Any] | None = None
    if preset.shell and not preset.bypass and not (config.agent_unsandboxed_shell
                                                   and sandbox_missing() is not None):
        sandbox = {"enabled": True, "autoAllowBashIfSandboxed": True,
                   "allowUnsandboxedCommands": False}
    return ClaudeAgentOptions(
        system_prompt=system_prompt(request, workspace, config, note),  # type: ignore[arg-type]
        model=request.model or config.model,
        effort=request.effort,  # type: ignore[arg-type]
        thinking=thinking_option(request, config),  # type: ignore[arg-type]
        permission_mode="bypassPermissions" if preset.bypass else "dontAsk",
        settings=json.dumps(settings),
        sandbox=sandbox,  # type: ignore[arg-type]
        setting_sources=[],
        skills=[],
        strict_mcp_config=True,
        mcp_servers=servers,
        verbatim_prompts=True,
        include_partial_messages=True,
        cwd=workspace.path,
        cli_path=config.cli_path,
        env=env,
        max_turns=config.agent_max_turns,
        max_budget_usd=config.agent_max_budget_usd,
        resume=resume,
        fork_session=resume is not None,
        hooks={"PreToolUse": [HookMatcher(hooks=[containment_hook([workspace.path])])]},
        stderr=stderr,
        client_app=f"claude-openai/{__version__}",
        **lists,
    )
