"""Config, environment variables and command-line flags: one to one, flag over env over default."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from claude_openai import Config, __version__
from claude_openai._config import env_name, flag_name
from claude_openai._server.cli import build_parser, parse_config


def test_every_field_has_a_flag_and_an_environment_variable() -> None:
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()  # type: ignore[union-attr]
    for f in dataclasses.fields(Config):
        assert flag_name(f.name) in help_text
        assert env_name(f.name) in help_text


def test_issue_flags_exist() -> None:
    config = parse_config(["serve", "--host", "0.0.0.0", "--port", "9", "--model", "opus",
                           "--cli-path", "/x/claude", "--timeout", "5", "--log-level", "debug",
                           "--max-retries", "0"], {})
    assert config == Config(host="0.0.0.0", port=9, model="opus", cli_path="/x/claude",
                            timeout=5.0, log_level="debug", max_retries=0)


def test_agent_workspace_flags_repeat_in_either_spelling(tmp_path: Path) -> None:
    config = parse_config(["serve", "--agent-workspace", f"a={tmp_path}",
                           "--agent-workspaces", f"b:edit={tmp_path}"], {})
    assert config.agent_workspaces == f"a={tmp_path},b:edit={tmp_path}"


def test_flag_over_environment_over_default() -> None:
    environ = {"CLAUDE_OPENAI_PORT": "9000", "CLAUDE_OPENAI_MODEL": "haiku"}
    config = parse_config(["serve", "--port", "9100"], environ)
    assert (config.port, config.model, config.host) == (9100, "haiku", "127.0.0.1")
    assert Config.from_env({}) == Config()


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="CLAUDE_OPENAI_TIMEOUT='soon'"):
        Config.from_env({"CLAUDE_OPENAI_TIMEOUT": "soon"})


@pytest.mark.parametrize("argv", [["serve", "--port", "x"], ["serve", "--timeout", "0"],
                                  ["serve", "--log-level", "loud"], []])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_config(argv, {})
    assert info.value.code == 2


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_config(["--version"], {})
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parse_config(["serve", "--help"], {})
    out = capsys.readouterr().out
    assert "--host" in out and "127.0.0.1" in out and "CLAUDE_OPENAI_HOST" in out


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "claude_openai", "--version"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == f"claude-openai {__version__}"


def test_serve_logs_each_request_line(capsys: pytest.CaptureFixture[str]) -> None:
    from claude_openai._server.cli import configure_logging

    logger = configure_logging("info")
    try:
        logger.info("chatcmpl-1 model=m status=200")
        logger.debug("hidden")
        err = capsys.readouterr().err
        assert "INFO:     chatcmpl-1 model=m status=200" in err and "hidden" not in err
    finally:
        logger.handlers, logger.propagate = [], True
        logger.setLevel("NOTSET")


def test_serve_reports_its_cli_and_credentials_at_start(tmp_path: Path) -> None:
    import logging

    from claude_openai._server.health import startup_report

    empty = {"CLAUDE_CONFIG_DIR": str(tmp_path)}  # no key, no token, no `claude login`
    report = startup_report(Config(), empty)
    assert report[0][0] == logging.INFO and "authentication: none" in report[0][1]
    assert "Claude Code CLI 2." in report[0][1]
    [(level, warning)] = report[1:]
    assert level == logging.WARNING and "claude login" in warning
    [(level, line)] = startup_report(Config(), {**empty, "ANTHROPIC_API_KEY": "sk-x"})
    assert level == logging.INFO and "authentication: api_key" in line
    missing = startup_report(Config(cli_path=str(tmp_path / "nope")), {
        **empty, "ANTHROPIC_API_KEY": "sk-x"})
    assert [lvl for lvl, _ in missing] == [logging.INFO, logging.ERROR]
    assert "does not run" in missing[1][1]
