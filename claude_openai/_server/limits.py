"""Bounded load: at most ``max_concurrent`` Claude runs, a bounded queue, then a 429."""

from __future__ import annotations

import math

import anyio

from .._config import Config
from .._exceptions import RateLimitError


class Limiter:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.slots = anyio.Semaphore(config.max_concurrent)
        self.waiting = 0

    @property
    def running(self) -> int:
        return self.config.max_concurrent - self.slots.value

    def _busy(self, why: str) -> RateLimitError:
        retry = max(1, math.ceil(self.config.queue_timeout / 4))
        return RateLimitError(f"The server is busy ({why}); retry in a few seconds.",
                              code="server_busy", headers={"Retry-After": str(retry)})

    async def acquire(self) -> None:
        """Wait for a run slot, or raise a 429 when the queue is full or the wait too long."""
        if self.slots.value == 0 and self.waiting >= self.config.max_queue:
            raise self._busy("the queue is full")
        self.waiting += 1
        try:
            with anyio.move_on_after(self.config.queue_timeout):
                await self.slots.acquire()
                return
        finally:
            self.waiting -= 1
        raise self._busy(f"no run slot within {self.config.queue_timeout:g} s")

    def release(self) -> None:
        self.slots.release()

    def state(self) -> dict[str, int]:
        return {"running": self.running, "waiting": self.waiting,
                "max_concurrent": self.config.max_concurrent, "max_queue": self.config.max_queue}
