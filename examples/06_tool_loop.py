"""A tool-calling agent loop with the official ``openai`` client, against ``claude-openai serve``.

The code is plain OpenAI: offer a function, let the model call it, run it here, send the result
back, and repeat until the model answers.  Claude decides when to call the tool; the server only
relays the call (it never runs your functions).  ``--stream`` does the same with streaming.

Run it (start the server first, in another terminal)::

    claude-openai serve
    python examples/06_tool_loop.py [--stream]
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from openai import OpenAI

TOOLS: list[Any] = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}]


def get_weather(city: str) -> str:
    return f"22C and sunny in {city}"  # a real program would look it up


def ask(client: OpenAI, messages: list[Any], stream: bool) -> Any:
    if not stream:
        return client.chat.completions.create(model="sonnet", messages=messages,
                                              tools=TOOLS).choices[0].message
    with client.chat.completions.stream(model="sonnet", messages=messages,
                                        tools=TOOLS) as events:
        for event in events:
            if event.type == "content.delta":
                print(event.delta, end="", flush=True)
        return events.get_final_completion().choices[0].message


def main() -> None:
    client = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
                    api_key="unused")
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    for _ in range(5):  # a bound, so a confused model cannot loop forever
        message = ask(client, messages, stream="--stream" in sys.argv)
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            print("\nanswer:", message.content)
            return
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            result = get_weather(**arguments)
            print(f"called {call.function.name}({arguments}) -> {result}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


if __name__ == "__main__":
    main()
