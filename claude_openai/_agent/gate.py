"""One request at a time per workspace: agents sharing a directory would undo each other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .._config import Config
from .._exceptions import ConflictError
from .workspaces import Workspace

# Semaphores, not locks: a sync stream resumes the run from a new task at every step, and a
# lock must be released by the task that took it.
_TURNS: dict[str, anyio.Semaphore] = {}


class Turn:
    """A workspace held for one request; `release` may be called more than once."""

    def __init__(self, semaphore: anyio.Semaphore) -> None:
        self._semaphore: anyio.Semaphore | None = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


async def take_turn(workspace: Workspace, config: Config) -> Turn:
    """Hold the workspace: wait for it (``agent_busy`` "wait", up to ``queue_timeout``) or
    refuse at once; either way a 409 saying why when it stays busy."""
    semaphore = _TURNS.setdefault(workspace.path, anyio.Semaphore(1))
    wait = config.queue_timeout if config.agent_busy == "wait" else 0.0
    if not await _take(semaphore, wait):
        waited = f"; waited {wait:g} s" if wait else ""
        raise ConflictError(
            f"The agent workspace '{workspace.name}' is busy with another request (one request "
            f"at a time runs in a workspace{waited}). Retry when it is done.",
            code="workspace_busy")
    return Turn(semaphore)


@contextlib.asynccontextmanager
async def workspace_turn(workspace: Workspace, config: Config,
                         held: Turn | None = None) -> AsyncIterator[None]:
    """The workspace for one run: ``held`` when the server took it before the response began
    (see `admit`), else taken here; released when the run ends."""
    turn = held or await take_turn(workspace, config)
    try:
        yield
    finally:
        turn.release()


async def admit(request: Any, config: Config) -> Turn | None:
    """For the HTTP routes: take an agent request's workspace before its response begins, so
    that a busy workspace is a 409 status and a wait for it sends no byte, like the wait for a
    run slot.  The run then finds it held (``AgentJob.held``); whoever ends the request
    releases it, if the run never did."""
    job = getattr(request, "agent", None)
    if job is None:
        return None
    turn = await take_turn(job.target.workspace, config)
    job.held.append(turn)
    return turn


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
