"""Use Claude Code from anything that speaks the OpenAI API: Chat Completions and Responses."""

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
    ConflictError,
    GatewayTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamAuthError,
    UpstreamError,
)
from ._responses.api import (  # noqa: E402
    acreate_response,
    astream_response,
    create_response,
    delete_response,
    get_response,
    response_input_items,
    stream_response,
)
from ._server.app import create_app, mount  # noqa: E402
from ._server.lifespan import shutdown_grace  # noqa: E402

__all__ = [
    "AuthenticationError",
    "ClaudeOpenAIError",
    "Config",
    "ConflictError",
    "GatewayTimeoutError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UpstreamAuthError",
    "UpstreamError",
    "__version__",
    "achat_completion",
    "aclose_pools",
    "acreate_response",
    "astream_chat_completion",
    "astream_response",
    "chat_completion",
    "close_pools",
    "create_app",
    "create_response",
    "delete_response",
    "get_response",
    "mount",
    "response_input_items",
    "shutdown_grace",
    "stream_chat_completion",
    "stream_response",
]
