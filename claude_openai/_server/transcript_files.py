"""Transcripts (opt in, ``Config.transcripts_dir``): one JSON file per chat request.

Not to be confused with `_transcript`, which builds the synthetic session the CLI resumes.
A file holds the request body (never its headers, so never an API key), what the client got,
the status, the error, the timings and the ids.  Files are written by a worker thread, readable
by the server's user only (0600), and appear whole (written aside, then renamed).  Retention
(``transcripts_max_age``, ``transcripts_max_files``) deletes the oldest, at most once a minute.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio

from .trace import Trace

logger = logging.getLogger("claude_openai")

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_OURS = re.compile(r"^\d{8}T\d{6}\.\d{6}Z_[A-Za-z0-9_-]+\.json$")  # see file_name
PRUNE_EVERY = 60.0  # seconds between two retention passes over a directory
_pruned: dict[str, float] = {}  # directory -> when its last retention pass ran


def transcript(trace: Trace) -> dict[str, Any]:
    """PURE: the file's content."""
    record: dict[str, Any] = {
        "id": trace.id,
        "request_id": trace.request_id,
        "model": trace.model,
        "stream": trace.stream,
        "status": trace.status,
        "error": trace.error,
        "timings": {
            "started": _iso(trace.started_at),
            "time_to_first_token": trace.first_token,
            "total": trace.latency,
        },
        "cost_usd": trace.cost_usd,
        "request": trace.body,
        "response": _response(trace),
    }
    if trace.stream:
        record["chunks"] = trace.chunks
    return record


def _response(trace: Trace) -> dict[str, Any] | None:
    """Non-streamed: the answer sent.  Streamed: what the chunks sent add up to."""
    builder = trace.builder
    if builder is None or (trace.stream and not trace.chunks):
        return None
    if not trace.stream:
        return builder.final() if trace.status == 200 else None
    return builder.final(cut_short=trace.status != 200)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat().replace("+00:00", "Z")


def file_name(trace: Trace) -> str:
    """Sortable by time; the request id (made safe for a file name) and the completion id."""
    stamp = datetime.fromtimestamp(trace.started_at, timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    parts = [stamp, _UNSAFE.sub("_", trace.request_id or "").strip("_")[:64], trace.id]
    return "_".join(p for p in parts if p) + ".json"


def write(directory: str, trace: Trace) -> Path:
    """Write the trace's transcript into ``directory`` (created, 0700, if missing)."""
    folder = Path(directory)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / file_name(trace)
    data = json.dumps(transcript(trace), ensure_ascii=False, indent=1, default=str).encode()
    partial = path.with_name("." + path.name + ".part")
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    return path


def prune(directory: str, *, max_age: float, max_files: int, now: float) -> int:
    """Delete the transcripts older than ``max_age`` seconds, then the oldest beyond
    ``max_files`` (0: no limit for either); other files are never touched.  Returns how many
    went."""
    folder = Path(directory)
    names = sorted(p.name for p in folder.iterdir() if _OURS.match(p.name))  # oldest first
    gone = []
    if max_age > 0:
        for name in names:
            with contextlib.suppress(OSError):
                if now - (folder / name).stat().st_mtime > max_age:
                    gone.append(name)
    kept = [n for n in names if n not in set(gone)]
    if max_files > 0 and len(kept) > max_files:
        gone += kept[:len(kept) - max_files]
    for name in gone:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    return len(gone)


def write_and_prune(directory: str, trace: Trace, max_age: float, max_files: int) -> Path:
    """`write`, then `prune` at most every ``PRUNE_EVERY`` seconds per directory."""
    path = write(directory, trace)
    now = time.time()
    if now - _pruned.get(directory, -math.inf) >= PRUNE_EVERY:
        _pruned[directory] = now
        prune(directory, max_age=max_age, max_files=max_files, now=now)
    return path


async def save(directory: str | None, trace: Trace, *, max_age: float = 0.0,
               max_files: int = 0) -> None:
    """Write the transcript in a worker thread, when transcripts are on, and apply the
    retention (``max_age`` seconds, ``max_files``; 0: none); never raises."""
    if not directory:
        return
    try:
        with anyio.CancelScope(shield=True):  # a request that ended by cancellation is saved too
            await anyio.to_thread.run_sync(write_and_prune, directory, trace, max_age,
                                           max_files)
    except Exception as exc:  # the answer is out already: a full disk must not turn it into a 500
        logger.warning("could not write the transcript of %s: %s", trace.id, exc)
