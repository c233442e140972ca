"""The agentic profile's workspaces: parsed from the settings, checked once, chosen by model id.

An operator names each workspace (``NAME=DIR`` or ``NAME:PRESET=DIR``); a client picks one with
the model ``agent:NAME``, optionally with a Claude model and a progress mode:
``agent:NAME:MODEL+MODE``.  A request never names a directory: only these names exist.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .._config import PROGRESS, Config
from .._exceptions import ModelNotFoundError

PREFIX = "agent:"
PRESETS = ("read", "edit", "shell", "container")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SPEC = re.compile(r"^(?P<name>[^=:]+)(?::(?P<preset>[^=]+))?=(?P<dir>.+)$")
_PACKAGE = Path(__file__).resolve().parent.parent  # this package's own install directory
# The system's own directories: refused with all they hold (trees) or themselves (dirs; a
# project may live under /var/www or /opt).
SYSTEM_TREES = tuple(Path(p) for p in ("/etc", "/proc", "/sys", "/dev", "/boot", "/bin", "/sbin",
                                       "/lib", "/lib64", "/usr", "/System", "/private/etc"))
SYSTEM_DIRS = tuple(Path(p) for p in ("/var", "/opt", "/srv", "/home", "/Users", "/root",
                                      "/tmp", "/private", "/Library", "/Applications", "/mnt",
                                      "/media", "/run"))


@dataclass(frozen=True)
class Workspace:
    name: str
    path: str  # resolved, absolute
    preset: str = "read"


@dataclass(frozen=True)
class AgentTarget:
    """What an ``agent:`` model id chose."""

    workspace: Workspace
    model: str | None  # the Claude model inside the id, if any (else the configured default)
    progress: str  # where tool steps go: one of PROGRESS


def parse_workspaces(spec: str | None, *, check: bool = True) -> dict[str, Workspace]:
    """The workspaces of the ``agent_workspaces`` setting (comma-separated specs).

    Raises ValueError naming the bad entry.  ``check``: resolve and refuse unsafe directories
    (see `check_directory`)."""
    found: dict[str, Workspace] = {}
    for entry in (spec or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        match = _SPEC.match(entry)
        if not match:
            raise ValueError(f"agent workspace {entry!r}: write NAME=DIR or NAME:PRESET=DIR")
        name, preset = match["name"].strip(), (match["preset"] or "read").strip()
        if not _NAME.match(name):
            raise ValueError(f"agent workspace {entry!r}: a name is letters, digits, '.', '_' "
                             "and '-'")
        if preset not in PRESETS:
            raise ValueError(f"agent workspace {name!r}: unknown preset {preset!r} (one of "
                             f"{', '.join(PRESETS)})")
        if name in found:
            raise ValueError(f"agent workspace {name!r} is named twice")
        path = check_directory(name, match["dir"].strip()) if check else match["dir"].strip()
        found[name] = Workspace(name, path, preset)
    return found


def check_directory(name: str, directory: str) -> str:
    """The directory, resolved; refused when it is missing, the root, the home directory
    itself, or holds (or lies inside) this server's own installation."""
    path = Path(os.path.expanduser(directory))
    if not path.is_absolute():
        raise ValueError(f"agent workspace {name!r}: {directory!r} is not an absolute path")
    resolved = path.resolve()
    if not resolved.is_dir():
        raise ValueError(f"agent workspace {name!r}: {directory!r} is not a directory")
    if resolved == Path(resolved.anchor):
        raise ValueError(f"agent workspace {name!r}: the root directory is refused")
    if resolved == Path.home().resolve():
        raise ValueError(f"agent workspace {name!r}: the home directory itself is refused; "
                         "name a project directory inside it")
    system = next((d for d in SYSTEM_TREES if resolved == d or d in resolved.parents), None)
    if system is not None or resolved in SYSTEM_DIRS:
        raise ValueError(f"agent workspace {name!r}: {resolved} is a system directory "
                         f"({system or resolved}); name a project directory")
    if resolved == _PACKAGE or resolved in _PACKAGE.parents or _PACKAGE in resolved.parents:
        raise ValueError(f"agent workspace {name!r}: {resolved} holds claude-openai's own "
                         "installation, which an agent must not change")
    return str(resolved)


@functools.lru_cache(maxsize=16)
def _cached(spec: str | None) -> dict[str, Workspace]:
    return parse_workspaces(spec)


def workspaces(config: Config) -> dict[str, Workspace]:
    """The configured workspaces (checked once per setting value)."""
    return _cached(config.agent_workspaces) if config.agent_workspaces else {}


def is_agent_model(model: object) -> bool:
    return isinstance(model, str) and model.lower().startswith(PREFIX)


def agent_target(model: str, config: Config, allowed: frozenset[str] | None = None
                 ) -> AgentTarget:
    """The workspace (and model, progress mode) an ``agent:`` model id names.

    ``allowed``: the workspaces the caller's key may use (None: all).  An unknown workspace,
    and one the key may not use, are the same 404: a key learns nothing of the others."""
    rest = model[len(PREFIX):]
    rest, _, progress = rest.partition("+")
    name, _, claude_model = rest.partition(":")
    known = workspaces(config)
    if progress and progress not in PROGRESS:
        raise ModelNotFoundError(
            f"The model '{model}' names an unknown progress mode '{progress}' (one of "
            f"{', '.join(PROGRESS)}).", param="model", code="model_not_found")
    if name not in known or (allowed is not None and name not in allowed):
        names = [n for n in known if allowed is None or n in allowed]
        offer = (f" Agent models here: {', '.join(PREFIX + n for n in names)}." if names
                 else " No agent workspace is open to this key." if known
                 else " The agentic profile is off (the server names no --agent-workspaces).")
        raise ModelNotFoundError(f"The model '{model}' does not exist here.{offer}",
                                 param="model", code="model_not_found")
    return AgentTarget(known[name], claude_model or None, progress or config.agent_progress)


def agent_model_ids(config: Config, allowed: frozenset[str] | None = None) -> list[str]:
    """The ``agent:NAME`` ids a caller may use, for ``/v1/models``."""
    return [PREFIX + n for n in workspaces(config) if allowed is None or n in allowed]
