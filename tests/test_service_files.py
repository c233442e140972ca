"""The service files run the real command line: flags they use must exist."""

from __future__ import annotations

import plistlib
import re
import shlex
from pathlib import Path

from claude_openai._server.cli import parse_config

ROOT = Path(__file__).parent.parent


def test_launchd_plist_runs_serve() -> None:
    plist = plistlib.loads((ROOT / "examples/service/com.claude-openai.serve.plist").read_bytes())
    program = plist["ProgramArguments"]
    assert program[0].endswith("claude-openai") and program[1] == "serve"
    parse_config(program[1:], {})


def test_systemd_unit_runs_serve() -> None:
    unit = (ROOT / "examples/service/claude-openai.service").read_text()
    for line in re.findall(r"^#?\s*ExecStart=(.+)$", unit, re.M):
        argv = shlex.split(line.replace("%h", "/home/u"))
        assert argv[0].endswith("claude-openai") and argv[1] == "serve"
        parse_config(argv[1:], {})
    assert "KillSignal=SIGTERM" in unit


def test_dockerfile_serves_as_a_user_and_needs_a_key_to_start() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["claude-openai", "serve"]' in docker
    assert "USER app" in docker and "CLAUDE_OPENAI_HOST=0.0.0.0" in docker
