"""`Observer`: what happens when a chat request ends: its log line, its metrics, its transcript.

The server's observer does all three; the library functions' does only the transcript (when
``Config.transcripts_dir`` is set), so a script gets the same record as the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from .._config import Config
from .drain import Drain, shutting_down
from .metrics import Metrics
from .trace import CLIENT_GONE, Trace, status_of
from .transcript_files import save

logger = logging.getLogger("claude_openai")


class Observer:
    def __init__(self, config: Config, *, metrics: Metrics | None = None,
                 log: bool = False) -> None:
        self.config = config
        self.metrics = metrics
        self.log = log

    def end(self, trace: Trace, status: int, exc: BaseException | None = None) -> bool:
        """Log and count the request; False (and nothing done) when it had already ended."""
        if not trace.end(status, exc):
            return False
        if self.log:
            log(trace)
        if self.metrics is not None:
            self.metrics.observe(trace)
        return True

    async def save(self, trace: Trace) -> None:
        """Write its transcript, when transcripts are on."""
        await save(self.config.transcripts_dir, trace,
                   max_age=self.config.transcripts_max_age,
                   max_files=self.config.transcripts_max_files)

    async def finish(self, trace: Trace, status: int, exc: BaseException | None = None) -> None:
        if self.end(trace, status, exc):
            await self.save(trace)

    async def fail(self, trace: Trace, exc: BaseException) -> None:
        """End the request with the status ``exc`` gives it (499 for a cancellation)."""
        await self.finish(trace, status_of(exc), exc)

    async def watch(
        self, trace: Trace, chunks: AsyncGenerator[dict[str, Any], None],
        drain: Drain | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Pass ``chunks`` through, noting the first token; the request ends with the stream.

        A stream cancelled once ``drain``'s grace is over was cut by the shutdown: it ends with
        the 503 its client is sent in band, not as a client that went away (499).
        """
        try:
            async with aclosing(chunks) as inner:
                async for chunk in inner:
                    trace.saw((chunk,))
                    trace.chunks += 1
                    yield chunk
        except BaseException as exc:  # GeneratorExit or a cancellation: the consumer left
            cut = drain is not None and drain.expired() and status_of(exc) == CLIENT_GONE
            await self.fail(trace, shutting_down() if cut else exc)
            raise
        await self.finish(trace, 200)


def log(trace: Trace) -> None:
    """The request's one line: ids, model, outcome, timings, tokens and cost; no content."""
    usage = trace.usage
    logger.info(
        "%s request_id=%s model=%s status=%d latency=%.4fs ttft=%s stream=%s prompt_tokens=%s "
        "completion_tokens=%s cost_usd=%s",
        trace.id, trace.request_id or "-", trace.model or "-", trace.status or 0,
        trace.latency or 0.0, _seconds(trace.first_token), str(trace.stream).lower(),
        "-" if usage is None else usage.prompt_tokens,
        "-" if usage is None else usage.output_tokens,
        "-" if trace.cost_usd is None else f"{trace.cost_usd:.6f}",
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}s"
