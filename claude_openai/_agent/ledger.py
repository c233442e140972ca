"""The session ledger: from a conversation's visible history to the Claude Code session that
produced it, so that the next turn continues the real session (with every tool call and result
the agent made) instead of a rebuilt one that lacks them.

Exact matches only, never fuzzy: the key hashes who asks (the API key), the workspace, its
preset, the model, the system prompt and every visible turn, normalised (`steps.strip_markup`:
our own markup and folded-in reasoning removed, whitespace evened out; images by content hash).
Entries live in memory (a restart forgets them; the next turn is then rebuilt); the sessions
they name are files in a directory of the server's own, pruned by age.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .._config import Config
from .._engine.turns import Block, Turn
from .steps import strip_markup


def normal_blocks(blocks: list[Block]) -> list[str]:
    out = []
    text = strip_markup("\n".join(str(b.get("text", "")) for b in blocks
                                  if b.get("type") == "text"))
    if text:
        out.append(text)
    for block in blocks:
        if block.get("type") == "image":
            source = json.dumps(block.get("source"), sort_keys=True)
            out.append("image:" + hashlib.sha256(source.encode()).hexdigest())
    return out


def conversation_key(scope: tuple[str, ...], system: str | None,
                     turns: list[tuple[str, list[Block]]]) -> str:
    """The ledger key of a conversation: ``scope`` (principal, workspace, preset, model), the
    system prompt and the turns, normalised; turns that normalise to nothing are left out."""
    shown = [(role, normal_blocks(blocks)) for role, blocks in turns]
    data = [list(scope), strip_markup(system or ""),
            [[role, parts] for role, parts in shown if parts]]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def history_turns(history: list[Turn]) -> list[tuple[str, list[Block]]]:
    return [(t.role, t.blocks) for t in history]


@dataclass
class Entry:
    session_id: str
    created: float


class Ledger:
    """Keys to session ids, and the session files; see the module docstring."""

    def __init__(self, directory: str, max_age: float) -> None:
        self.directory = Path(directory)
        self.max_age = max_age
        self._entries: dict[str, Entry] = {}
        self._parents: dict[str, str | None] = {}  # session -> the session it continued
        self._lock = threading.Lock()
        self._pruned = 0.0

    def find(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or time.time() - entry.created > self.max_age:
            return None
        return entry.session_id if self.path(entry.session_id).is_file() else None

    def path(self, session_id: str) -> Path:
        return self.directory / f"{session_id}.jsonl"

    def keep(self, key: str, session_id: str, transcript: Path,
             parent: str | None = None) -> None:
        """Remember ``key`` → the session whose transcript the CLI wrote at ``transcript``.

        ``parent``: the session it continued.  Each transcript holds the whole conversation,
        so only the last two of a line are kept: the newest, and its parent (from which the
        newest answer can be regenerated).  The grandparent goes: a request that edits a turn
        further back is rebuilt, and the disk holds no copy of a conversation per turn."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(transcript, self.path(session_id))
        with self._lock:
            self._entries[key] = Entry(session_id, time.time())
            self._parents[session_id] = parent
            grandparent = self._parents.get(parent) if parent else None
            if grandparent:
                self._forget(grandparent)
        self.prune()

    def _forget(self, session_id: str) -> None:
        for key in [k for k, e in self._entries.items() if e.session_id == session_id]:
            del self._entries[key]
        self._parents.pop(session_id, None)
        self.path(session_id).unlink(missing_ok=True)

    def prune(self, *, now: float | None = None) -> None:
        """Forget entries and delete session files older than ``max_age`` (at most once a
        minute, unless ``now`` is given)."""
        if now is None:
            now = time.time()
            if now - self._pruned < 60:
                return
        self._pruned = now
        with self._lock:
            for key in [k for k, e in self._entries.items() if now - e.created > self.max_age]:
                del self._entries[key]
        for file in self.directory.glob("*.jsonl"):
            try:
                if now - file.stat().st_mtime > self.max_age:
                    file.unlink()
            except OSError:
                pass
        with self._lock:
            for session in [s for s in self._parents if not self.path(s).exists()]:
                del self._parents[session]

    def __len__(self) -> int:
        return len(self._entries)


_LEDGERS: dict[tuple[str | None, float], Ledger] = {}


def sessions_directory(config: Config) -> str:
    """``agent_sessions_dir``, or our own directory under the system's temporary directory
    (a private one of our own if that name is taken by someone else, or open to others)."""
    if config.agent_sessions_dir:
        return os.path.abspath(config.agent_sessions_dir)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    shared = os.path.join(tempfile.gettempdir(), f"claude-openai-agent-sessions-{uid}")
    try:
        os.makedirs(shared, mode=0o700, exist_ok=True)
        info = os.lstat(shared)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077:
            return shared
    except OSError:
        pass
    return _private()


@functools.cache
def _private() -> str:
    return tempfile.mkdtemp(prefix="claude-openai-agent-sessions-")


def ledger_for(config: Config) -> Ledger:
    """The ledger of the sessions directory ``config`` names (one per setting; the directory
    is found and checked once, when its ledger is made)."""
    where = (config.agent_sessions_dir, config.agent_session_max_age)
    if where not in _LEDGERS:
        _LEDGERS[where] = Ledger(sessions_directory(config), config.agent_session_max_age)
    return _LEDGERS[where]


def forget_ledgers() -> None:
    """Drop every ledger (tests: a server restart)."""
    _LEDGERS.clear()


def scope_of(principal: str, workspace: str, preset: str, model: str | None) -> tuple[str, ...]:
    return (principal, workspace, preset, model or "")

