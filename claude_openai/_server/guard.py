"""The front door of the HTTP surface: request ids, API keys and the body-size limit.

An ASGI wrapper, so it guards the routes wherever they are served: `create_app()` or `mount()`
inside someone else's app.  Its own refusals are OpenAI-shaped, like every other error.  A
request with a valid key carries its `Principal` (the key's id and the agent workspaces it may
use) in ``scope["state"]["principal"]``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._agent.access import ApiKey, api_keys, matching_key
from .._agent.request import Principal
from .._config import Config
from .._exceptions import AuthenticationError, ClaudeOpenAIError, PayloadTooLargeError
from .metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
OPEN_PATHS = ("/health",)  # probes need no key; they reveal no data and never call the model


def load_keys(config: Config) -> list[str]:
    """The API keys from ``api_key`` (comma-separated) and ``api_key_file`` (one per line,
    perhaps followed by the agent workspaces it may use: see ``_agent.access``)."""
    return [key.secret for key in api_keys(config)]


def key_matches(given: str, keys: list[str]) -> bool:
    """Constant time: every key is compared, whichever matches (see `matching_key`)."""
    return matching_key(given, [ApiKey(key) for key in keys]) is not None


class Guard:
    def __init__(self, app: ASGIApp, config: Config, metrics: Metrics | None = None) -> None:
        self.app = app
        self.keys: list[ApiKey] = api_keys(config)
        self.max_body = config.max_body_bytes
        self.metrics = metrics  # counts the refusals, when the app serves /metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id
        send = _with_request_id(send, request_id)
        refusal = self._refusal(scope, headers, scope["state"])
        if refusal is not None:
            if self.metrics is not None:
                self.metrics.refuse(refusal.status_code)
            await _send_error(send, refusal)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str],
                 state: dict[str, object]) -> ClaudeOpenAIError | None:
        if self.keys and not str(scope.get("path", "")).endswith(OPEN_PATHS):
            scheme, _, token = headers.get("authorization", "").partition(" ")
            key = matching_key(token.strip(), self.keys) if scheme.lower() == "bearer" else None
            if key is None:
                return AuthenticationError(
                    "Missing or invalid API key: send 'Authorization: Bearer <key>'.",
                    code="invalid_api_key")
            state["principal"] = Principal(key.id, key.workspaces)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return PayloadTooLargeError(
                f"The request body is larger than the limit of {self.max_body} bytes.",
                code="request_too_large")
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _with_request_id(send: Send, request_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
            message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
        await send(message)

    return sending


async def _send_error(send: Send, error: ClaudeOpenAIError) -> None:
    body = json.dumps(error.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(error, AuthenticationError):
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
