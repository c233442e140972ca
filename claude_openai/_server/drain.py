"""Graceful shutdown: in-flight requests get ``shutdown_grace`` seconds, then are cut off.

Each request's work runs in a cancel scope of the app's `Drain`.  `begin()`, called once the
server has stopped accepting connections (``_server.GracefulServer``), gives every such scope
the end of the grace as its deadline.  A request cut off that way ends its Claude run the way a
client disconnect does, and answers 503 ``server_shutting_down`` (in band if it is a stream).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import anyio

from .._exceptions import ServiceUnavailableError


def shutting_down() -> ServiceUnavailableError:
    return ServiceUnavailableError(
        "The server is shutting down and ended this request before it finished; retry it.",
        code="server_shutting_down")


class Drain:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.cut_at: float | None = None  # when the grace ends, once shutdown has begun
        self._scopes: set[anyio.CancelScope] = set()

    def begin(self) -> None:
        """Start the grace period; call it on the event loop."""
        if self.cut_at is None:
            self.cut_at = anyio.current_time() + self.grace
        for scope in self._scopes:
            scope.deadline = min(scope.deadline, self.cut_at)

    def expired(self) -> bool:
        """The grace is over: a request cancelled now was cut off by the shutdown."""
        return self.cut_at is not None and anyio.current_time() >= self.cut_at

    @contextlib.contextmanager
    def scope(self) -> Iterator[anyio.CancelScope]:
        """A cancel scope the end of the grace cancels: check its ``cancelled_caught``."""
        scope = anyio.CancelScope(deadline=math.inf if self.cut_at is None else self.cut_at)
        self._scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    @contextlib.contextmanager
    def cut_off(self) -> Iterator[None]:
        """Run the body, or raise a 503 ``server_shutting_down`` if the grace ends first."""
        with self.scope() as scope:
            yield
        if scope.cancelled_caught:
            raise shutting_down()
