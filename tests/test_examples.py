"""Every file in ``examples/`` runs, against the fake upstream and the real Claude Code CLI.

Scripts run as subprocesses with this test process's environment (which points the CLI at the
fake model); the mountable apps are imported without starting uvicorn and driven in-process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import recipes_support
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
        "11_langchain.py",
        "12_pydantic_ai.py",
        "13_instructor.py",
        "14_litellm.py",
    ]
    others = sorted(p.name for p in EXAMPLES.iterdir()
                    if p.is_file() and p.suffix not in (".py", ".md"))
    assert others == ["09_openai_node.mjs", "10_vercel_ai_sdk.mjs", "litellm_config.yaml"]


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


def check_tool_loop(upstream: FakeUpstream, name: str, args: tuple[str, ...]) -> None:
    """A tool-loop example against the served app: the call printed, the answer printed, and
    the function's result back at the model as a tool_result."""
    upstream.queue(Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Paris"},
                                          "id": "toolu_1"}]),
                   Reply(text="It is 22C and sunny in Paris."))
    server = ThreadedServer(create_app(Config(max_retries=0))).start()
    try:
        out = run_example(name, *args,
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


@pytest.mark.parametrize("args", [(), ("--stream",)], ids=["plain", "stream"])
def test_06_tool_loop(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    check_tool_loop(upstream, "06_tool_loop.py", args)


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
    check_tool_loop(upstream, "08_responses_tool_loop.py", args)


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


# -- recipes: other people's clients against `claude-openai serve` --------------------------------

WEATHER_CALL = Reply(text="", tools=[{"name": "get_weather", "input": {"city": "Paris"},
                                      "id": "toolu_1"}])


def serve_example(run: Callable[[dict[str, str]], str]) -> str:
    """Start ``create_app(Config(max_retries=0))`` on 127.0.0.1, call ``run`` with an environment
    whose ``OPENAI_BASE_URL`` points at it, stop the server; what ``run`` returned."""
    server = ThreadedServer(create_app(Config(max_retries=0))).start()
    try:
        return run({**os.environ, "OPENAI_BASE_URL": server.url + "/v1"})
    finally:
        server.stop()


def tool_results(call: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(b["tool_use_id"], b["content"]) for m in call["messages"] if m["role"] == "user"
            and isinstance(m["content"], list) for b in m["content"]
            if b.get("type") == "tool_result"]


def offered_tools(call: dict[str, Any]) -> set[str]:
    return {t["name"] for t in call.get("tools", [])}


def test_09_openai_node(upstream: FakeUpstream, tmp_path: Path) -> None:
    if (why := recipes_support.missing_node("openai")) is not None:
        pytest.skip(f"NOT RUN: the openai npm package recipe: {why}")
    example = EXAMPLES / "09_openai_node.mjs"
    out = serve_example(lambda env: recipes_support.run_node_example(example, tmp_path, env))
    assert "answer: ECHO: Say hello in French." in out
    assert "streamed: ECHO: Count from one to five.\nusage: 19 in, 6 out" in out
    assert "responses: ECHO: Name a French cheese." in out
    assert len(upstream.calls) == 3
    assert "You are terse." in str(upstream.calls[0]["system"])
    assert upstream.calls[1]["stream"] is True


def test_10_vercel_ai_sdk(upstream: FakeUpstream, tmp_path: Path) -> None:
    if (why := recipes_support.missing_node("ai", "@ai-sdk/openai", "zod")) is not None:
        pytest.skip(f"NOT RUN: the Vercel AI SDK recipe: {why}")
    upstream.queue(Reply(), Reply(), WEATHER_CALL, Reply(text="It is 22C and sunny in Paris."))
    example = EXAMPLES / "10_vercel_ai_sdk.mjs"
    out = serve_example(lambda env: recipes_support.run_node_example(example, tmp_path, env))
    assert "chat: ECHO: Say hello in French." in out
    assert "chat streamed: ECHO: Count from one to five. (6 tokens)" in out
    assert 'called get_weather {"city":"Paris"}' in out
    assert "tool answer: It is 22C and sunny in Paris." in out
    assert "responses: ECHO: Name a French cheese." in out
    assert "responses streamed: ECHO: Name a French wine." in out
    assert len(upstream.calls) == 6
    assert "You are terse." in str(upstream.calls[0]["system"])
    assert "get_weather" in offered_tools(upstream.calls[2])
    assert tool_results(upstream.calls[3]) == [("toolu_1", "22C and sunny in Paris")]


def test_11_langchain(upstream: FakeUpstream) -> None:
    upstream.queue(Reply(), Reply(), WEATHER_CALL, Reply(text="It is 22C and sunny in Paris."))
    out = serve_example(lambda env: run_example("11_langchain.py", env=env))
    assert "answer: ECHO: Say hello in French." in out
    assert "streamed: ECHO: Count from one to five." in out
    assert "called get_weather({'city': 'Paris'}) -> 22C and sunny in Paris" in out
    assert out.rstrip().endswith("tool answer: It is 22C and sunny in Paris.")
    assert len(upstream.calls) == 4
    assert "You are terse." in str(upstream.calls[0]["system"])
    assert upstream.calls[1]["stream"] is True
    assert "get_weather" in offered_tools(upstream.calls[2])
    assert tool_results(upstream.calls[3]) == [("toolu_1", "22C and sunny in Paris")]


@pytest.mark.parametrize("args", [(), ("--native",)], ids=["output_tool", "native"])
def test_12_pydantic_ai(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    forecast = {"city": "Paris", "celsius": 22, "summary": "sunny"}
    output_tool = "StructuredOutput" if args else "final_result"  # native: response_format
    upstream.queue(WEATHER_CALL,
                   Reply(text="", tools=[{"name": output_tool, "input": forecast,
                                          "id": "toolu_2"}]))
    out = serve_example(lambda env: run_example("12_pydantic_ai.py", *args, env=env))
    assert "called get_weather('Paris')" in out
    assert "output: Forecast(city='Paris', celsius=22, summary='sunny')" in out
    assert "plain: ECHO: Say hello in French." in out
    assert len(upstream.calls) == 3
    assert {"get_weather", output_tool} <= offered_tools(upstream.calls[0])
    [schema] = [t["input_schema"] for t in upstream.calls[0]["tools"] if t["name"] == output_tool]
    assert set(schema["properties"]) == {"city", "celsius", "summary"}
    # tool_choice "required" is forced through the API's tool_choice, which runs without
    # thinking; NativeOutput (response_format) keeps it
    forced = [c.get("tool_choice") for c in upstream.calls[:2]]
    thinking = [c.get("thinking") is not None for c in upstream.calls[:2]]
    assert (forced, thinking) == (([None] * 2, [True] * 2) if args
                                  else ([{"type": "any"}] * 2, [False] * 2))
    assert "Use the tools; answer with the forecast." in str(upstream.calls[0]["system"])
    assert tool_results(upstream.calls[1]) == [("toolu_1", "22C and sunny in Paris")]


@pytest.mark.parametrize("args", [(), ("--json",)], ids=["tools", "json_schema"])
def test_13_instructor(upstream: FakeUpstream, args: tuple[str, ...]) -> None:
    if importlib.util.find_spec("instructor") is None:
        pytest.skip("NOT RUN: instructor is not installed, and is not in the test extra: "
                    "instructor 1.17 pins jiter<0.15 and the openai client of the test extra "
                    "needs jiter>=0.16 (installing it downgrades openai to 3.3); to run it: "
                    "`pip install --no-deps instructor==1.17.0 docstring-parser`")
    grace = {"name": "Grace Hopper", "age": 85}
    tool_name = "StructuredOutput" if args else "Person"  # JSON_SCHEMA: response_format
    upstream.queue(Reply(text="", tools=[{"name": tool_name, "input": grace}]))
    out = serve_example(lambda env: run_example("13_instructor.py", *args, env=env))
    assert "person: Person(name='Grace Hopper', age=85)" in out
    [call] = upstream.calls
    assert tool_name in offered_tools(call)
    [schema] = [t["input_schema"] for t in call["tools"] if t["name"] == tool_name]
    assert set(schema["properties"]) == {"name", "age"}


def test_14_litellm(upstream: FakeUpstream) -> None:
    env_name = "CLAUDE_OPENAI_BASE_URL"
    out = serve_example(lambda env: run_example("14_litellm.py", env={
        k: v for k, v in env.items() if k != env_name}))
    assert "answer: ECHO: Say hello in French." in out
    assert "streamed: ECHO: Count to five." in out
    assert "router: ECHO: Name a French cheese." in out
    assert len(upstream.calls) == 3
    assert upstream.calls[1]["stream"] is True
