"""An ``agent:`` request, from either front end: its workspace chosen by the model id (and the
caller's key), its body checked for what an agent request may not carry, and the session its
conversation continues looked up in the ledger."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from .._config import Config
from .._engine.models import resolve_model
from .._engine.request import ClaudeRequest
from .._exceptions import InvalidRequestError, ServiceUnavailableError
from .answer import AgentAnswer
from .job import AgentJob
from .ledger import conversation_key, history_turns, ledger_for, scope_of
from .startup import check_preset
from .workspaces import agent_target, is_agent_model

# Fields through which other servers let a request choose a directory or loosen the rules.
# An agent request carrying one is refused: the operator alone decides both.
PATH_FIELDS = ("cwd", "working_directory", "workdir", "work_dir", "workspace", "directory",
               "project_path", "project_dir", "path", "add_dirs", "additional_directories",
               "permission_mode", "allowed_tools", "disallowed_tools", "mcp_servers",
               "settings", "setting_sources", "sandbox")
LIBRARY = "library"  # the principal of in-process calls: the operator's own code


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who asks: an API key's id, and the workspaces it may use (None: all)."""

    id: str = LIBRARY
    workspaces: frozenset[str] | None = None


def refuse_paths(body: Mapping[str, Any]) -> None:
    metadata = body.get("metadata")
    places = [("", body)] + ([("metadata.", metadata)] if isinstance(metadata, dict) else [])
    for prefix, fields in places:
        for name in PATH_FIELDS:
            if name in fields:
                raise InvalidRequestError(
                    f"'{prefix}{name}' is not accepted: an agent request cannot choose a "
                    "directory, tools or permissions. The model id picks a workspace the "
                    "server's operator set up.", param=prefix + name,
                    code="agent_field_refused")


def refuse_client_tools(request: ClaudeRequest, body: Mapping[str, Any]) -> None:
    if request.tools.tools or request.tools.schema is not None:
        param = "tools" if request.tools.tools else (
            "response_format" if "response_format" in body else "text.format")
        raise InvalidRequestError(
            "Agent models run Claude Code's own tools in their workspace; client tools and "
            "structured output formats are not supported with them. Use a plain model (such "
            "as 'sonnet') for function calling.", param=param, code="agent_tools_refused")


def agent_request(body: Mapping[str, Any], config: Config, principal: Principal | None,
                  parse: Callable[[dict[str, Any]], ClaudeRequest]) -> ClaudeRequest:
    """Parse an ``agent:`` request with the front end's ``parse`` (on the body with the
    Claude model the id names, if any), and attach its `AgentJob`."""
    principal = principal or Principal()
    target = agent_target(str(body.get("model")), config, principal.workspaces)
    refuse_paths(body)
    try:
        check_preset(target.workspace, config)
    except ValueError as exc:
        raise ServiceUnavailableError(f"The agent workspace '{target.workspace.name}' cannot "
                                      f"run: {exc}.", code="agent_unavailable") from None
    plain = {k: v for k, v in body.items() if k != "model"}
    if target.model:
        plain["model"] = resolve_model(target.model)
    request = parse(plain)
    refuse_client_tools(request, body)
    if request.prompt is None:
        raise InvalidRequestError("An agent request must end with a user message.",
                                  param="messages", code="agent_prompt_missing")
    workspace = target.workspace
    scope = scope_of(principal.id, workspace.name, workspace.preset, request.model)
    history = history_turns(request.history)
    session = ledger_for(config).find(conversation_key(scope, request.system, history))
    job = AgentJob(target, principal.id, scope, [*history, ("user", request.prompt)], session)
    return dataclasses.replace(request, agent=job)


def agent_answer(request: ClaudeRequest, config: Config, model: str) -> AgentAnswer:
    """The answer an agent request's builder formats; ``model``: the id the client named."""
    job: AgentJob = request.agent
    return AgentAnswer(
        model=model,
        root=job.target.workspace.path, progress=job.target.progress,
        reasoning=config.reasoning != "off",
        limits={"turns": config.agent_max_turns, "budget": config.agent_max_budget_usd,
                "seconds": config.agent_timeout})


def parse_any(body: Any, config: Config, principal: Principal | None,
              parse: Callable[[Any], ClaudeRequest]) -> ClaudeRequest:
    """The front end's request: an agent one when the model id says ``agent:``."""
    if isinstance(body, dict) and is_agent_model(body.get("model")):
        return agent_request(body, config, principal, parse)
    return parse(body)


def attach(builder: Any, request: ClaudeRequest, config: Config, body: Mapping[str, Any],
           headers: dict[str, str]) -> None:
    """Make ``builder`` format an agent's answer, and say which session path was taken."""
    if request.agent is None:
        return
    builder.answer = agent_answer(request, config, str(body.get("model")))
    headers["x-claude-session"] = request.agent.path
