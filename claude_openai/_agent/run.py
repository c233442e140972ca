"""One agent request's run: the workspace's turn taken, the conversation's session continued
(or rebuilt, or begun), the CLI driven under the request's limits, the new session kept for the
next turn, and an audit line left.

Each run has a config directory of its own (``CLAUDE_CONFIG_DIR``, with the caller's login
copied as the SDK does for resumed sessions): the CLI writes its session there, never in the
operator's ``~/.claude``, and the session is then moved to the ledger's directory.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from claude_agent_sdk import ClaudeSDKClient, ResultMessage, project_key_for_directory

from .._config import Config
from .._engine.options import new_session_id, prompt_message
from .._engine.request import ClaudeRequest
from .._engine.session import close, sdk_errors, single, stderr_sink
from .._engine.transcript import transcript_entries
from .._exceptions import GatewayTimeoutError
from .answer import AgentAnswer, TimeLimit
from .gate import workspace_turn
from .job import REBUILT_NOTE, AgentJob
from .ledger import Ledger, conversation_key, ledger_for
from .options import agent_options

if TYPE_CHECKING:
    from .._engine.run import Builder

logger = logging.getLogger("claude_openai")
try:  # how the SDK seeds a resumed session's config directory with the caller's login
    from claude_agent_sdk._internal.session_resume import _copy_auth_files
except ImportError:  # pragma: no cover - a later SDK moved it: API-key logins still work
    def _copy_auth_files(tmp_base: Path, opt_env: dict[str, str]) -> None:
        logger.warning("claude-agent-sdk has no _copy_auth_files: agents run without the "
                       "CLI's stored login (ANTHROPIC_API_KEY and the like still apply)")

START_LIMIT = 60.0  # seconds the CLI may take to start and take the prompt


async def run_agent(request: ClaudeRequest, config: Config,
                    builder: Builder) -> AsyncGenerator[dict[str, Any], None]:
    """Run an agent request; feed ``builder``; yield its chunks."""
    job: AgentJob = request.agent
    answer = builder.answer
    assert isinstance(answer, AgentAnswer)
    async with workspace_turn(job.target.workspace, config, *job.held[:1]):
        async with aclosing(_run(request, job, config, builder, answer)) as chunks:
            async for chunk in chunks:
                yield chunk


async def _run(request: ClaudeRequest, job: AgentJob, config: Config, builder: Builder,
               answer: AgentAnswer) -> AsyncGenerator[dict[str, Any], None]:
    workspace = job.target.workspace
    ledger = ledger_for(config)
    base = Path(tempfile.mkdtemp(prefix="claude-openai-agent-"))
    config_dir, workdir = base / "config", base / "tmp"
    workdir.mkdir()
    config_dir.mkdir()
    stderr: deque[str] = deque(maxlen=20)
    client: ClaudeSDKClient | None = None
    finished = False
    outcome = "failed"
    try:
        _copy_auth_files(config_dir, {})
        projects = config_dir / "projects" / project_key_for_directory(workspace.path)
        projects.mkdir(parents=True)
        resume = _place_session(job, request, ledger.path(job.session) if job.session else None,
                                projects, workspace.path)
        rebuilt = resume is not None and resume != job.session  # a pruned hit is rebuilt too
        options = agent_options(request, workspace, config, workdir=str(workdir),
                                config_dir=str(config_dir), resume=resume,
                                note=REBUILT_NOTE if rebuilt else None,
                                stderr=stderr_sink(stderr))
        client = ClaudeSDKClient(options)
        try:
            with sdk_errors(stderr, config), anyio.fail_after(START_LIMIT):
                await client.connect()
                await client.query(single(prompt_message(request.prompt or [])))
        except TimeoutError:
            raise GatewayTimeoutError(f"The Claude Code CLI did not start within {START_LIMIT:g}"
                                      " s.", code="cli_start_timeout") from None
        deadline = anyio.current_time() + config.agent_timeout
        async with aclosing(_messages(client, stderr, config, deadline)) as messages:
            async for message in messages:
                if isinstance(message, TimeLimit):  # interrupted: the CLI sends no result
                    await close(client, abort=True)
                    client = None
                for chunk in builder.feed(message):
                    yield chunk
                finished = isinstance(message, ResultMessage)
        if answer.result is None and answer.notes.limit is None:
            raise answer.incomplete_error()
        if client is not None:
            await close(client, abort=not finished)
            client = None
        # a run stopped at the time limit has no result; its session is on disk all the same
        session = answer.result.session_id if answer.result is not None else answer.session_id
        _keep(job, answer, ledger, projects, session, request.system)
        outcome = "limit" if answer.notes.limit else "ok"
    except BaseException as exc:
        if isinstance(exc, anyio.get_cancelled_exc_class() | GeneratorExit):
            outcome = "cancelled"
        raise
    finally:
        audit(job, answer, outcome)
        with anyio.CancelScope(shield=True):
            if client is not None:
                await close(client, abort=not finished)
            shutil.rmtree(base, ignore_errors=True)


async def _messages(client: ClaudeSDKClient, stderr: deque[str], config: Config,
                    deadline: float) -> AsyncGenerator[Any, None]:
    """The run's messages up to its result, or a `TimeLimit` when ``deadline`` comes first.

    Each wait has a scope of its own: the sync functions' streams resume this generator from
    a new task at every step, so no cancel scope may stay open across a ``yield``."""
    replies = client.receive_response()
    while True:
        message: Any = TimeLimit()
        with anyio.move_on_after(max(deadline - anyio.current_time(), 0)), \
                sdk_errors(stderr, config):
            message = await anext(replies, None)
        if message is None:
            return
        yield message
        if isinstance(message, ResultMessage | TimeLimit):
            return


def _place_session(job: AgentJob, request: ClaudeRequest, kept: Path | None, projects: Path,
                   cwd: str) -> str | None:
    """Put the session to continue where the CLI looks for it; its id (None: a new one)."""
    if kept is not None and kept.is_file():
        assert job.session is not None
        shutil.copyfile(kept, projects / f"{job.session}.jsonl")
        return job.session
    if not request.history:
        return None
    session_id = new_session_id()
    entries = transcript_entries(request.history, session_id=session_id, cwd=cwd,
                                 model=request.model)
    with open(projects / f"{session_id}.jsonl", "w") as file:
        for entry in entries:
            file.write(json.dumps(entry) + "\n")
    return session_id


def _keep(job: AgentJob, answer: AgentAnswer, ledger: Ledger, projects: Path,
          session: str | None, system: str | None) -> None:
    """Remember the conversation as the client will send it back → the session it made."""
    if session is None:
        return
    transcript = projects / f"{session}.jsonl"
    if not transcript.is_file():
        logger.warning("agent session %s left no transcript; the next turn is rebuilt", session)
        return
    turns = [*job.turns, ("assistant", [{"type": "text", "text": "".join(answer.text)}])]
    ledger.keep(conversation_key(job.scope, system, turns), session, transcript,
                parent=job.session)


def audit(job: AgentJob, answer: AgentAnswer, outcome: str) -> None:
    """The request's audit line: who, where, what ran, what was refused, what changed, cost;
    ``outcome``: ok, limit (stopped at a limit), failed or cancelled (the client left)."""
    workspace, result = job.target.workspace, answer.result
    logger.info("agent %s", json.dumps({
        "key": job.principal, "workspace": workspace.name,
        "preset": workspace.preset, "session": job.path, "outcome": outcome,
        "tools": [s.label(workspace.path) for s in answer.steps.values()],
        "denied": [s.label(workspace.path) for s in answer.notes.denied],
        "files_changed": answer.notes.files, "limit": answer.notes.limit,
        "turns": result.num_turns if result is not None else None,
        "cost_usd": round(answer.cost, 6),
    }, ensure_ascii=False))
