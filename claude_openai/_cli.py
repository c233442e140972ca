"""`claude-openai serve`: run the app with uvicorn.  Flags map 1:1 onto `Config` fields."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from . import __version__
from ._config import Config, cast_value, env_name, field_type, flag_name


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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    defaults = Config()
    for f in dataclasses.fields(Config):
        serve.add_argument(
            flag_name(f.name), dest=f.name, default=None, metavar=f.name.upper(),
            type=field_type(f),
            help=f"{f.metadata['help']} [env {env_name(f.name)}; "
                 f"default {getattr(defaults, f.name)!r}]",
        )
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Flags over environment over defaults.  Raises SystemExit(2) on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)}
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


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    import uvicorn

    configure_logging(config.log_level)
    from ._app import create_app

    uvicorn.run(create_app(config), host=config.host, port=config.port,
                log_level=config.log_level)


__all__ = ["build_parser", "cast_value", "configure_logging", "main", "parse_config"]
