"""Warm Claude processes: connected CLIs that answer in milliseconds instead of a 300 ms spawn.

A warm process is keyed by what a live process cannot change (notes §5.2): its system prompt,
and whether it runs with the one-call budget guard.  Everything else is applied per request:
model, output limit, sampling, effort and the tool set.  New spares are primed (see
`WarmProcess.prime`).

Every request starts on an empty session, with no trace of the last one in what reaches the
model:
- a request with ``max_tokens`` needs the guard (exactly one upstream call, no auto-continuation),
  and the guard's budget counts until a ``/clear``, which would leave its record in the next
  request; so a guarded process serves one request and is replaced;
- any other request runs on an unguarded process, which serves up to ``pool_max_requests``, each
  after the last one was taken back with ``rewind_conversation`` (done in the background; a
  request that arrives meanwhile waits the few milliseconds for it).  Claude Code keeps
  announcing every tool a session has listed, so such a process serves only requests with the
  tools it first served (or none).
Requests a warm process cannot serve (earlier turns to resume, tool results, ``response_format``)
run on a process of their own, as do requests that find every warm process busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anyio
from claude_agent_sdk import ClaudeSDKClient, Message, ResultMessage
from mcp.types import Tool

from .._config import Config
from .._exceptions import ClaudeOpenAIError
from .options import (
    agent_options,
    process_options,
    prompt_message,
    wire_tools,
)
from .prime_sink import PrimeSink
from .request import ClaudeRequest
from .session import (
    Run,
    alive,
    close,
    drive,
    interrupt,
    run_cold,
    single,
    stderr_sink,
    with_history,
)
from .sticky import Answer, fingerprint, sticky_eligible
from .thinking_store import chain_key
from .turns import Turn
from .warm import BASE_URL, Key, WarmProcess

logger = logging.getLogger("claude_openai")
CLI_FAILURES = ("cli_unavailable", "cli_error")
UPKEEP_DELAY = 0.1  # seconds: see Pool._spawn_task
SPARE_WAIT = 5.0  # seconds a request waits for a spare that is starting, before starting its own


def warm_eligible(request: ClaudeRequest) -> bool:
    return not request.history and request.prompt is not None and request.tools.schema is None


class Pool:
    """Warm processes for one `Config`, on one event loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.idle: list[WarmProcess] = []
        self.busy: set[WarmProcess] = set()
        self.starting = 0
        self.starting_keys: Counter[Key] = Counter()
        self.counts: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_key: Key = (None, False)
        self._closed = False
        self._reaper: asyncio.Task[None] | None = None
        self._sink: PrimeSink | None = PrimeSink() if config.pool_prime else None

    @property
    def size(self) -> int:
        return len(self.idle) + len(self.busy) + self.starting

    # -- running a request -------------------------------------------------------------------
    async def run(self, request: ClaudeRequest) -> AsyncGenerator[Message, None]:
        """Run ``request`` on a warm process, or on a process of its own when none fits."""
        if sticky_eligible(request):
            async with aclosing(self._run_sticky(request)) as messages:
                async for message in messages:
                    yield message
            return
        tools = wire_tools(request.tools)
        key = (request.system, request.max_tokens is not None)
        proc = await self._acquire(key, tools) if warm_eligible(request) else None
        if proc is None:
            self.counts["cold"] += 1
            async with aclosing(run_cold(request, self.config)) as messages:
                async for message in messages:
                    yield message
            return
        started = finished = False
        run = Run(self.config, proc.stderr)
        try:
            with run.guard():
                await proc.prepare(request, self.config)
                await proc.client.query(single(proc.prompt(request.prompt or [])))
            async with aclosing(drive(proc.client, run)) as messages:
                async for message in messages:
                    started, finished = True, isinstance(message, ResultMessage)
                    yield proc.own_cost(message)
        except ClaudeOpenAIError as exc:
            if started or exc.code not in CLI_FAILURES or alive(proc.client):
                raise
        finally:
            with anyio.CancelScope(shield=True):
                self._release(proc, finished or await self._abort(proc))
        if not started:  # the process died before answering: once more, on a fresh one
            self.counts["retried"] += 1
            logger.warning("a warm Claude process died; retrying on a fresh one")
            # the request's clocks keep running: its time limits count from its arrival
            async with aclosing(run_cold(request, self.config, run.started)) as messages:
                async for message in messages:
                    yield message

    async def _run_sticky(self, request: ClaudeRequest) -> AsyncGenerator[Message, None]:
        """A later turn: on the process that holds the conversation so far, if one does; else
        on a new process that resumes it and is kept for the turn after."""
        held = fingerprint(request, self.config, request.keys[len(request.history)])
        proc = next((p for p in self.idle if p.held == held and alive(p.client)), None)
        run = Run(self.config, deque())  # its clocks start now, a resume's start-up included
        if proc is not None:
            self.idle.remove(proc)
            self.counts["sticky"] += 1
        elif self.size < self.config.pool_cap or self._evict():
            self.starting += 1
            try:
                with run.guard():  # a failed start maps to its HTTP error
                    proc = await self._connect((request.system, False), resume=request)
            finally:
                self.starting -= 1
            self.counts["sticky_started"] += 1
        else:
            self.counts["cold"] += 1
            async with aclosing(run_cold(request, self.config)) as messages:
                async for message in messages:
                    yield message
            return
        proc.held = proc.held or "(resumed, answering)"  # never a clean spare (see _refill)
        self.busy.add(proc)
        answer = Answer()
        try:
            run.stderr = proc.stderr
            with run.guard():  # its settings are the request's own (see fingerprint)
                await proc.client.query(single(prompt_message(request.prompt or [])))
            async with aclosing(drive(proc.client, run)) as messages:
                async for message in messages:
                    answer.observe(message)
                    yield proc.own_cost(message)  # its session's cost adds up turn by turn
        finally:
            with anyio.CancelScope(shield=True):
                self.busy.discard(proc)
                if answer.reusable and alive(proc.client) and not self._closed:
                    reply = Turn("assistant", [{"type": "text", "text": answer.text}])
                    proc.held = fingerprint(request, self.config,
                                            chain_key(request.conversation, reply))
                    proc.idle_since = time.monotonic()
                    self.idle.append(proc)
                else:
                    if not answer.finished:
                        await interrupt(proc.client)
                    await self._end(proc)

    async def _abort(self, proc: WarmProcess) -> bool:
        """End the reply in flight; True when the process is fit to serve again."""
        if not alive(proc.client) or not await interrupt(proc.client):
            return False
        if proc.guarded or proc.served + 1 >= self.config.pool_max_requests:
            return True  # it retires anyway
        with anyio.move_on_after(2):
            async for _ in proc.client.receive_response():
                pass  # the interrupted turn's own result, or the next request would read it
            return True
        return False

    async def _acquire(self, key: Key, tools: list[Tool]) -> WarmProcess | None:
        self._last_key = key
        self._start_reaper()
        waited = False
        while True:
            fitting = [p for p in self.idle if p.key == key and p.held is None and p.fits(tools)]
            # one that served these tools before, else a clean one (which keeps it for them)
            proc = min(fitting, key=lambda p: not p.tools, default=None)
            if proc is not None:
                self.idle.remove(proc)
                if alive(proc.client):
                    self.busy.add(proc)
                    self.counts["warm"] += 1
                    self._refill()
                    return proc
                self.counts["replaced"] += 1
                self._spawn_task(self._end(proc))
            elif self.starting_keys[key] and not waited:
                # one is on its way: sooner than starting another, unless it is stuck
                with anyio.move_on_after(SPARE_WAIT) as wait:
                    await self._changed.wait()
                waited = wait.cancelled_caught
            else:
                break
        if self.size >= self.config.pool_cap and not self._evict():
            return None
        self.counts["spawned_for_request"] += 1
        proc = await self._start(key, reserve=True)
        if proc is not None:
            self.busy.add(proc)
        self._refill()
        return proc

    def _evict(self) -> bool:
        """Make room by ending the longest-idle process (of another key)."""
        if not self.idle:
            return False
        oldest = min(self.idle, key=lambda p: p.idle_since)
        self.idle.remove(oldest)
        self._spawn_task(self._end(oldest))
        return True

    def _release(self, proc: WarmProcess, healthy: bool) -> None:
        self.busy.discard(proc)
        proc.served += 1
        retire = proc.served >= (1 if proc.guarded else self.config.pool_max_requests)
        if self._closed or not healthy or retire or not alive(proc.client):
            self.counts["retired" if retire and healthy else "replaced"] += 1
            self._spawn_task(self._end(proc))
            self._refill()
            return
        # Counted as a spare on its way while its session is reset: the size stays right, and
        # a request arriving meanwhile waits the few milliseconds for it instead of spawning.
        self._counted(proc.key, spare=1, change=1)
        self._spawn_task(self._reset(proc), delay=0)

    async def _reset(self, proc: WarmProcess) -> None:
        try:
            with anyio.fail_after(10):
                if not await proc.reset():
                    raise RuntimeError("rewind_conversation did not rewind")
        except Exception:
            logger.warning("could not reset a warm Claude process; replacing it", exc_info=True)
            self._counted(proc.key, spare=1, change=-1)
            await self._end(proc)
            self._refill()
            return
        self._counted(proc.key, spare=1, change=-1)
        proc.idle_since = time.monotonic()
        if self._closed:
            await self._end(proc)
        else:
            self.idle.append(proc)
            self._notify()

    # -- spawning and ending -----------------------------------------------------------------
    def _refill(self) -> None:
        """Keep ``pool_spares`` idle processes ready for the key the last request used."""
        key = self._last_key
        returning = [p for p in self.busy if not p.guarded
                     and p.served + 1 < self.config.pool_max_requests]
        # idle, cleared and back in a moment, or on the way: a spare each
        ready = (sum(1 for p in [*self.idle, *returning] if p.key == key and p.held is None)
                 + self.starting_keys[key])
        for _ in range(max(0, min(self.config.pool_spares - ready,
                                  self.config.pool_cap - self.size))):
            self._counted(key, spare=1, change=1)  # now: a request may wait for this spare
            self._spawn_task(self._start(key, counted=True))

    def _counted(self, key: Key, *, spare: int, change: int) -> None:
        self.starting += change
        self.starting_keys[key] += spare * change

    async def _start(self, key: Key, *, reserve: bool = False,
                     counted: bool = False) -> WarmProcess | None:
        """Start a process: handed back when ``reserve``d for a request, else made idle."""
        spare = 0 if reserve else 1  # requests wait only for spares, not for reserved ones
        if not counted:
            self._counted(key, spare=spare, change=1)
        proc: WarmProcess | None = None
        try:
            proc = await self._connect(key, prime=not reserve)
        except Exception:
            logger.warning("could not start a warm Claude process", exc_info=True)
        finally:
            self._counted(key, spare=spare, change=-1)
        if proc is not None:
            self.counts["started"] += 1
            if reserve:
                return proc
            if self._closed:
                await self._end(proc)
            else:
                self.idle.append(proc)
        self._notify()  # after the process is idle: a waiting request finds it
        return None

    def _notify(self) -> None:
        """Wake requests waiting for a process that was starting."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _connect(self, key: Key, *, resume: ClaudeRequest | None = None,
                       prime: bool = False) -> WarmProcess:
        workdir = tempfile.mkdtemp(prefix="claude-openai-")
        tools: list[Tool] = []
        names: set[str] = set()
        stderr: deque[str] = deque(maxlen=20)
        if resume is None:
            options = process_options(key[0], self.config, workdir, tools, names,
                                      stderr=stderr_sink(stderr))
            if not key[1]:
                options = dataclasses.replace(options, max_budget_usd=None)
        else:  # sticky: the request's own settings and turns, no per-session budget guard
            options = agent_options(resume, self.config, workdir, stderr=stderr_sink(stderr))
            options = await with_history(dataclasses.replace(options, max_budget_usd=None),
                                         resume, self.config)
        client = ClaudeSDKClient(options)
        try:
            with anyio.fail_after(60):
                await client.connect()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await close(client, abort=True)
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        proc = WarmProcess(key, client, workdir, tools, names, stderr)
        base_url = options.env.get(BASE_URL) or os.environ.get(BASE_URL)
        if prime and base_url and self._sink is not None and not await self._prime(proc, base_url):
            await self._end(proc)
            return await self._connect(key)
        return proc

    async def _prime(self, proc: WarmProcess, base_url: str) -> bool:
        """Prime ``proc`` (see `WarmProcess.prime`); on any failure priming stops for good."""
        assert self._sink is not None
        try:
            with anyio.fail_after(10):
                if await proc.prime(await self._sink.start(), base_url):
                    self.counts["primed"] += 1
                    return True
            logger.warning("priming a warm Claude process gave an unexpected result; "
                           "warm processes are no longer primed")
        except Exception:
            logger.warning("could not prime a warm Claude process; warm processes are no "
                           "longer primed", exc_info=True)
        await self._sink.close()
        self._sink = None
        return False

    async def _end(self, proc: WarmProcess) -> None:
        with anyio.CancelScope(shield=True):
            await close(proc.client, abort=False)
            shutil.rmtree(proc.workdir, ignore_errors=True)

    def _spawn_task(self, coro: Any, *, delay: float = UPKEEP_DELAY) -> None:
        """Run pool upkeep in the background, by default a moment later: a request that just
        took or released a process gets its first token or its last byte out before a CLI is
        spawned or ended next to it (on 2 cores that work would delay it by milliseconds)."""
        async def later() -> None:
            await asyncio.sleep(delay)
            await coro

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Warm up ``pool_spares`` processes now (the server does this at start)."""
        self._start_reaper()
        self._refill()

    def _start_reaper(self) -> None:
        if self._reaper is None and not self._closed:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(self.config.pool_idle_timeout / 4, 30.0))
            await self.reap()

    async def reap(self) -> None:
        """End processes idle for longer than ``pool_idle_timeout``."""
        now = time.monotonic()
        for proc in [p for p in self.idle if now - p.idle_since > self.config.pool_idle_timeout]:
            self.idle.remove(proc)
            self.counts["expired"] += 1
            await self._end(proc)

    async def close(self) -> None:
        """End every process, busy ones included; wait for them to be gone."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        with anyio.CancelScope(shield=True):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            if self._sink is not None:
                await self._sink.close()
            procs, self.idle = [*self.idle, *self.busy], []
            self.busy.clear()
            for proc in procs:
                with contextlib.suppress(Exception):
                    await close(proc.client, abort=True)
                shutil.rmtree(proc.workdir, ignore_errors=True)

    def state(self) -> dict[str, Any]:
        return {"size": self.config.pool_cap, "idle": len(self.idle), "busy": len(self.busy),
                "starting": self.starting, "counts": dict(self.counts)}
