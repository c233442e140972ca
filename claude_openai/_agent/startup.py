"""What the server checks, and says, before it serves the agentic profile.

`check_agents` refuses (ValueError, one sentence for the operator) a setup that would let
agents be driven by anyone, or run with less fencing than their preset promises: workspaces
without an API key, CORS, a ``shell`` workspace without Claude Code's sandbox, a ``container``
workspace outside a declared container, an MCP file that does not load, a key limited to a
workspace that does not exist.  `agent_report` is what the start-up log says about them.
"""

from __future__ import annotations

import logging

from .._config import Config
from .access import ApiKey, api_keys, conflicting
from .options import mcp_servers, sandbox_missing
from .workspaces import Workspace, workspaces


def check_agents(config: Config) -> None:
    """Raise ValueError saying why the agentic profile must not be served with ``config``."""
    try:
        keys = api_keys(config)
    except OSError as exc:
        if not config.agent_workspaces:
            return  # no agents: the key file's problem is the guard's, as before
        raise ValueError(f"cannot read --api-key-file: {exc}") from None
    named = _restricted(keys)
    if not config.agent_workspaces:
        if named:
            raise ValueError(f"--api-key-file limits key {named[0].id} to agent workspaces, "
                             "but the agentic profile is off (no --agent-workspaces)")
        return
    found = workspaces(config)  # a bad spec or a refused directory: its ValueError
    if not keys:
        raise ValueError(
            "the agentic profile (--agent-workspaces) needs an API key (--api-key or "
            "--api-key-file), even on a loopback address: agents read and change files, and "
            "any program or web page on this machine could otherwise drive them")
    for key in named:
        unknown = sorted((key.workspaces or frozenset()) - set(found))
        if unknown:
            raise ValueError(f"--api-key-file limits key {key.id} to the agent workspace(s) "
                             f"{', '.join(unknown)}, which --agent-workspaces does not name")
    if (twice := conflicting(keys)) is not None:
        raise ValueError(f"API key {twice} is listed twice with different agent workspaces")
    if config.cors_origins:
        raise ValueError(
            "the agentic profile cannot be served with --cors-origins: a web page must not be "
            "able to drive an agent; put the browser's calls behind a server of its own")
    for workspace in found.values():
        check_preset(workspace, config)
    try:
        mcp_servers(config.agent_mcp_config)
    except (OSError, ValueError) as exc:
        raise ValueError(f"--agent-mcp-config does not load: {exc}") from None


def check_preset(workspace: Workspace, config: Config) -> None:
    """Refuse a preset this machine or the operator's declarations do not allow (also for
    in-process calls, which never pass `check_agents`)."""
    if workspace.preset == "shell" and not config.agent_unsandboxed_shell:
        reason = sandbox_missing()
        if reason is not None:
            raise ValueError(
                f"agent workspace {workspace.name!r} has the shell preset, but Claude Code's "
                f"Bash sandbox cannot run here ({reason}): install it, or pass "
                "--agent-unsandboxed-shell to let its commands run unconfined")
    if workspace.preset == "container" and not config.agent_container:
        raise ValueError(
            f"agent workspace {workspace.name!r} has the container preset, which bypasses "
            "every permission check: pass --agent-container only if this server runs in a "
            "disposable container")


def _restricted(keys: list[ApiKey]) -> list[ApiKey]:
    return [key for key in keys if key.workspaces is not None]


def agent_report(config: Config, *, loopback: bool, root: bool) -> list[tuple[int, str]]:
    """The start-up log's lines about the agentic profile (none when it is off): each
    workspace, each limited key's workspaces, and warnings for a public address and for root.
    Call after `check_agents`."""
    found = workspaces(config)
    if not found:
        return []
    report = [(logging.INFO, f"agent workspace {w.name} (preset {w.preset}): {w.path}")
              for w in found.values()]
    report += [(logging.INFO, f"API key {key.id} may use only the agent workspace(s) "
                              f"{', '.join(sorted(key.workspaces or ()))}")
               for key in _restricted(api_keys(config))]
    if not loopback:
        report.append((logging.WARNING, f"agent workspaces are served on {config.host}, not a "
                                        "loopback address: whoever holds a key and can reach "
                                        "it can have Claude Code work in them"))
    if root and not config.agent_container:
        report.append((logging.WARNING, "running as root without --agent-container: agents "
                                        "act with root's rights on this machine; run the "
                                        "server as an ordinary user, or in a disposable "
                                        "container with --agent-container"))
    return report
