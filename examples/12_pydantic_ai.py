"""pydantic-ai against a running ``claude-openai serve``: an agent with a tool and a typed output.

``OpenAIChatModel`` with an ``OpenAIProvider(base_url=...)`` speaks Chat Completions to the
server.  The agent calls ``get_weather`` (pydantic-ai runs it and sends the result back), then
answers with a ``Forecast``.  By default pydantic-ai asks for it through an output tool and
``tool_choice: "required"``, which the server honours with thinking off for those calls;
``--native`` uses ``NativeOutput`` instead: ``response_format: json_schema``, answered through
Claude Code's structured output, thinking left as configured.  The API key is not checked by
the server.

Run it (start the server first, in another terminal)::

    claude-openai serve --host 127.0.0.1 --port 8000
    pip install 'pydantic-ai-slim[openai]'
    python examples/12_pydantic_ai.py            # or --native
    # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python examples/12_pydantic_ai.py
"""

from __future__ import annotations

import os
import sys

from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider


class Forecast(BaseModel):
    city: str
    celsius: int
    summary: str


def main() -> None:
    provider = OpenAIProvider(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        api_key="unused",
    )
    output = NativeOutput(Forecast) if "--native" in sys.argv else Forecast
    agent = Agent(OpenAIChatModel("sonnet", provider=provider), output_type=output,
                  instructions="Use the tools; answer with the forecast.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        print(f"called get_weather({city!r})")
        return f"22C and sunny in {city}"

    result = agent.run_sync("What is the weather in Paris?")
    print("output:", repr(result.output))
    print("plain:", agent.run_sync("Say hello in French.", output_type=str).output)


if __name__ == "__main__":
    main()
