"""A tool loop over the Responses API with the official ``openai`` client, against
``claude-openai serve``: the model calls a function, this script runs it and sends back a
``function_call_output``, until the model answers.  Each turn continues the last one with
``previous_response_id``; ``--stateless`` sends the whole history instead, as Codex does.

Run it (start the server first, in another terminal)::

    claude-openai serve
    python examples/08_responses_tool_loop.py [--stateless]
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from openai import OpenAI

TOOLS: list[Any] = [{
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False},
    "strict": True,
}]


def get_weather(city: str) -> str:
    return f"22C and sunny in {city}"  # a real program would look it up


def main() -> None:
    client = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
                    api_key=os.environ.get("OPENAI_API_KEY", "unused"))
    stateless = "--stateless" in sys.argv
    history: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    new_input, previous = list(history), None
    for _ in range(5):  # a bound, so a confused model cannot loop forever
        response = client.responses.create(
            model="sonnet", tools=TOOLS, input=history if stateless else new_input,
            previous_response_id=None if stateless else previous, store=not stateless)
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            print("answer:", response.output_text)
            return
        history += [item.model_dump(exclude_none=True) for item in response.output]
        new_input, previous = [], response.id
        for call in calls:
            arguments = json.loads(call.arguments)
            result = get_weather(**arguments)
            print(f"called {call.name}({arguments}) -> {result}")
            output = {"type": "function_call_output", "call_id": call.call_id, "output": result}
            history.append(output)
            new_input.append(output)


if __name__ == "__main__":
    main()
