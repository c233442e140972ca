"""`Config`: one frozen dataclass; its fields, `CLAUDE_OPENAI_*` variables and CLI flags map 1:1."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "CLAUDE_OPENAI_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
REASONING = ("summarized", "off")
PROGRESS = ("reasoning", "content", "openwebui", "off")


def _opt(default: Any, help: str, *, many: bool = False) -> Any:
    """A field; ``many``: its flag may repeat, its variable holds a comma-separated list."""
    return field(default=default, metadata={"help": help, "many": many})


@dataclass(frozen=True, kw_only=True)
class Config:
    """Settings for the library functions and the HTTP server.

    Every field has a command-line flag (``--max-retries``) and an environment variable
    (``CLAUDE_OPENAI_MAX_RETRIES``). Precedence: flag, then environment, then default.
    """

    host: str = _opt("127.0.0.1", "address the server binds")
    port: int = _opt(8000, "port the server listens on")
    model: str | None = _opt(
        None, "model used when a request names none (default: the Claude Code CLI's own)"
    )
    cli_path: str | None = _opt(
        None, "Claude Code CLI to run (default: the one bundled with the SDK)"
    )
    timeout: float = _opt(600.0, "seconds a request may take before it is ended with a 504")
    first_token_timeout: float = _opt(
        300.0, "seconds until the reply's first output (text, thinking or tool arguments), "
               "else it is ended with a 504 (0: off)")
    idle_timeout: float = _opt(
        120.0, "longest silence in seconds between events once the reply is under way, "
               "else it is ended with a 504 (0: off)")
    keepalive_interval: float = _opt(
        15.0, "seconds without a byte on an open stream before an SSE comment is sent (0: off)")
    shutdown_grace: float = _opt(
        8.0, "seconds in-flight requests get to finish after SIGTERM before they are ended")
    max_retries: int = _opt(2, "retries the CLI makes on a failed upstream call")
    reasoning: str = _opt(
        "summarized", "Claude's thinking in answers as `reasoning_content`: summarized (asks "
                      "models that omit it by default for a summary) or off")
    thinking_store_bytes: int = _opt(
        67108864, "memory for Claude's answers with their signed thinking blocks, kept so that "
                  "tool loops and later turns get them back (0: off)")
    thinking_store_max_age: float = _opt(
        7200.0, "seconds an answer's thinking blocks are kept for later turns")
    response_store_bytes: int = _opt(
        67108864, "memory for stored Responses (`store`, the default), which "
                  "`previous_response_id` continues and GET /v1/responses/{id} returns; kept in "
                  "memory only, lost on restart (0: nothing is stored)")
    response_store_max_age: float = _opt(
        86400.0, "seconds a stored Response is kept")
    log_level: str = _opt("info", "logging level: " + ", ".join(LOG_LEVELS))
    metrics: bool = _opt(True, "serve GET /metrics in the Prometheus text format "
                               "(--no-metrics turns it off)")
    transcripts_dir: str | None = _opt(
        None, "directory for one JSON transcript per chat request, message content included "
              "(default: off)")
    transcripts_max_age: float = _opt(
        2592000.0, "seconds a transcript is kept; older ones are deleted (0: kept forever)")
    transcripts_max_files: int = _opt(
        10000, "most transcripts kept; the oldest beyond are deleted (0: no limit)")
    pool_size: int | None = _opt(
        None, "most warm Claude processes kept, those started for a burst included (default: "
              "as many as --max-concurrent; 0 turns the pool off)")
    pool_spares: int = _opt(1, "idle warm processes kept ready for the next request")
    pool_idle_timeout: float = _opt(300.0, "seconds an idle warm process is kept")
    pool_max_requests: int = _opt(
        100, "requests a warm process serves, each on an empty session, before it is replaced "
             "(1: a new process for every request)")
    pool_prime: bool = _opt(
        True, "prime each new spare with two throwaway queries to a local stand-in API, so its "
              "first real request is as fast as later ones (only when ANTHROPIC_BASE_URL is set)")
    api_key: str | None = _opt(
        None, "API key(s) clients must send as 'Authorization: Bearer <key>'", many=True)
    api_key_file: str | None = _opt(
        None, "file of API keys, one per line ('#' comments); a line 'KEY ws1 ws2' limits that "
              "key to those agent workspaces")
    allow_unauthenticated: bool = _opt(
        False, "serve a non-loopback address without API keys (you mean it)")
    cors_origins: str | None = _opt(None, "origins allowed by CORS (default: CORS off)",
                                    many=True)
    max_body_bytes: int = _opt(33554432, "largest request body accepted (413 above it)")
    max_messages: int = _opt(2048, "most messages in one request (400 above it)")
    max_image_bytes: int = _opt(
        5242880, "largest image in a request, in decoded bytes of its data: URL (400 above it)")
    max_concurrent: int = _opt(8, "most Claude runs at once; more requests wait in the queue")
    max_queue: int = _opt(64, "most requests waiting for a run (429 beyond it)")
    queue_timeout: float = _opt(30.0, "seconds a request may wait for a run (then 429)")
    agent_workspaces: str | None = _opt(
        None, "the agentic profile (off unless set): a workspace Claude Code may work in, as "
              "NAME=DIR or NAME:PRESET=DIR (presets: read, edit, shell, container; default "
              "read); clients pick it with the model 'agent:NAME'. Needs --api-key", many=True)
    agent_max_turns: int = _opt(25, "most model turns (tool steps) of one agent request")
    agent_max_budget_usd: float = _opt(1.0, "most dollars one agent request may spend")
    agent_timeout: float = _opt(600.0, "most seconds one agent request may run")
    agent_progress: str = _opt(
        "reasoning", "where an agent's tool steps go: reasoning (reasoning_content), content "
                     "(quoted lines in the answer), openwebui (Open WebUI tool cards) or off; a "
                     "request may choose with a model suffix such as 'agent:NAME+content'")
    agent_busy: str = _opt(
        "wait", "a request for a workspace that is already working: wait (up to "
                "--queue-timeout, then 409) or refuse (409 at once)")
    agent_container: bool = _opt(
        False, "declare that the server runs in a disposable container: allows the container "
               "preset (all of Claude Code's tools, permissions bypassed)")
    agent_unsandboxed_shell: bool = _opt(
        False, "allow the shell preset where Claude Code's Bash sandbox cannot run (Bash then "
               "runs unconfined, as the server's user)")
    agent_web: bool = _opt(False, "let agents use WebFetch and WebSearch")
    agent_claude_md: bool = _opt(
        False, "give agents their workspace's CLAUDE.md (read by the server; the workspace's "
               "own Claude Code settings and hooks are never loaded)")
    agent_mcp_config: str | None = _opt(
        None, "JSON file of MCP servers ({\"mcpServers\": {...}}) that agents may use, all "
              "their tools approved; none of the host's or the workspace's apply")
    agent_sessions_dir: str | None = _opt(
        None, "directory of the agent sessions that later turns continue (default: a private "
              "directory under the system's temporary directory)")
    agent_session_max_age: float = _opt(
        604800.0, "seconds an agent session is kept for later turns")

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if min(self.first_token_timeout, self.idle_timeout, self.keepalive_interval,
               self.shutdown_grace) < 0:
            raise ValueError("first_token_timeout, idle_timeout, keepalive_interval and "
                             "shutdown_grace must be 0 or more")
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if min(self.pool_cap, self.pool_spares, self.pool_max_requests - 1) < 0:
            raise ValueError("pool_size and pool_spares must be 0 or more, pool_max_requests 1+")
        if self.max_concurrent < 1 or self.max_queue < 0 or self.queue_timeout <= 0:
            raise ValueError("max_concurrent must be 1+, max_queue 0+, queue_timeout above 0")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.max_messages < 1 or self.max_image_bytes < 1:
            raise ValueError("max_messages and max_image_bytes must be 1 or more")
        if self.pool_idle_timeout <= 0:
            raise ValueError("pool_idle_timeout must be greater than 0")
        if self.transcripts_max_age < 0 or self.transcripts_max_files < 0:
            raise ValueError("transcripts_max_age and transcripts_max_files must be 0 or more")
        if self.reasoning not in REASONING:
            raise ValueError(f"reasoning must be one of {', '.join(REASONING)}")
        if self.thinking_store_bytes < 0 or self.thinking_store_max_age <= 0:
            raise ValueError("thinking_store_bytes must be 0 or more, thinking_store_max_age "
                             "above 0")
        if self.response_store_bytes < 0 or self.response_store_max_age <= 0:
            raise ValueError("response_store_bytes must be 0 or more, response_store_max_age "
                             "above 0")
        if min(self.agent_max_turns, self.agent_max_budget_usd, self.agent_timeout,
               self.agent_session_max_age) <= 0:
            raise ValueError("agent_max_turns, agent_max_budget_usd, agent_timeout and "
                             "agent_session_max_age must be above 0")
        if self.agent_progress not in PROGRESS:
            raise ValueError(f"agent_progress must be one of {', '.join(PROGRESS)}")
        if self.agent_busy not in ("wait", "refuse"):
            raise ValueError("agent_busy must be wait or refuse")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")

    @property
    def pool_cap(self) -> int:
        """The most warm processes: ``pool_size``, by default ``max_concurrent``."""
        return self.max_concurrent if self.pool_size is None else self.pool_size

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Build a Config from ``CLAUDE_OPENAI_*`` variables, then apply ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = env_name(f.name)
            if name in environ:
                values[f.name] = cast_value(f, environ[name], name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def field_type(f: dataclasses.Field[Any]) -> type:
    kind = str(f.type)
    if kind.startswith("bool"):
        return bool
    if kind.startswith("int"):
        return int
    if kind.startswith("float"):
        return float
    return str


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def cast_value(f: dataclasses.Field[Any], raw: str, source: str) -> Any:
    kind = field_type(f)
    if kind is bool:
        if raw.strip().lower() not in _TRUE + _FALSE:
            raise ValueError(f"{source}={raw!r} is not a valid boolean (true/false)")
        return raw.strip().lower() in _TRUE
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{source}={raw!r} is not a valid {kind.__name__}") from None
