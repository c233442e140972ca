"""PURE: what an agent may do: each preset's tools and rules, and the path check its hook runs.

Measured with CLI 2.1.332 (see ``tests/test_e2e_agent.py``): in ``dontAsk`` mode a bare
``Read`` allow rule approves reads anywhere on the machine, so tools are approved only by rules
scoped to the workspace (``Read(//ws/**)``); reads inside the working directory are approved by
the mode itself.  Deny rules keep the secrets out, and a PreToolUse hook checks every path on
its resolved form (symlinks, ``..``, absolute paths) before the CLI's own checks run.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import PurePosixPath

READ_TOOLS = ("Read", "Glob", "Grep")
EDIT_TOOLS = ("Edit", "Write", "NotebookEdit")
WEB_TOOLS = ("WebFetch", "WebSearch")
# Tools with no place behind a request/response API, or that widen the agent's reach.
ALWAYS_DENIED = (
    "AskUserQuestion", "Agent", "Task", "TaskOutput", "TaskStop", "CronCreate", "CronDelete",
    "CronList", "EnterWorktree", "ExitWorktree", "EnterPlanMode", "ExitPlanMode", "Skill",
    "RemoteTrigger", "Monitor", "SendMessage", "TeamCreate", "TeamDelete", "PushNotification",
    "Workflow", "ScheduleWakeup",
)
# Secrets inside a workspace (file names, matched on every path component's name).
SECRET_NAMES = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*",
                "id_ecdsa*", "id_ed25519*", ".netrc", ".npmrc", ".pypirc", "*.keystore",
                "credentials", "credentials.json", ".git-credentials")
SECRET_DIRS = (".git", ".ssh", ".aws", ".gnupg", ".claude")
# Inputs that carry a path, per tool.
PATH_KEYS = ("file_path", "notebook_path", "path")


@dataclass(frozen=True)
class Preset:
    tools: tuple[str, ...]  # the built-in tools that exist for the agent
    edits: bool  # Edit/Write approved inside the workspace
    shell: bool  # Bash (sandboxed unless the operator says otherwise)
    bypass: bool = False  # the container preset: permissions bypassed


PRESETS = {
    "read": Preset(READ_TOOLS, edits=False, shell=False),
    "edit": Preset(READ_TOOLS + EDIT_TOOLS, edits=True, shell=False),
    "shell": Preset(READ_TOOLS + EDIT_TOOLS + ("Bash",), edits=True, shell=True),
    "container": Preset(READ_TOOLS + EDIT_TOOLS + ("Bash",), edits=True, shell=True,
                        bypass=True),
}


def tool_lists(preset: str, root: str, *, web: bool, mcp: list[str]) -> dict[str, list[str]]:
    """``tools`` (what exists), ``allowed_tools`` (approved, scoped to ``root``) and
    ``disallowed_tools`` (denied outright) for a preset."""
    spec = PRESETS[preset]
    tools = list(spec.tools) + (list(WEB_TOOLS) if web else [])
    scope = "/" + root.rstrip("/") + "/**"  # "//abs/path/**": an absolute path rule
    allowed = [f"Read({scope})"]  # Read rules cover Glob and Grep as well
    if spec.edits:
        allowed += [f"{t}({scope})" for t in EDIT_TOOLS]
    if spec.shell:
        allowed.append("Bash")  # confined by the sandbox (see agent options)
    allowed += list(WEB_TOOLS) if web else []
    allowed += [f"mcp__{name}" for name in mcp]
    denied = list(ALWAYS_DENIED) + ([] if web else list(WEB_TOOLS))
    if not spec.shell:
        denied.append("Bash")
    return {"tools": tools, "allowed_tools": allowed, "disallowed_tools": denied}


def deny_rules() -> list[str]:
    """Settings ``permissions.deny`` rules for the secrets, for reading and for writing."""
    patterns = [f"**/{name}" for name in SECRET_NAMES] + [f"**/{d}/**" for d in SECRET_DIRS]
    return [f"{tool}({p})" for tool in ("Read", "Edit", "Write") for p in patterns]


def is_secret(path: str) -> bool:
    parts = PurePosixPath(path).parts
    if any(part in SECRET_DIRS for part in parts[:-1]) or (parts and parts[-1] in SECRET_DIRS):
        return True
    return bool(parts) and any(fnmatch.fnmatch(parts[-1], p) for p in SECRET_NAMES)


def resolved(path: str, cwd: str) -> str:
    """``path`` as the filesystem would reach it: relative to ``cwd``, ``~`` expanded, ``..``
    and symlinks resolved (as far as they exist)."""
    full = os.path.join(cwd, os.path.expanduser(path))
    return os.path.realpath(full)


def inside(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def refusal(tool: str, tool_input: dict[str, object], roots: list[str]) -> str | None:
    """Why the call must not run (a sentence for the agent and the client), or None.

    Every path an input carries is checked on its resolved form: it must lie inside one of
    ``roots`` (the first is the working directory) and must not be a secret.  Glob and Grep
    patterns may not climb out either."""
    cwd = roots[0]
    for key in PATH_KEYS:
        value = tool_input.get(key)
        if not isinstance(value, str) or not value:
            continue
        real = resolved(value, cwd)
        if not inside(real, roots):
            return f"{tool} of {value} refused: it is outside the workspace"
        relative = os.path.relpath(real, next(r for r in roots if inside(real, [r])))
        if relative != "." and is_secret(relative):
            return f"{tool} of {value} refused: the workspace's secrets are off limits"
    for key in ("pattern", "glob"):
        value = tool_input.get(key)
        if tool in ("Glob", "Grep") and isinstance(value, str) and _climbs(value, tool, key):
            return f"{tool} pattern {value} refused: it reaches outside the workspace"
    return None


def _climbs(pattern: str, tool: str, key: str) -> bool:
    if tool == "Grep" and key == "pattern":
        return False  # a regular expression over contents, not a path
    return pattern.startswith(("/", "~")) or ".." in PurePosixPath(pattern).parts
