"""The API keys, each with the agent workspaces it may use.

``--api-key`` values (comma-separated) may use every workspace.  In ``--api-key-file``, one key
a line; the words after the key, separated by spaces, name the only workspaces it may use::

    # the team's key: every workspace
    sk-team-1234
    # the blog bot: the workspace "blog" only
    sk-blog-5678 blog

A word starting with ``#`` ends the line.  A key is known by its id, ``key_`` and the start of
its SHA-256, in logs, audit lines and the session ledger; the key itself is never written.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from dataclasses import dataclass
from pathlib import Path

from .._config import Config


@dataclass(frozen=True)
class ApiKey:
    secret: str
    workspaces: frozenset[str] | None = None  # the agent workspaces it may use; None: all

    @property
    def id(self) -> str:
        return key_id(self.secret)


def key_id(secret: str) -> str:
    """What logs and ledgers know a key by: never the key itself."""
    return "key_" + hashlib.sha256(secret.encode()).hexdigest()[:10]


def parse_key_line(line: str) -> ApiKey | None:
    """A key-file line: the key, then the workspaces it is limited to (if any); None for a
    blank line or a comment."""
    words = list(itertools.takewhile(lambda word: not word.startswith("#"), line.split()))
    if not words:
        return None
    return ApiKey(words[0], frozenset(words[1:]) if words[1:] else None)


def api_keys(config: Config) -> list[ApiKey]:
    """The keys of ``api_key`` and ``api_key_file``, in order.  Raises OSError when the file
    cannot be read."""
    keys = [ApiKey(k.strip()) for k in (config.api_key or "").split(",") if k.strip()]
    if config.api_key_file:
        lines = Path(config.api_key_file).read_text().splitlines()
        keys += [key for line in lines if (key := parse_key_line(line)) is not None]
    return keys


def matching_key(given: str, keys: list[ApiKey]) -> ApiKey | None:
    """The first key equal to ``given``, compared in constant time: every key is compared,
    whichever matches."""
    found: ApiKey | None = None
    for key in keys:
        if hmac.compare_digest(given.encode(), key.secret.encode()) and found is None:
            found = key
    return found


def conflicting(keys: list[ApiKey]) -> str | None:
    """The id of a key listed twice with different workspaces, if any."""
    seen: dict[str, frozenset[str] | None] = {}
    for key in keys:
        if key.secret in seen and seen[key.secret] != key.workspaces:
            return key.id
        seen[key.secret] = key.workspaces
    return None
