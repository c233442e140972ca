"""End to end: the OpenAI Agents SDK (``openai-agents``) on its default Responses model.

The SDK's agent loop runs unchanged against our ``/v1/responses``: it sends the agent's
instructions and tools, runs the tool locally when Claude calls it, and sends the output back.
Each test checks both sides: what the SDK produced and what reached the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.models.openai_responses import OpenAIResponsesModel
from fake_upstream import FakeUpstream, Reply
from openai import AsyncOpenAI
from pydantic import BaseModel
from servers import ThreadedServer

from claude_openai import Config, create_app

pytestmark = pytest.mark.e2e

INSTRUCTIONS = "You are a weather assistant. Always call get_weather before answering."
QUESTION = "What's the weather in Paris?"
FINAL = "It is 22C and sunny in Paris."


@pytest.fixture(autouse=True, scope="module")
def no_tracing() -> Iterator[None]:
    """The SDK exports traces to api.openai.com unless told not to."""
    set_tracing_disabled(True)
    yield


@pytest.fixture
def server(upstream: FakeUpstream, config: Config) -> Iterator[ThreadedServer]:
    running = ThreadedServer(create_app(config)).start()
    yield running
    running.stop()


class Weather(BaseModel):
    city: str
    temperature_c: int


def weather_agent(client: AsyncOpenAI, ran: list[str], **options: Any) -> Agent[Any]:
    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: the city's name.
        """
        ran.append(city)
        return f"22C and sunny in {city}"

    model = OpenAIResponsesModel(model="sonnet", openai_client=client)
    return Agent(name="Weather", instructions=INSTRUCTIONS, tools=[get_weather], model=model,
                 **options)


def client_for(server: ThreadedServer) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)


def system_text(call: dict[str, Any]) -> str:
    system = call.get("system") or ""
    return system if isinstance(system, str) else "\n".join(b["text"] for b in system)


def tool_results(call: dict[str, Any]) -> dict[str, Any]:
    return {b["tool_use_id"]: b["content"] for m in call["messages"]
            if m["role"] == "user" and isinstance(m["content"], list)
            for b in m["content"] if b.get("type") == "tool_result"}


def text_of(content: Any) -> str:
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def check_the_model_side(upstream: FakeUpstream) -> None:
    """Two model calls: the first offered get_weather under the agent's instructions, the
    second carried the tool's output as the result of Claude's call."""
    first, second = upstream.calls
    for call in (first, second):
        assert INSTRUCTIONS in system_text(call)
    offered = {t["name"]: t for t in first["tools"]}
    assert offered["get_weather"]["input_schema"]["properties"]["city"]["type"] == "string"
    assert "The current weather in a city." in offered["get_weather"]["description"]
    results = tool_results(second)
    assert list(results) == ["toolu_paris"]
    assert text_of(results["toolu_paris"]) == "22C and sunny in Paris"


def weather_call() -> Reply:
    return Reply(text="Let me check.", tools=[
        {"name": "get_weather", "input": {"city": "Paris"}, "id": "toolu_paris"}])


def test_runner_run_calls_the_tool_and_answers(server: ThreadedServer,
                                               upstream: FakeUpstream) -> None:
    upstream.queue(weather_call(), Reply(text=FINAL))
    ran: list[str] = []

    async def main() -> Any:
        async with client_for(server) as client:
            return await Runner.run(weather_agent(client, ran), QUESTION)

    result = anyio.run(main)
    assert ran == ["Paris"]
    assert result.final_output == FINAL
    check_the_model_side(upstream)
    assert QUESTION in text_of(upstream.calls[0]["messages"][0]["content"])


def test_runner_run_streamed_streams_text(server: ThreadedServer,
                                          upstream: FakeUpstream) -> None:
    upstream.queue(weather_call(), Reply(text=FINAL))
    ran: list[str] = []

    async def main() -> tuple[Any, list[Any]]:
        async with client_for(server) as client:
            result = Runner.run_streamed(weather_agent(client, ran), QUESTION)
            return result, [event async for event in result.stream_events()]

    result, events = anyio.run(main)
    assert ran == ["Paris"]
    assert result.final_output == FINAL
    deltas = [e.data.delta for e in events if e.type == "raw_response_event"
              and e.data.type == "response.output_text.delta"]
    assert len(deltas) > 2, "text must stream in pieces"
    assert "".join(deltas) == "Let me check." + FINAL
    items = [e.name for e in events if e.type == "run_item_stream_event"]
    assert items.index("tool_called") < items.index("tool_output") < items.index(
        "message_output_created", items.index("tool_output"))
    check_the_model_side(upstream)


def test_output_type_comes_back_as_the_pydantic_model(server: ThreadedServer,
                                                      upstream: FakeUpstream) -> None:
    upstream.queue(weather_call(), Reply(text="", tools=[
        {"name": "StructuredOutput", "input": {"city": "Paris", "temperature_c": 22}}]))
    ran: list[str] = []

    async def main() -> Any:
        async with client_for(server) as client:
            agent = weather_agent(client, ran, output_type=Weather)
            return await Runner.run(agent, QUESTION)

    result = anyio.run(main)
    assert ran == ["Paris"]
    assert result.final_output == Weather(city="Paris", temperature_c=22)
    check_the_model_side(upstream)
    offered = {t["name"]: t for t in upstream.calls[1]["tools"]}
    schema = offered["StructuredOutput"]["input_schema"]
    assert set(schema["properties"]) == {"city", "temperature_c"}
    assert set(schema["required"]) == {"city", "temperature_c"}
