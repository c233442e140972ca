"""Errors that carry their HTTP status and OpenAI error body.

ClaudeOpenAIError                500 server_error
├── InvalidRequestError          400 invalid_request_error  (param names the field)
│   └── ModelNotFoundError       404 invalid_request_error  code=model_not_found
├── AuthenticationError          401 authentication_error   missing or wrong API key (ours)
├── ConflictError                409 invalid_request_error  code=workspace_busy (an agent's)
├── PayloadTooLargeError         413 invalid_request_error  body over max_body_bytes
├── RateLimitError               429 rate_limit_error       upstream 429 (Retry-After when known)
├── UpstreamError                502 server_error           any other upstream or CLI failure
│   └── UpstreamAuthError        502 server_error           code=upstream_authentication_failed
├── ServiceUnavailableError      503 server_error           CLI missing, upstream overloaded (529),
│                                                           server shutting down
└── GatewayTimeoutError          504 server_error           timeout, first_token_timeout or
                                                            idle_timeout passed (code names it)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ClaudeOpenAIError(Exception):
    """Base class: an error with an HTTP status and an OpenAI-shaped body."""

    status_code: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(ClaudeOpenAIError):
    status_code = 400
    type = "invalid_request_error"


class ModelNotFoundError(InvalidRequestError):
    status_code = 404


class NotFoundError(InvalidRequestError):
    """What was asked for (a stored Response) does not exist, or no longer."""

    status_code = 404


class ConflictError(ClaudeOpenAIError):
    """The thing asked for is busy (an agent workspace at work on another request)."""

    status_code = 409
    type = "invalid_request_error"


class AuthenticationError(ClaudeOpenAIError):
    status_code = 401
    type = "authentication_error"


class PayloadTooLargeError(ClaudeOpenAIError):
    status_code = 413
    type = "invalid_request_error"


class RateLimitError(ClaudeOpenAIError):
    status_code = 429
    type = "rate_limit_error"


class UpstreamError(ClaudeOpenAIError):
    status_code = 502


class UpstreamAuthError(UpstreamError):
    pass


class ServiceUnavailableError(ClaudeOpenAIError):
    status_code = 503


class GatewayTimeoutError(ClaudeOpenAIError):
    status_code = 504


AUTH_HINT = (
    "The Claude Code CLI could not authenticate with Anthropic. On the server, run "
    "`claude login` (subscription) or set ANTHROPIC_API_KEY, then retry."
)


def upstream_error(
    status: int | None, kind: str | None, detail: str, retry_after: float | None = None
) -> ClaudeOpenAIError:
    """Map an upstream failure (HTTP status and/or the CLI's error kind) to our error."""
    if status in (401, 403) or kind == "authentication_failed":
        return UpstreamAuthError(f"{AUTH_HINT} ({detail})", code="upstream_authentication_failed")
    if status == 429 or kind == "rate_limit":
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else {}
        return RateLimitError(detail, code="rate_limit_exceeded", headers=headers)
    if kind == "billing_error":
        return RateLimitError(detail, code="insufficient_quota")
    if status in (503, 529):
        return ServiceUnavailableError(detail, code="upstream_overloaded")
    if status in (400, 413) or kind == "invalid_request":
        return InvalidRequestError(detail, code="upstream_invalid_request")
    return UpstreamError(detail, code="upstream_error")
