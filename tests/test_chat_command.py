"""End to end: `claude-openai chat` as a subprocess, through the library or a server, against the
fake upstream; the conversation mode in a pseudo-terminal.

Each run gets a marker in its environment, which the Claude Code CLI processes it starts
inherit: after it exits, no process may still carry it (the pools were closed).
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_upstream import FakeUpstream, Reply, last_user_text
from images import png
from servers import ThreadedServer

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

COMMAND = [sys.executable, "-m", "claude_openai", "chat"]
MARKER = "CLAUDE_OPENAI_CHAT_TEST_RUN"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAUDE_OPENAI_API_KEY",)}
    return {**env, "CLAUDE_OPENAI_MAX_RETRIES": "0", "TERM": "dumb",
            MARKER: uuid.uuid4().hex, **extra}


def marked(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (started by one chat run)."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def assert_none_left(env: dict[str, str]) -> None:
    deadline = time.monotonic() + 5
    while (left := marked(env[MARKER])) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert left == [], "a process of the chat run outlived it"


def chat(*args: str, stdin: str | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = env or environment()
    done = subprocess.run([*COMMAND, *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=30, env=env, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert_none_left(env)
    return done


def user_turns(call: dict[str, Any]) -> list[tuple[str, str]]:
    """The user and assistant turns the model saw, as text (the CLI's additions left out)."""
    turns = []
    for message in call["messages"]:
        if message["role"] in ("user", "assistant"):
            text = last_user_text({"messages": [{**message, "role": "user"}]})
            turns.append((message["role"], text))
    return turns


def system_text(call: dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in call["system"])


# -- one question --------------------------------------------------------------------------------
def test_argument_streams_the_answer(upstream: FakeUpstream) -> None:
    done = chat("hello", "there")
    assert (done.returncode, done.stdout) == (0, "ECHO: hello there\n")
    [call] = upstream.calls
    assert user_turns(call) == [("user", "hello there")]


def test_piped_stdin_is_the_prompt(upstream: FakeUpstream) -> None:
    done = chat(stdin="from a pipe\n")
    assert (done.returncode, done.stdout) == (0, "ECHO: from a pipe\n")


def test_argument_then_piped_text_after_a_blank_line(upstream: FakeUpstream) -> None:
    done = chat("review this", stdin="def f():\n    return 1\n")
    assert done.returncode == 0
    [call] = upstream.calls
    assert user_turns(call) == [("user", "review this\n\ndef f():\n    return 1")]
    assert done.stdout == "ECHO: review this\n\ndef f():\n    return 1\n"


def test_system_and_model_reach_the_model(upstream: FakeUpstream) -> None:
    done = chat("--system", "Answer like a pirate.", "--model", "sonnet", "ahoy")
    assert done.returncode == 0, done.stderr
    [call] = upstream.calls
    assert "Answer like a pirate." in system_text(call)
    assert call["model"] == "claude-sonnet-5-5"


def test_no_stream(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text="Whole answer."))
    done = chat("--no-stream", "q")
    assert (done.returncode, done.stdout) == (0, "Whole answer.\n")


def test_json_streaming_prints_one_chunk_per_line(upstream: FakeUpstream) -> None:
    done = chat("--json", "one two")
    assert done.returncode == 0
    chunks = [json.loads(line) for line in done.stdout.splitlines()]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "ECHO: one two"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_json_without_streaming_prints_the_completion(upstream: FakeUpstream) -> None:
    done = chat("--json", "--no-stream", "q")
    completion = json.loads(done.stdout)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "ECHO: q"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_reasoning_shows_thinking_only_when_asked(upstream: FakeUpstream, stream: bool) -> None:
    flags = [] if stream else ["--no-stream"]
    upstream.queue(Reply(thinking=["pondering ", "deeply"], text="The answer."))
    shown = chat("--reasoning", *flags, "q")
    upstream.queue(Reply(thinking=["pondering ", "deeply"], text="The answer."))
    hidden = chat(*flags, "q")
    assert shown.stdout == hidden.stdout == "The answer.\n"
    assert "pondering deeply" in shown.stderr
    assert "pondering" not in hidden.stdout + hidden.stderr
    assert all(call["thinking"]["display"] == "summarized" for call in upstream.calls)


def test_image_reaches_the_model_as_an_image(upstream: FakeUpstream, tmp_path: Path) -> None:
    picture = tmp_path / "picture.bin"  # the bytes say PNG, whatever the name
    picture.write_bytes(png())
    done = chat("--image", str(picture), "what is this?")
    assert (done.returncode, done.stdout) == (0, "ECHO: what is this?\n")
    [call] = upstream.calls
    [image] = [b for m in call["messages"] if isinstance(m["content"], list)
               for b in m["content"] if b["type"] == "image"]
    assert image["source"]["media_type"] == "image/png"


@pytest.mark.parametrize("content", [None, b"not an image"], ids=["missing", "unsupported"])
def test_a_bad_image_is_a_clear_error(upstream: FakeUpstream, tmp_path: Path,
                                      content: bytes | None) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    done = chat("--image", str(path), "q")
    assert done.returncode == 1
    assert str(path) in done.stderr
    assert upstream.calls == []


def test_an_error_is_its_message_and_a_failing_status(upstream: FakeUpstream) -> None:
    done = chat("--model", "nonexistent-model", "q")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "404" in done.stderr and "'nonexistent-model' does not exist" in done.stderr


def test_ctrl_c_in_one_shot_exits_130_quietly(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(deltas=["slow"] + [" more"] * 50, delay=0.2))
    env = environment()
    process = subprocess.Popen([*COMMAND, "q"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        assert process.stdout is not None
        assert select.select([process.stdout], [], [], 15)[0], "no answer in time"
        assert process.stdout.read1(100).startswith(b"slow")  # type: ignore[attr-defined]
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert err == b""
    assert_none_left(env)


def test_help_shows_examples() -> None:
    done = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0
    assert "examples:" in done.stdout and 'claude-openai chat "' in done.stdout


# -- through a server ----------------------------------------------------------------------------
@pytest.fixture
def server(upstream: FakeUpstream) -> Iterator[str]:
    running = ThreadedServer(create_app(Config(api_key="right-key", max_retries=0))).start()
    yield running.url + "/v1"
    running.stop()


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_base_url_with_the_right_key(upstream: FakeUpstream, server: str, stream: bool) -> None:
    upstream.queue(Reply(thinking=["hmm"], text="Served."))
    done = chat("--base-url", server, "--api-key", "right-key", "--reasoning", "--model",
                "sonnet", "--system", "Be brief.", *([] if stream else ["--no-stream"]), "q")
    assert (done.returncode, done.stdout) == (0, "Served.\n"), done.stderr
    assert "hmm" in done.stderr
    [call] = upstream.calls
    assert call["model"] == "claude-sonnet-5-5" and "Be brief." in system_text(call)


def test_base_url_key_from_the_environment(upstream: FakeUpstream, server: str) -> None:
    done = chat("--base-url", server, "q",
                env=environment(CLAUDE_OPENAI_API_KEY="right-key,other-key"))
    assert (done.returncode, done.stdout) == (0, "ECHO: q\n"), done.stderr


@pytest.mark.parametrize("key", [[], ["--api-key", "wrong-key"]], ids=["none", "wrong"])
def test_base_url_without_the_right_key(upstream: FakeUpstream, server: str,
                                        key: list[str]) -> None:
    done = chat("--base-url", server, *key, "q")
    assert done.returncode == 1 and done.stdout == ""
    assert "error 401:" in done.stderr
    assert upstream.calls == []


def test_base_url_unreachable(upstream: FakeUpstream) -> None:
    done = chat("--base-url", "http://127.0.0.1:9/v1", "q")
    assert done.returncode == 1 and "cannot reach http://127.0.0.1:9/v1" in done.stderr


# -- a conversation, in a pseudo-terminal -------------------------------------------------------
class Terminal:
    """``claude-openai chat`` on a pseudo-terminal it has as its controlling terminal, so that
    Ctrl-C reaches its whole foreground process group, as in a real terminal."""

    # After setsid (start_new_session), take the pty on stdin as the controlling terminal.
    ATTACH = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
              "os.execv(sys.executable, [sys.executable, '-m', 'claude_openai', 'chat', "
              "*sys.argv[1:]])")

    def __init__(self, *args: str) -> None:
        self.env = environment()
        master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.ATTACH, *args], stdin=slave, stdout=slave, stderr=slave,
            env=self.env, start_new_session=True)
        os.close(slave)
        self.master, self.output, self.seen = master, "", 0

    def expect(self, text: str, timeout: float = 15) -> str:
        """Wait for ``text`` after what was expected before; returns the output up to it."""
        deadline = time.monotonic() + timeout
        while (at := self.output.find(text, self.seen)) == -1:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"no {text!r} in time; the terminal shows:\n{self.output!r}")
            try:
                self.output += os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:  # EIO: the other side is closed
                raise AssertionError(f"no {text!r}; the terminal shows:\n{self.output!r}") from None
        before, self.seen = self.output[self.seen:at], at + len(text)
        return before

    def wait_reading(self, timeout: float = 10) -> None:
        """Wait until the command sleeps in readline's select() for the next key: a Ctrl-C that
        lands between the prompt's display and that select() is only seen at the next key
        (CPython's readline loop has this window), and the test would wait for it forever."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(f"/proc/{self.process.pid}/wchan") as f:
                wchan = f.read()
            if wchan == "0":  # the kernel hides it: give the prompt a moment instead
                time.sleep(0.3)
                return
            if "poll" in wchan or "select" in wchan:
                return
            time.sleep(0.01)
        raise AssertionError("the prompt never waited for input")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            status = self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self.master)
        assert "Traceback" not in self.output, self.output
        assert_none_left(self.env)
        return status


@pytest.fixture
def terminal() -> Iterator[type[Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        opened.append(Terminal(*args))
        return opened[-1]

    yield open_terminal  # type: ignore[misc]
    for term in opened:
        if term.process.poll() is None:
            term.process.kill()
            term.process.wait()


def test_conversation_keeps_its_history(upstream: FakeUpstream, terminal: Any) -> None:
    term = terminal("--system", "Be kind.")
    term.expect("> ")
    term.type("first question\n")
    assert "ECHO: first question" in term.expect("> ")
    term.type("second question\n")
    assert "ECHO: second question" in term.expect("> ")
    term.type("\x04")  # Ctrl-D
    assert term.close() == 0
    first, second = upstream.calls
    assert user_turns(second) == [("user", "first question"),
                                  ("assistant", "ECHO: first question"),
                                  ("user", "second question")]
    assert "Be kind." in system_text(second)


def test_ctrl_c_stops_only_the_answer(upstream: FakeUpstream, terminal: Any) -> None:
    upstream.queue(Reply(deltas=["slow", " answer"] + [" more"] * 50, delay=0.2))
    term = terminal()
    term.expect("> ")
    term.type("take your time\n")
    term.expect("slow answer")
    term.type("\x03")  # Ctrl-C
    term.expect("[interrupted]")
    term.expect("> ")
    term.type("next one\n")
    assert "ECHO: next one" in term.expect("> ")
    term.wait_reading()
    term.type("\x03")  # at the prompt: clears the line, a fresh prompt
    term.expect("> ")
    term.type("/exit\n")
    assert term.close() == 0
    interrupted, following = upstream.calls
    turns = user_turns(following)
    assert turns[0] == ("user", "take your time")
    assert turns[1][0] == "assistant" and turns[1][1].startswith("slow answer")
    assert len(turns[1][1]) < len("slow answer" + " more" * 50), "the partial answer is kept"
    assert turns[2] == ("user", "next one")
