"""The HTTP surface: `create_app()` and `mount()`, thin over the library functions."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from .._agent.gate import admit
from .._agent.startup import check_agents
from .._agent.workspaces import agent_model_ids, agent_target, is_agent_model
from .._calls import FrontEnd, run_to_end
from .._chat.api import CHAT
from .._config import Config
from .._engine.models import list_models, model_object, resolve_model
from .._engine.run import answer
from .._engine.runtime import aclose_pools, pool_for, pool_state
from .._engine.thinking import thinking_store
from .._exceptions import ClaudeOpenAIError, InvalidRequestError, PayloadTooLargeError
from .._responses.api import (
    RESPONSES,
    delete_response,
    get_response,
    response_input_items,
)
from .._responses.store import response_store
from .drain import Drain
from .guard import Guard
from .health import cli_path, cli_version, health
from .limits import Limiter
from .metrics import CONTENT_TYPE, Metrics
from .observe import Observer
from .sse import EventStreamResponse
from .trace import CLIENT_GONE, Trace

logger = logging.getLogger("claude_openai")


async def _json_body(request: Request, config: Config) -> Any:
    body = await request.body()
    if len(body) > config.max_body_bytes:  # a body sent without a Content-Length
        raise PayloadTooLargeError(
            f"The request body is larger than the limit of {config.max_body_bytes} bytes.",
            code="request_too_large")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError(
            "We could not parse the JSON body of your request: send a JSON object.",
            code="invalid_json",
        ) from None


async def _unless_disconnected(request: Request, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``work``, cancelling it (and so the CLI) if the client goes away first."""
    result: list[Any] = []
    failed: list[ClaudeOpenAIError] = []
    async with anyio.create_task_group() as group:
        async def run() -> None:
            try:
                result.append(await work())
            except ClaudeOpenAIError as exc:  # raised below, outside the task group
                failed.append(exc)
            group.cancel_scope.cancel()

        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(run)
        group.start_soon(watch)
    if failed:
        raise failed[0]
    return result[0] if result else None


def answer_endpoint(front: FrontEnd, config: Config, limiter: Limiter, observer: Observer,
                    drain: Drain) -> Callable[[Request], Awaitable[Response]]:
    """The route that answers a front end's requests (chat completions, responses)."""
    async def endpoint(request: Request) -> Response:
        trace = Trace(request_id=getattr(request.state, "request_id", None))
        try:
            return await _answer(front, request, config, limiter, observer, drain, trace)
        except BaseException as exc:  # a stream that failed has already ended its trace
            await observer.fail(trace, exc)
            raise

    return endpoint


async def _answer(front: FrontEnd, request: Request, config: Config, limiter: Limiter,
                  observer: Observer, drain: Drain, trace: Trace) -> Response:
    trace.principal = getattr(request.state, "principal", None)
    body = trace.body = await _json_body(request, config)
    trace.stream = isinstance(body, dict) and bool(body.get("stream"))  # logged if it is a 400
    chat, builder = front.prepare(body, config, trace, stream=trace.stream)
    trace.workspace = chat.agent.target.workspace.name if chat.agent is not None else None
    with drain.cut_off():
        turn = await admit(chat, config)  # an agent's workspace: a 409 here when it is busy
        try:
            await limiter.acquire()
        except BaseException:
            if turn is not None:
                turn.release()
            raise

    def release(status: int = 0) -> None:
        limiter.release()
        if turn is not None:
            turn.release()  # if the run never began (it releases its own at its end)

    if trace.stream:  # the run slot is released, and the trace ended, with the stream
        return EventStreamResponse(observer.watch(trace, answer(chat, config, builder), drain),
                                   keepalive=config.keepalive_interval, drain=drain,
                                   on_end=release, framing=front.framing(builder),
                                   headers=trace.headers)
    try:
        with drain.cut_off():
            done = await _unless_disconnected(
                request, lambda: run_to_end(chat, config, builder, trace))
    finally:
        release()
    response = (Response(status_code=CLIENT_GONE) if done is None  # nobody reads it
                else JSONResponse(builder.final(), headers=trace.headers))
    observer.end(trace, response.status_code)
    response.background = BackgroundTask(observer.save, trace)  # once the answer is sent
    return response


def _stored_endpoint(config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def stored(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        if request.method == "DELETE":
            return JSONResponse(delete_response(response_id, config=config))
        return JSONResponse(get_response(response_id, config=config))

    return stored


def _input_items_endpoint(config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def input_items(request: Request) -> Response:
        query = request.query_params
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidRequestError("'order' must be 'asc' or 'desc'.", param="order")
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise InvalidRequestError("'limit' must be an integer from 1 to 100.", param="limit")
        return JSONResponse(response_input_items(
            request.path_params["response_id"], config=config, order=order, limit=limit,
            after=query.get("after")))

    return input_items


def _allowed(request: Request) -> frozenset[str] | None:
    """The agent workspaces the caller's key may use (None: all, as for a server without keys)."""
    principal = getattr(request.state, "principal", None)
    return principal.workspaces if principal is not None else None


def _models_endpoint(config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def models(request: Request) -> Response:
        return JSONResponse(list_models(agent_model_ids(config, _allowed(request))))

    return models


def _model_endpoint(config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if is_agent_model(model_id):  # one the key may not use: the same 404 as an unknown one
            target = agent_target(model_id, config, _allowed(request))
            if target.model:
                resolve_model(target.model)
        else:
            resolve_model(model_id)
        return JSONResponse(model_object(model_id))

    return model


def _health_endpoint(config: Config, limiter: Limiter) -> Callable[[Request], Awaitable[Response]]:
    cache: dict[str, str | None] = {}

    async def health_check(request: Request) -> Response:
        if "version" not in cache:
            cache["version"] = await anyio.to_thread.run_sync(cli_version, cli_path(config))
        report = health(config, cache["version"], os.environ)
        own = pool_state(config)  # this app's pool, as /metrics shows it (none before any use)
        report["pools"] = [] if own is None else [own]
        report["load"] = limiter.state()
        return JSONResponse(report, status_code=200 if report["cli"]["found"] else 503)

    return health_check


def _metrics_endpoint(config: Config, limiter: Limiter,
                      metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    async def metrics_page(request: Request) -> Response:
        store, kept = thinking_store(config), response_store(config)
        page = metrics.exposition(limiter.state(), pool_state(config),
                                  store.state() if store is not None else None,
                                  kept.state() if kept is not None else None)
        return Response(page, media_type=CONTENT_TYPE)

    return metrics_page


def api_routes(config: Config, drain: Drain | None = None,
               metrics: Metrics | None = None) -> list[BaseRoute]:
    limiter = Limiter(config)  # one per app: it bounds the Claude runs of all its routes
    drain = drain or Drain(config.shutdown_grace)
    observer = Observer(config, metrics=metrics, log=True)
    routes: list[BaseRoute] = [
        Route("/chat/completions", answer_endpoint(CHAT, config, limiter, observer, drain),
              methods=["POST"]),
        Route("/responses", answer_endpoint(RESPONSES, config, limiter, observer, drain),
              methods=["POST"]),
        Route("/responses/{response_id}", _stored_endpoint(config), methods=["GET", "DELETE"]),
        Route("/responses/{response_id}/input_items", _input_items_endpoint(config),
              methods=["GET"]),
        Route("/models", _models_endpoint(config), methods=["GET"]),
        Route("/models/{model_id:path}", _model_endpoint(config), methods=["GET"]),
        Route("/health", _health_endpoint(config, limiter), methods=["GET"]),
    ]
    if metrics is not None:
        routes.append(Route("/metrics", _metrics_endpoint(config, limiter, metrics),
                            methods=["GET"]))
    return routes


# -- errors, always OpenAI-shaped ------------------------------------------------------------
async def _our_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClaudeOpenAIError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message, code = f"Unknown path {request.url.path}.", "not_found"
    elif exc.status_code == 405:
        message, code = f"Method {request.method} is not allowed here.", "method_not_allowed"
    else:
        message, code = str(exc.detail), None
    error = ClaudeOpenAIError(message, code=code).to_dict()
    error["error"]["type"] = "invalid_request_error"
    return JSONResponse(error, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse(ClaudeOpenAIError("The server had an internal error.").to_dict(),
                        status_code=500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ClaudeOpenAIError: _our_error,
    HTTPException: _http_error,
    Exception: _server_error,
}


def mount(app: Starlette, path: str = "/v1", config: Config | None = None) -> Starlette:
    """Mount the OpenAI-compatible routes under ``path`` of an existing Starlette/FastAPI app.

    The mounted app carries its own error handlers (OpenAI-shaped errors) and needs no lifespan:
    its warm pool starts with the first request; `aclose_pools()` (or exit) ends it.  For the
    shutdown grace `serve` gives, use `shutdown_grace()` in the host app's lifespan.
    Returns the mounted sub-app.  Raises ValueError when ``config``'s agentic profile must not
    be served (see ``_agent.startup.check_agents``).
    """
    config = config or Config()
    check_agents(config)
    metrics = Metrics() if config.metrics else None
    drain = Drain(config.shutdown_grace)  # begun by `shutdown_grace()` on SIGTERM, if used
    sub_app = Starlette(routes=api_routes(config, drain, metrics),
                        exception_handlers=EXCEPTION_HANDLERS,
                        middleware=middleware(config, metrics))
    sub_app.state.drain = drain
    app.mount(path, sub_app)
    return sub_app


def create_app(config: Config | None = None) -> Starlette:
    """A standalone app: the routes under ``/v1`` and also at the root.

    Raises ValueError when ``config``'s agentic profile must not be served: workspaces without
    an API key, with CORS, or with presets this machine cannot fence in (see
    ``_agent.startup.check_agents``)."""
    config = config or Config()
    check_agents(config)
    drain = Drain(config.shutdown_grace)  # begun by `claude-openai serve` on SIGTERM
    metrics = Metrics() if config.metrics else None
    routes = api_routes(config, drain, metrics)  # one set of routes, served at both places

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.pool_cap:
            await pool_for(config).start()  # warm processes ready before the first request
        try:
            yield
        finally:
            await aclose_pools()  # every Claude process ends with the server

    app = Starlette(routes=[Mount("/v1", routes=routes), *routes],
                    exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan,
                    middleware=middleware(config, metrics))
    app.state.drain = drain
    return app


def middleware(config: Config, metrics: Metrics | None = None) -> list[Middleware]:
    """CORS (only when origins are configured) outside the guard: a preflight needs no key."""
    stack = [Middleware(Guard, config=config, metrics=metrics)]
    if config.cors_origins:
        origins = [o.strip() for o in config.cors_origins.split(",") if o.strip()]
        stack.insert(0, Middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"], allow_credentials=False))
    return stack
