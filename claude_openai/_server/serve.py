"""uvicorn for `claude-openai serve`, with a graceful shutdown that ends every Claude run.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the requests in
flight.  `GracefulServer` first starts the app's `Drain`: those requests get ``shutdown_grace``
seconds to finish, then each is cut off (its Claude run interrupted, the client told with a 503)
and uvicorn's own wait ends.  Its ``timeout_graceful_shutdown`` stays as a backstop, a few
seconds later.  Then the app's lifespan ends the warm processes.
"""

from __future__ import annotations

import math
import socket
import sys

import uvicorn
from starlette.applications import Starlette

from .._config import Config
from .drain import Drain

BACKSTOP = 5  # seconds after the grace before uvicorn cancels whatever is left
STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.drain.begin()
        await super().shutdown(sockets)


def serve(app: Starlette, config: Config) -> None:
    """Run ``app`` (from `create_app`) until SIGTERM or Ctrl-C; exit 3 if it cannot start."""
    server = GracefulServer(
        uvicorn.Config(app, host=config.host, port=config.port, log_level=config.log_level,
                       timeout_graceful_shutdown=math.ceil(config.shutdown_grace + BACKSTOP)),
        app.state.drain)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
