"""The one module that runs the Claude Code CLI: a `ClaudeSDKClient` per request.

A client (not a bare ``query()``) because only ``interrupt()`` ends the upstream call at once:
closing a ``query()`` leaves the CLI streaming, and billing, for about 5 s (notes §3.13).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
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

from ._config import Config
from ._exceptions import GatewayTimeoutError, ServiceUnavailableError, UpstreamError
from ._options import agent_options, new_session_id, prompt_message
from ._request import ChatRequest
from ._transcript import transcript_entries

logger = logging.getLogger("claude_openai")

INTERRUPT_GRACE = 1.0  # seconds an interrupt may take before the process is killed


async def run_claude(request: ChatRequest, config: Config) -> AsyncGenerator[Message, None]:
    """Run one request on a fresh CLI process; yield its messages up to the `ResultMessage`.

    Closing the generator early (client gone, timeout, error) interrupts the upstream call
    and ends the process.  A reply cut at ``max_tokens`` is interrupted before the CLI can
    auto-continue it (notes §3.5), so it costs exactly one upstream call.
    """
    deadline = anyio.current_time() + config.timeout
    stderr: deque[str] = deque(maxlen=20)
    workdir = tempfile.mkdtemp(prefix="claude-openai-")
    client: ClaudeSDKClient | None = None
    finished = False
    try:
        options = agent_options(request, config, workdir, stderr=_stderr_sink(stderr))
        options = await _with_history(options, request, workdir)
        client = ClaudeSDKClient(options)
        with _sdk_errors(stderr, config), _deadline(deadline, config):
            await client.connect()
            if request.prompt is not None:  # else the CLI continues after the tool results
                await client.query(_single(prompt_message(request.prompt)))
        replies = client.receive_response()
        while not finished:
            with _sdk_errors(stderr, config), _deadline(deadline, config):
                message = await anext(replies, None)
                if message is None:
                    return
                if _cut_at_max_tokens(message):
                    await client.interrupt()
            finished = isinstance(message, ResultMessage)
            yield message
    finally:
        with anyio.CancelScope(shield=True):
            if client is not None:
                await _close(client, abort=not finished)
            shutil.rmtree(workdir, ignore_errors=True)


async def _with_history(
    options: ClaudeAgentOptions, request: ChatRequest, workdir: str
) -> ClaudeAgentOptions:
    """Earlier turns go in as a synthetic transcript that the CLI resumes (notes §3.3)."""
    if not request.history:
        return options
    session_id = new_session_id()
    store = InMemorySessionStore()
    entries = transcript_entries(request.history, session_id=session_id, cwd=workdir,
                                 model=options.model)
    key = {"project_key": project_key_for_directory(workdir), "session_id": session_id}
    await store.append(key, entries)  # type: ignore[arg-type]
    return dataclasses.replace(options, resume=session_id, session_store=store)


async def _single(message: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield message


def _cut_at_max_tokens(message: Message) -> bool:
    return (
        isinstance(message, StreamEvent)
        and message.event.get("type") == "message_delta"
        and (message.event.get("delta") or {}).get("stop_reason") == "max_tokens"
    )


async def _close(client: ClaudeSDKClient, *, abort: bool) -> None:
    if abort:
        interrupted = False
        with anyio.move_on_after(INTERRUPT_GRACE), contextlib.suppress(Exception):
            await client.interrupt()
            interrupted = True
        if not interrupted:
            _kill(client)
    with contextlib.suppress(Exception):
        await client.disconnect()


def _kill(client: ClaudeSDKClient) -> None:
    process = getattr(getattr(client, "_transport", None), "_process", None)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _stderr_sink(lines: deque[str]) -> Any:
    def sink(line: str) -> None:
        lines.append(line)
        logger.debug("claude: %s", line)

    return sink


@contextlib.contextmanager
def _deadline(deadline: float, config: Config) -> Iterator[None]:
    try:
        with anyio.fail_after(max(deadline - anyio.current_time(), 0)):
            yield
    except TimeoutError:
        raise GatewayTimeoutError(
            f"The request took longer than the configured timeout of {config.timeout:g} s.",
            code="timeout",
        ) from None


@contextlib.contextmanager
def _sdk_errors(stderr: deque[str], config: Config) -> Iterator[None]:
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
