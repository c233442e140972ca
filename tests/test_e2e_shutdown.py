"""End to end: SIGTERM to `claude-openai serve` gives in-flight requests ``shutdown_grace``
seconds, then cuts them off; the server exits promptly and no Claude process outlives it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import children_of

pytestmark = pytest.mark.e2e

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


EXAMPLES = Path(__file__).parent.parent / "examples"


class Serve:
    """`python -m claude_openai serve` on an ephemeral port; remembers every CLI it started.

    ``mounted``: instead, uvicorn running examples/04_mount_starlette.py, whose lifespan uses
    `shutdown_grace` (settings from ``CLAUDE_OPENAI_*``; the routes under ``/openai/v1``)."""

    def __init__(self, *flags: str, mounted: dict[str, str] | None = None) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        command = [sys.executable, "-m", "claude_openai", "serve", "--port", str(port),
                   "--max-retries", "0", *flags]
        env = os.environ.copy()
        if mounted is not None:
            self.url = f"http://127.0.0.1:{port}/openai/v1"
            command = [sys.executable, "-m", "uvicorn", "04_mount_starlette:app",
                       "--app-dir", str(EXAMPLES), "--port", str(port),
                       "--timeout-graceful-shutdown", "10"]
            env.update({"CLAUDE_OPENAI_MAX_RETRIES": "0", **mounted})
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        self.seen: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/models", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("serve did not start")

    def note_children(self) -> None:
        self.seen.update(children_of(self.process.pid))

    def stream_lines(self, body: dict[str, Any]) -> Iterator[str]:
        with httpx.Client(timeout=30) as http, http.stream(
                "POST", self.url + "/chat/completions", json={**body, "stream": True}) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line:
                    self.note_children()
                    yield line

    def terminate(self) -> float:
        self.note_children()
        assert self.seen, "the request should be running on a Claude process"
        self.process.send_signal(signal.SIGTERM)
        return time.monotonic()

    def wait(self) -> str:
        _, stderr = self.process.communicate(timeout=30)
        return stderr.decode()

    def leftovers(self) -> list[int]:
        return [pid for pid in self.seen if os.path.exists(f"/proc/{pid}")]


def content(lines: list[str]) -> str:
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                   if c.get("choices"))


def test_a_stream_shorter_than_the_grace_completes(upstream: FakeUpstream) -> None:
    words = " ".join(f"w{i}" for i in range(16))
    upstream.queue(Reply(text=words, delay=0.1))  # about 1.6 s
    server = Serve("--shutdown-grace", "6")
    try:
        lines = server.stream_lines(CHAT)
        got = [next(lines)]
        signalled = server.terminate()
        got += list(lines)
        stderr = server.wait()
        exited = time.monotonic() - signalled
    finally:
        server.process.kill()
    assert content(got) == words and got[-1] == "data: [DONE]"
    assert exited < 5, f"the server took {exited:.1f} s to exit after its last request ended"
    assert "Traceback" not in stderr
    # at start it said which CLI and which credentials it would use
    assert "Claude Code CLI 2." in stderr and "authentication: api_key" in stderr
    assert server.leftovers() == [], "a Claude process outlived the server"
    assert upstream.completed == [True]


def test_a_mounted_app_gives_the_grace_too(upstream: FakeUpstream) -> None:
    words = " ".join(f"w{i}" for i in range(200))
    upstream.queue(Reply(text=words, delay=0.05))  # 10 s
    server = Serve(mounted={"CLAUDE_OPENAI_SHUTDOWN_GRACE": "1"})
    try:
        lines = server.stream_lines(CHAT)
        got = [next(lines)]
        while not upstream.calls:
            time.sleep(0.02)
        signalled = server.terminate()
        got += list(lines)
        cut = time.monotonic() - signalled
        stderr = server.wait()
    finally:
        server.process.kill()
    error = json.loads(got[-1][6:])["error"]
    assert error["code"] == "server_shutting_down" and "data: [DONE]" not in got
    assert 0.9 < cut < 3, f"the stream was cut {cut:.1f} s after SIGTERM (grace 1 s)"
    assert "Traceback" not in stderr
    assert server.leftovers() == [], "a Claude process outlived the server"
    assert upstream.completed == [False]


def test_a_longer_request_is_cut_after_the_grace(upstream: FakeUpstream) -> None:
    words = " ".join(f"w{i}" for i in range(200))
    upstream.queue(Reply(text=words, delay=0.05), Reply(text=words, delay=0.05))  # 10 s each
    server = Serve("--shutdown-grace", "1")
    try:
        plain: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: plain.append(
            httpx.post(server.url + "/chat/completions", json=CHAT, timeout=30)))
        waiting.start()
        lines = server.stream_lines(CHAT)
        got = [next(lines)]
        while len(upstream.calls) < 2:  # both requests have reached the model
            time.sleep(0.02)
        signalled = server.terminate()
        got += list(lines)
        cut = time.monotonic() - signalled
        waiting.join(timeout=30)
        stderr = server.wait()
        exited = time.monotonic() - signalled
    finally:
        server.process.kill()
    error = json.loads(got[-1][6:])["error"]
    assert error["code"] == "server_shutting_down" and "data: [DONE]" not in got
    assert 0.9 < cut < 3, f"the stream was cut {cut:.1f} s after SIGTERM (grace 1 s)"
    assert plain[0].status_code == 503
    assert plain[0].json()["error"]["code"] == "server_shutting_down"
    # logged with the status each client saw: 503, the stream's in band too (not 499)
    assert stderr.count(" status=503 ") == 2 and " status=499 " not in stderr, stderr
    assert exited < 6, f"the server took {exited:.1f} s to exit (grace 1 s)"
    assert "Traceback" not in stderr
    assert server.leftovers() == [], "a Claude process outlived the server"
    assert upstream.completed == [False, False]
    assert max(upstream.sent_deltas) < 150


def test_a_second_ctrl_c_leaves_no_claude_process(upstream: FakeUpstream) -> None:
    # Ctrl-C twice: uvicorn then stops waiting for requests and skips the app's shutdown; the
    # Claude processes, the one answering and the warm spare, must end all the same.
    words = " ".join(f"w{i}" for i in range(200))
    upstream.queue(Reply(text=words, delay=0.05))  # 10 s
    server = Serve("--shutdown-grace", "5")
    try:
        lines = server.stream_lines(CHAT)
        next(lines)
        while not upstream.calls:
            time.sleep(0.02)
        server.note_children()
        server.process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        server.process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        with contextlib.suppress(httpx.HTTPError):
            list(lines)
        server.wait()
        exited = time.monotonic() - signalled
    finally:
        server.process.kill()
    assert exited < 5, f"the server took {exited:.1f} s to exit after the second Ctrl-C"
    time.sleep(0.5)
    assert len(server.seen) >= 1 and server.leftovers() == [], "a Claude process outlived it"
