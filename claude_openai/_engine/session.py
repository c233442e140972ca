"""The one module that talks to a Claude Code CLI process: start it, drive a reply, end it.

Every request runs on a `ClaudeSDKClient` (warm from the pool, or spawned for it), never a bare
``query()``: only ``interrupt()`` ends the upstream call at once, where closing a ``query()``
leaves the CLI streaming, and billing, for about 5 s (notes §3.13).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import anyio
from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ClaudeSDKError,
    CLIConnectionError,
    CLINotFoundError,
    InMemorySessionStore,
    Message,
    ProcessError,
    ResultMessage,
    StreamEvent,
    project_key_for_directory,
)

from .._config import Config
from .._exceptions import ServiceUnavailableError, UpstreamError
from .options import agent_options, new_session_id, prompt_message
from .request import ClaudeRequest
from .session_context import session_context
from .timeouts import is_output, next_limit, timeout_error
from .transcript import transcript_entries

logger = logging.getLogger("claude_openai")

INTERRUPT_GRACE = 1.0  # seconds an interrupt may take before the process is killed


@dataclasses.dataclass
class Run:
    """One request's run on one process: its time limits and the CLI's recent stderr."""

    config: Config
    stderr: deque[str]
    started: float = dataclasses.field(default=0.0)
    output_seen: bool = False

    def __post_init__(self) -> None:
        self.started = anyio.current_time()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """The SDK's errors translated, and the run's time limits enforced (see _timeouts)."""
        with sdk_errors(self.stderr, self.config), self._limited():
            yield

    def observe(self, message: Message) -> None:
        self.output_seen = self.output_seen or is_output(message)

    @contextlib.contextmanager
    def _limited(self) -> Iterator[None]:
        now = anyio.current_time()
        limit = next_limit(self.config, self.started, now, self.output_seen)
        try:
            with anyio.fail_after(max(limit.at - now, 0)):
                yield
        except TimeoutError:
            raise timeout_error(limit) from None


async def drive(client: ClaudeSDKClient, run: Run) -> AsyncGenerator[Message, None]:
    """Yield the reply's messages up to the `ResultMessage`.

    A reply cut at ``max_tokens`` is interrupted before the CLI can auto-continue it (notes §3.5);
    the budget guard (``_options.ONE_CALL_BUDGET``) is what makes that certain.
    """
    replies = client.receive_response()
    while True:
        with run.guard():
            message = await anext(replies, None)
            if message is None:
                return
            if _cut_at_max_tokens(message):
                await client.interrupt()
        run.observe(message)
        yield message
        if isinstance(message, ResultMessage):
            return


async def run_cold(request: ClaudeRequest, config: Config,
                   started: float | None = None) -> AsyncGenerator[Message, None]:
    """Run one request on a CLI process of its own, then end the process.

    ``started``: when the request's clocks started (``anyio.current_time()``), if before this.
    """
    run = Run(config, deque(maxlen=20))
    if started is not None:
        run.started = started
    workdir = tempfile.mkdtemp(prefix="claude-openai-")
    client: ClaudeSDKClient | None = None
    finished = False
    try:
        options = agent_options(request, config, workdir, stderr=stderr_sink(run.stderr))
        client = ClaudeSDKClient(await with_history(options, request, config))
        with run.guard():
            await client.connect()
            if request.prompt is not None:  # else the CLI continues after the tool results
                await client.query(single(prompt_message(request.prompt)))
        async with aclosing(drive(client, run)) as messages:
            async for message in messages:
                finished = isinstance(message, ResultMessage)
                yield message
    finally:
        with anyio.CancelScope(shield=True):
            if client is not None:
                await close(client, abort=not finished)
            shutil.rmtree(workdir, ignore_errors=True)


async def with_history(options: ClaudeAgentOptions, request: ClaudeRequest,
                       config: Config) -> ClaudeAgentOptions:
    """Earlier turns go in as a synthetic transcript that the CLI resumes (notes §3.3)."""
    if not request.history:
        return options
    session_id = new_session_id()
    store = InMemorySessionStore()
    cwd = str(options.cwd)
    entries = transcript_entries(request.history, session_id=session_id, cwd=cwd,
                                 model=options.model,
                                 context=await session_context(options.model, config))
    key = {"project_key": project_key_for_directory(cwd), "session_id": session_id}
    await store.append(key, entries)  # type: ignore[arg-type]
    return dataclasses.replace(options, resume=session_id, session_store=store)


async def single(message: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield message


def _cut_at_max_tokens(message: Message) -> bool:
    return (
        isinstance(message, StreamEvent)
        and message.event.get("type") == "message_delta"
        and (message.event.get("delta") or {}).get("stop_reason") == "max_tokens"
    )


async def interrupt(client: ClaudeSDKClient) -> bool:
    """Stop the reply in flight; True when the CLI acknowledged in time (it stays usable)."""
    with anyio.move_on_after(INTERRUPT_GRACE), contextlib.suppress(Exception):
        await client.interrupt()
        return True
    return False


async def close(client: ClaudeSDKClient, *, abort: bool) -> None:
    """End the process: interrupted first when a reply may be in flight, killed if need be."""
    if abort and not await interrupt(client):
        kill(client)
    with contextlib.suppress(Exception):
        await client.disconnect()


def kill(client: ClaudeSDKClient) -> None:
    process = getattr(getattr(client, "_transport", None), "_process", None)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def alive(client: ClaudeSDKClient) -> bool:
    process = getattr(getattr(client, "_transport", None), "_process", None)
    return process is not None and process.returncode is None


def stderr_sink(lines: deque[str]) -> Any:
    def sink(line: str) -> None:
        lines.append(line)
        logger.debug("claude: %s", line)

    return sink


@contextlib.contextmanager
def sdk_errors(stderr: deque[str], config: Config) -> Iterator[None]:
    """Translate the SDK's exceptions, in this one place."""
    try:
        yield
    except CLINotFoundError as exc:
        where = config.cli_path or "the claude-agent-sdk package (bundled CLI)"
        raise ServiceUnavailableError(
            f"The Claude Code CLI was not found in {where}. Reinstall claude-agent-sdk, or "
            "point --cli-path / CLAUDE_OPENAI_CLI_PATH at a `claude` binary.",
            code="cli_not_found",
        ) from exc
    except CLIConnectionError as exc:
        raise ServiceUnavailableError(f"Could not start the Claude Code CLI: {exc}",
                                      code="cli_unavailable") from exc
    except ProcessError as exc:
        tail = " | ".join(stderr) or str(exc)
        raise UpstreamError(f"The Claude Code CLI failed: {tail}", code="cli_error") from exc
    except ClaudeSDKError as exc:
        raise UpstreamError(f"The Claude Code CLI failed: {exc}", code="cli_error") from exc
