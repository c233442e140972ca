"""One request at a time per workspace: agents sharing a directory would undo each other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio

from .._config import Config
from .._exceptions import ConflictError
from .workspaces import Workspace

# Semaphores, not locks: a sync stream resumes the run from a new task at every step, and a
# lock must be released by the task that took it.
_TURNS: dict[str, anyio.Semaphore] = {}


def busy(workspace: Workspace) -> bool:
    turn = _TURNS.get(workspace.path)
    return turn is not None and turn.value == 0


@contextlib.asynccontextmanager
async def workspace_turn(workspace: Workspace, config: Config) -> AsyncIterator[None]:
    """Hold the workspace for one run: wait for it (``agent_busy`` "wait", up to
    ``queue_timeout``) or refuse at once; either way a 409 saying why when it stays busy."""
    lock = _TURNS.setdefault(workspace.path, anyio.Semaphore(1))
    wait = config.queue_timeout if config.agent_busy == "wait" else 0.0
    if not await _take(lock, wait):
        waited = f"; waited {wait:g} s" if wait else ""
        raise ConflictError(
            f"The agent workspace '{workspace.name}' is busy with another request (one request "
            f"at a time runs in a workspace{waited}). Retry when it is done.",
            code="workspace_busy")
    try:
        yield
    finally:
        lock.release()


async def _take(lock: anyio.Semaphore, wait: float) -> bool:
    try:
        lock.acquire_nowait()
        return True
    except anyio.WouldBlock:
        if not wait:
            return False
    with anyio.move_on_after(wait):
        await lock.acquire()
        return True
    return False
