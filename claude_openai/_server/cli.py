"""`claude-openai serve`: run the app with uvicorn.  Flags map 1:1 onto `Config` fields."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from .._agent.startup import check_agents
from .._config import Config, cast_value, env_name, field_type, flag_name
from .chat_command import add_chat_parser
from .guard import is_loopback, load_keys

# Other spellings of a flag: the singular reads better for a flag given once per workspace.
FLAG_ALIASES = {"agent_workspaces": ("--agent-workspace",)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-openai",
        description="Serve Claude Code behind an OpenAI-compatible API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run the HTTP server",
        description="Run the OpenAI-compatible HTTP server (uvicorn).",
    )
    serve.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    defaults = Config()
    for f in dataclasses.fields(Config):
        kind = field_type(f)
        extra: dict[str, Any] = (
            {"action": argparse.BooleanOptionalAction} if kind is bool
            else {"action": "append" if f.metadata["many"] else "store",
                  "type": kind, "metavar": f.name.upper()})
        serve.add_argument(
            flag_name(f.name), *FLAG_ALIASES.get(f.name, ()), dest=f.name, default=None, **extra,
            help=f"{f.metadata['help']} [env {env_name(f.name)}; "
                 f"default {getattr(defaults, f.name)!r}]",
        )
    add_chat_parser(commands)
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Flags over environment over defaults.  Raises SystemExit(2) on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = {f.name: _joined(getattr(args, f.name)) for f in dataclasses.fields(Config)}
    try:
        return Config.from_env(environ, **flags)
    except ValueError as exc:
        parser.error(str(exc))
    raise AssertionError("unreachable")


def configure_logging(level: str) -> logging.Logger:
    """Send the per-request lines to stderr, formatted like uvicorn's own (CLI only)."""
    logger = logging.getLogger("claude_openai")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger.handlers = [handler]
    logger.setLevel(5 if level == "trace" else level.upper())  # uvicorn's TRACE is 5
    logger.propagate = False
    return logger


def _joined(value: Any) -> Any:
    """A repeated flag's values, as the field's comma-separated list."""
    return ",".join(value) if isinstance(value, list) else value


def check_exposure(config: Config) -> None:
    """Refuse to serve a non-loopback address with no API key, unless told to.

    Raises SystemExit(2) with the reason, as for any other usage error.
    """
    try:
        keys = load_keys(config)
    except OSError as exc:
        raise SystemExit(f"claude-openai: cannot read --api-key-file: {exc}") from None
    if keys or is_loopback(config.host) or config.allow_unauthenticated:
        return
    print(f"claude-openai: refusing to serve {config.host} without an API key: anyone who can "
          "reach it could use your Claude account. Set --api-key (or --api-key-file), or pass "
          "--allow-unauthenticated if you mean it.", file=sys.stderr)
    raise SystemExit(2)


def check_setup(config: Config) -> None:
    """Refuse, before binding, what `create_app` would refuse (the agentic profile's checks):
    exit status 2 with the reason on stderr, as for any other usage error."""
    try:
        check_agents(config)
    except ValueError as exc:
        print(f"claude-openai: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    check_exposure(config)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["chat"]:
        from .chat_command import run

        raise SystemExit(run(build_parser().parse_args(argv)))
    config = parse_config(argv, os.environ)
    check_setup(config)
    logger = configure_logging(config.log_level)
    from .app import create_app
    from .health import startup_report
    from .serve import serve

    for level, message in startup_report(config, os.environ):
        logger.log(level, message)

    serve(create_app(config), config)


__all__ = ["build_parser", "cast_value", "check_exposure", "check_setup", "configure_logging",
           "is_loopback", "main", "parse_config"]
