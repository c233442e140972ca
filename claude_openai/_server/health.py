"""`/health`: which Claude Code CLI will run, its version, and which credentials it will use.

Nothing here calls the model.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import claude_agent_sdk

from .. import __version__
from .._agent.startup import agent_report
from .._config import Config
from .guard import is_loopback

# Checked in the CLI's own order of precedence: the first that is set wins.
_AUTH_ENV = (
    ("CLAUDE_CODE_USE_BEDROCK", "bedrock"),
    ("CLAUDE_CODE_USE_VERTEX", "vertex"),
    ("CLAUDE_CODE_USE_FOUNDRY", "foundry"),
    ("ANTHROPIC_AUTH_TOKEN", "auth_token"),
    ("ANTHROPIC_API_KEY", "api_key"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "oauth_token"),
)


def bundled_cli() -> Path:
    name = "claude.exe" if os.name == "nt" else "claude"
    return Path(claude_agent_sdk.__file__).parent / "_bundled" / name


def cli_path(config: Config) -> Path:
    return Path(config.cli_path) if config.cli_path else bundled_cli()


def cli_version(path: Path) -> str | None:
    """The CLI's ``--version`` (a local call, no network), or None when it cannot run."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return done.stdout.split()[0]


def auth_method(environ: Mapping[str, str]) -> str:
    """How the CLI will authenticate: an environment variable, or a `claude login`."""
    for name, method in _AUTH_ENV:
        if environ.get(name):
            return method
    config_dir = Path(environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    if (config_dir / ".credentials.json").is_file():
        return "claude_login"
    if os.uname().sysname == "Darwin":
        return "claude_login_keychain_unverified"
    return "none"


def health(config: Config, version: str | None, environ: Mapping[str, str]) -> dict[str, Any]:
    path = cli_path(config)
    return {
        "status": "ok" if version else "unavailable",
        "version": __version__,
        "cli": {"path": str(path), "found": version is not None, "version": version},
        "auth": auth_method(environ),
        "default_model": config.model,
    }


def startup_report(config: Config, environ: Mapping[str, str]) -> list[tuple[int, str]]:
    """What ``serve`` logs as it starts: the CLI it will run and the credentials it will use,
    as (logging level, message); a missing CLI or missing credentials is said plainly, since
    otherwise a new user learns it only from the first request's error."""
    path = cli_path(config)
    version = cli_version(path)
    auth = auth_method(environ)
    report = [(logging.INFO, f"claude-openai {__version__}: Claude Code CLI "
                             f"{version or '(not runnable)'} at {path}; authentication: {auth}")]
    if version is None:
        report.append((logging.ERROR, f"the Claude Code CLI at {path} does not run: every "
                                      "request will fail with a 503 (see --cli-path)"))
    if auth == "none":
        report.append((logging.WARNING, "no Claude Code credentials found: run `claude login` "
                                        "(or set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN), "
                                        "else every request fails with a 502 from the API"))
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return report + agent_report(config, loopback=is_loopback(config.host), root=root)
