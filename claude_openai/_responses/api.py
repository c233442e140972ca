"""The Responses API functions: create (whole or streamed) with their sync twins, and the
stored responses' retrieve, delete and input items."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any

from .._agent.request import attach
from .._calls import call, iterate_in_portal, refuse_inside_event_loop, stream
from .._config import Config
from .._engine.request import ClaudeRequest
from .._engine.run import Builder
from .._engine.runtime import portal
from .._exceptions import ClaudeOpenAIError
from .._server.sse import encode_event
from .._server.trace import Trace
from .events import ResponsesBuilder, new_id
from .request import ResponsesRequest, parse_responses
from .store import missing, response_store

DEFAULTS: dict[str, Any] = {
    "instructions": None, "max_output_tokens": None, "metadata": {},
    "parallel_tool_calls": True, "previous_response_id": None, "reasoning": None,
    "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
    "tools": [], "top_p": 1.0, "truncation": "disabled", "user": None,
}


def echo(body: dict[str, Any], store: bool) -> dict[str, Any]:
    """The request fields a Response repeats back, with OpenAI's defaults."""
    fields = {k: body[k] if body.get(k) is not None else v for k, v in DEFAULTS.items()}
    return {**fields, "store": store, "service_tier": "default"}


class ResponsesFrontEnd:
    """The Responses API as a `FrontEnd` (see ``_calls``)."""

    def prepare(self, body: Any, config: Config, trace: Trace, *,
                stream: bool) -> tuple[ClaudeRequest, ResponsesBuilder]:
        store = response_store(config)
        request = parse_responses(body, config, store.conversation if store else None,
                                  principal=trace.principal)
        trace.stream = stream
        trace.id = new_id("resp")
        trace.builder = builder = ResponsesBuilder(
            model=request.claude.model or config.model, tools=request.claude.tools,
            id=trace.id, reasoning=config.reasoning != "off", summary=request.show_summary,
            include_thinking=request.include_thinking, echo=echo(body, request.store),
            on_complete=partial(_keep, config, request))
        attach(builder, request.claude, config, body, trace.headers)
        return request.claude, builder

    def framing(self, builder: Builder) -> ResponsesFraming:
        assert isinstance(builder, ResponsesBuilder)
        return ResponsesFraming(builder)


class ResponsesFraming:
    """Responses events on the wire: an ``event:`` line naming each event's type, nothing
    after the last one, and ``response.failed`` when the run fails after the stream began."""

    done = b""

    def __init__(self, builder: ResponsesBuilder) -> None:
        self.builder = builder

    def encode(self, chunk: dict[str, Any]) -> bytes:
        return f"event: {chunk['type']}\n".encode() + encode_event(chunk)

    def failure(self, error: ClaudeOpenAIError) -> list[dict[str, Any]]:
        return self.builder.failed(error)


def _keep(config: Config, request: ResponsesRequest, response: dict[str, Any]) -> None:
    store = response_store(config)
    if request.store and store is not None:
        store.put(response, request.items, request.previous_response_id)


RESPONSES = ResponsesFrontEnd()


async def acreate_response(
    request: Mapping[str, Any], *, config: Config | None = None
) -> dict[str, Any]:
    """Answer an OpenAI Responses API request with Claude; returns the Response object.

    Args:
        request: the JSON body a client would post to ``/v1/responses``.
        config: settings; defaults to ``Config()``.  A response is stored (``store``, the
            default) in this process's memory, for ``previous_response_id`` and
            `get_response`.

    Raises:
        ClaudeOpenAIError: a subclass carrying the HTTP status and OpenAI error body.

    Example:
        >>> await acreate_response({"model": "sonnet", "input": "Hi"})
    """
    return await call(RESPONSES, request, config)


async def astream_response(
    request: Mapping[str, Any], *, config: Config | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """Like `acreate_response`, but yields the stream's events (``response.created`` ...
    ``response.completed``) as tokens arrive.  Close it early and the run is interrupted."""
    async with aclosing(stream(RESPONSES, request, config)) as events:
        async for event in events:
            yield event


def create_response(request: Mapping[str, Any], *,
                    config: Config | None = None) -> dict[str, Any]:
    """Sync twin of `acreate_response`, for plain scripts."""
    refuse_inside_event_loop("create_response")
    result: dict[str, Any] = portal().call(partial(acreate_response, request, config=config))
    return result


def stream_response(
    request: Mapping[str, Any], *, config: Config | None = None
) -> Iterator[dict[str, Any]]:
    """Sync twin of `astream_response`; close it early to interrupt the run."""
    refuse_inside_event_loop("stream_response")
    return iterate_in_portal(astream_response(request, config=config))


def get_response(response_id: str, *, config: Config | None = None) -> dict[str, Any]:
    """A stored Response; `NotFoundError` (404) when unknown, expired or deleted."""
    store = response_store(config or Config())
    stored = store.get(response_id) if store is not None else None
    if stored is None:
        raise missing(response_id)
    return stored.response


def delete_response(response_id: str, *, config: Config | None = None) -> dict[str, Any]:
    """Forget a stored Response; `NotFoundError` (404) when there is none."""
    store = response_store(config or Config())
    if store is None or not store.delete(response_id):
        raise missing(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


def response_input_items(response_id: str, *, config: Config | None = None,
                         order: str = "desc", limit: int = 20,
                         after: str | None = None) -> dict[str, Any]:
    """The input items of a stored Response, as ``GET /v1/responses/{id}/input_items`` lists
    them (newest first by default, ``limit`` per page, ``after`` an item id)."""
    store = response_store(config or Config())
    stored = store.get(response_id) if store is not None else None
    if stored is None:
        raise missing(response_id)
    items = stored.input if order == "asc" else list(reversed(stored.input))
    if after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return {"object": "list", "data": page,
            "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None,
            "has_more": len(items) > limit}

