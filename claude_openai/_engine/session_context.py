"""The context Claude Code records after a conversation's first prompt, learned from the CLI.

A live session records, after its first user message, attachments describing the environment
(working directory, platform, shell, OS) and the model (its id, marketing name and knowledge
cutoff), and renders them as a ``system`` message there on every later request.  A history
rebuilt without them gets that text announced after its newest message instead, so the
request differs from the live session's from ``messages[1]`` on, and the prompt cache written
by the turn before cannot be read.

Only the CLI knows these values (the model's name and cutoff come from its own tables), and it
reports them nowhere but in its session file.  So once per model the CLI is run with a session
file on, pointed at a closed port on 127.0.0.1 so that no request leaves the machine: it
records the context, fails to reach the API at once, and the file is read and deleted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio
from claude_agent_sdk import ClaudeSDKClient, SystemMessage

from .._config import Config
from .options import agent_options
from .request import plain_request

logger = logging.getLogger("claude_openai")

CONTEXT_TYPES = ("environment", "model", "session_context")
PROBE_TIMEOUT = 15.0  # seconds; the probe usually takes well under one
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused

_known: dict[tuple[str | None, str | None], list[dict[str, Any]] | None] = {}
_locks: dict[tuple[str | None, str | None], anyio.Lock] = {}


async def session_context(model: str | None, config: Config) -> list[dict[str, Any]] | None:
    """The CLI's context attachments for a session on ``model``, learned once per model; None
    when they could not be learned (a rebuilt history then goes without them)."""
    key = (model, config.cli_path)
    if key in _known:
        return _known[key]
    lock = _locks.setdefault(key, anyio.Lock())
    async with lock:
        if key not in _known:
            try:
                with anyio.fail_after(PROBE_TIMEOUT):
                    _known[key] = await _probe(model, config)
            except Exception as exc:  # never fails a request: it only costs the cache
                logger.debug("could not learn Claude Code's session context: %s", exc)
                _known[key] = None
    return _known[key]


async def _probe(model: str | None, config: Config) -> list[dict[str, Any]] | None:
    tmp = tempfile.mkdtemp(prefix="claude-openai-probe-")
    options = agent_options(plain_request(None), config, tmp)
    options = dataclasses.replace(
        options, model=model, extra_args={}, max_budget_usd=None,  # a session file, this once
        env={**options.env, "ANTHROPIC_BASE_URL": NOWHERE, "CLAUDE_CODE_MAX_RETRIES": "0",
             # and, should any login ignore the base URL, every connection through a proxy
             # that is not there either
             "HTTPS_PROXY": NOWHERE, "HTTP_PROXY": NOWHERE, "NO_PROXY": ""})
    session_id: str | None = None
    try:
        async with ClaudeSDKClient(options) as client:
            await client.query(".")
            async for message in client.receive_response():
                if isinstance(message, SystemMessage) and message.subtype == "init":
                    session_id = str(message.data.get("session_id") or "") or None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if session_id is None:
        return None
    return _read_and_delete(session_id, options.env.get("CLAUDE_CONFIG_DIR"))


def _read_and_delete(session_id: str, config_dir: str | None) -> list[dict[str, Any]] | None:
    home = Path(config_dir or os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    found: list[dict[str, Any]] = []
    for path in (home / "projects").glob(f"*/{session_id}.jsonl"):
        try:
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                attachment = entry.get("attachment") if isinstance(entry, dict) else None
                if isinstance(attachment, dict) and attachment.get("type") in CONTEXT_TYPES:
                    found.append(attachment)
        finally:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when empty: the probe's own project folder
    kinds = [a["type"] for a in found]
    return found if "environment" in kinds and "model" in kinds else None
