"""Use Claude Code from anything that speaks the OpenAI Chat Completions API."""

from __future__ import annotations

__version__ = "0.1.0"

from ._chat.api import (  # noqa: E402
    achat_completion,
    astream_chat_completion,
    chat_completion,
    stream_chat_completion,
)
from ._config import Config  # noqa: E402
from ._engine.runtime import aclose_pools, close_pools  # noqa: E402
from ._exceptions import (  # noqa: E402
    AuthenticationError,
    ClaudeOpenAIError,
    GatewayTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamAuthError,
    UpstreamError,
)
from ._server.app import create_app, mount  # noqa: E402
from ._server.lifespan import shutdown_grace  # noqa: E402

__all__ = [
    "AuthenticationError",
    "ClaudeOpenAIError",
    "Config",
    "GatewayTimeoutError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UpstreamAuthError",
    "UpstreamError",
    "__version__",
    "achat_completion",
    "aclose_pools",
    "astream_chat_completion",
    "chat_completion",
    "close_pools",
    "create_app",
    "mount",
    "shutdown_grace",
    "stream_chat_completion",
]
