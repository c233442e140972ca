"""LangChain's ``ChatOpenAI`` (``langchain-openai``) against a running ``claude-openai serve``.

An ``invoke``, a ``stream``, and a ``bind_tools`` round trip: the model calls the tool, the
script runs it and sends a ``ToolMessage`` back.  The API key is not checked by the server.

Run it (start the server first, in another terminal)::

    claude-openai serve --host 127.0.0.1 --port 8000
    pip install langchain-openai
    python examples/11_langchain.py
    # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python examples/11_langchain.py
"""

from __future__ import annotations

import os

from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"22C and sunny in {city}"


def main() -> None:
    llm = ChatOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        api_key="unused",
        model="sonnet",
        max_retries=0,
    )

    answer = llm.invoke([SystemMessage("You are terse."), HumanMessage("Say hello in French.")])
    print("answer:", answer.content)

    print("streamed: ", end="", flush=True)
    for chunk in llm.stream("Count from one to five."):
        print(chunk.content, end="", flush=True)
    print()

    with_tools = llm.bind_tools([get_weather])
    messages = [HumanMessage("What is the weather in Paris?")]
    reply = with_tools.invoke(messages)
    messages.append(reply)
    for call in reply.tool_calls:
        result = get_weather.invoke(call["args"])
        print(f"called {call['name']}({call['args']}) -> {result}")
        messages.append(ToolMessage(result, tool_call_id=call["id"]))
    print("tool answer:", with_tools.invoke(messages).content)


if __name__ == "__main__":
    main()
