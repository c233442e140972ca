"""Where warm pools live: one per `Config` per event loop.

This is the package's only module-level state, and it has to be: warm CLI processes are tied to
the event loop that started them and must outlive a single call.  The sync functions therefore
run on one background event loop (a blocking portal in a daemon thread) that lasts as long as
the interpreter, so a script's repeated calls reuse warm processes.  Everything is closed by
`close_pools()`, which also runs at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from contextlib import AbstractContextManager
from typing import Any

import anyio.from_thread
from anyio.from_thread import BlockingPortal

from .._config import Config
from .pool import Pool

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Config, Pool]] = (
    weakref.WeakKeyDictionary())
_portal: tuple[AbstractContextManager[BlockingPortal], BlockingPortal] | None = None
_lock = threading.Lock()


def pool_for(config: Config) -> Pool:
    """The warm pool for ``config`` on the running event loop, created on first use."""
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    if config not in pools:
        pools[config] = Pool(config)
    return pools[config]


def pool_state(config: Config) -> dict[str, Any] | None:
    """The state of ``config``'s pool on the running event loop; None when it has none."""
    pool = _pools.get(asyncio.get_running_loop(), {}).get(config)
    return None if pool is None else pool.state()


async def aclose_pools() -> None:
    """End every warm process started on the running event loop."""
    pools = _pools.pop(asyncio.get_running_loop(), {})
    for pool in pools.values():
        await pool.close()


def portal() -> BlockingPortal:
    """The background event loop the sync functions run on, started on first use."""
    global _portal
    with _lock:
        if _portal is None:
            manager = anyio.from_thread.start_blocking_portal()
            _portal = (manager, manager.__enter__())
        return _portal[1]


def close_pools() -> None:
    """End every warm process the sync functions started, and their background loop.

    Runs at interpreter exit too; call it yourself to end them earlier.
    """
    global _portal
    with _lock:
        running, _portal = _portal, None
    if running is not None:
        manager, blocking = running
        blocking.call(aclose_pools)
        manager.__exit__(None, None, None)


atexit.register(close_pools)
