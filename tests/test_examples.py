"""Every file in ``examples/`` runs, against the fake upstream and the real Claude Code CLI.

Scripts run as subprocesses with this test process's environment (which points the CLI at the
fake model); the mountable apps are imported without starting uvicorn and driven in-process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer
from starlette.testclient import TestClient

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env if env is not None else os.environ.copy(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{Path(name).stem}", EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not "__main__": uvicorn does not start
    return module


def test_every_example_is_tested() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert names == [
        "01_script.py",
        "02_streaming.py",
        "03_openai_client.py",
        "04_mount_starlette.py",
        "05_mount_fastapi.py",
        "06_tool_loop.py",
        "07_responses.py",
        "08_responses_tool_loop.py",
    ]


def test_01_script(upstream: FakeUpstream) -> None:
    out = run_example("01_script.py")
    assert "answer: ECHO: What is the capital of France?" in out
    assert "follow-up: ECHO: And of Italy?" in out
    assert "usage: {" in out and "'prompt_tokens': 19" in out
    assert len(upstream.calls) == 2
    second = upstream.calls[1]
    assert second["system"] and "You are terse." in str(second["system"])
    history = str(second["messages"])
    assert "What is the capital of France?" in history
    assert "ECHO: What is the capital of France?" in history


@pytest.mark.parametrize("args", [(), ("--async",)], ids=["sync", "async"])
def test_02_streaming(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    out = run_example("02_streaming.py", *args)
    assert out.startswith("ECHO: Write a haiku about the sea.\nusage: {")
    assert "'completion_tokens': 7" in out
    assert len(upstream.calls) == 1 and upstream.calls[0]["stream"] is True


def test_03_openai_client(upstream: FakeUpstream) -> None:
    server = ThreadedServer(create_app(Config(max_retries=0))).start()
    try:
        env = {**os.environ, "OPENAI_BASE_URL": server.url + "/v1"}
        out = run_example("03_openai_client.py", env=env)
    finally:
        server.stop()
    assert "answer: ECHO: Say hello in French." in out
    assert "streamed: ECHO: Count from one to five." in out
    assert len(upstream.calls) == 2


@pytest.mark.parametrize("args", [(), ("--stream",)], ids=["plain", "stream"])
def test_06_tool_loop(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    upstream.queue(Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Paris"},
                                          "id": "toolu_1"}]),
                   Reply(text="It is 22C and sunny in Paris."))
    server = ThreadedServer(create_app(Config(max_retries=0))).start()
    try:
        out = run_example("06_tool_loop.py", *args,
                          env={**os.environ, "OPENAI_BASE_URL": server.url + "/v1"})
    finally:
        server.stop()
    assert "called get_weather({'city': 'Paris'}) -> 22C and sunny in Paris" in out
    assert out.rstrip().endswith("answer: It is 22C and sunny in Paris.")
    results = [b for m in upstream.calls[1]["messages"] if m["role"] == "user"
               and isinstance(m["content"], list) for b in m["content"]
               if b.get("type") == "tool_result"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        ("toolu_1", "22C and sunny in Paris")]


def test_07_responses(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(text="Paris is the capital of France."),
                   Reply(deltas=["About ", "2 million."]))
    out = run_example("07_responses.py")
    assert "answer: Paris is the capital of France." in out
    assert "streamed: About 2 million.\nusage: " in out
    second = upstream.calls[1]
    turns = [m["role"] for m in second["messages"] if m["role"] != "system"]  # the CLI's own
    assert turns[:3] == ["user", "assistant", "user"]
    assert "one sentence" not in str(second.get("system"))  # instructions are not carried


@pytest.mark.parametrize("args", [(), ("--stateless",)], ids=["chained", "stateless"])
def test_08_responses_tool_loop(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    upstream.queue(Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Paris"},
                                          "id": "toolu_1"}]),
                   Reply(text="It is 22C and sunny in Paris."))
    server = ThreadedServer(create_app(Config(max_retries=0))).start()
    try:
        out = run_example("08_responses_tool_loop.py", *args,
                          env={**os.environ, "OPENAI_BASE_URL": server.url + "/v1"})
    finally:
        server.stop()
    assert "called get_weather({'city': 'Paris'}) -> 22C and sunny in Paris" in out
    assert out.rstrip().endswith("answer: It is 22C and sunny in Paris.")
    results = [b for m in upstream.calls[1]["messages"] if m["role"] == "user"
               and isinstance(m["content"], list) for b in m["content"]
               if b.get("type") == "tool_result"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        ("toolu_1", "22C and sunny in Paris")]


@pytest.mark.parametrize("name", ["04_mount_starlette.py", "05_mount_fastapi.py"])
def test_mount_examples(upstream: FakeUpstream, name: str) -> None:
    app = load_example(name).app
    with TestClient(app) as client:
        home = client.get("/")
        assert home.status_code == 200 and home.text == "my app"

        response = client.post(
            "/openai/v1/chat/completions",
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "ECHO: hi"

        missing = client.get("/openai/v1/nope")
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert isinstance(error, dict) and error["code"] == "not_found"
    assert len(upstream.calls) == 1
