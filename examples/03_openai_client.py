"""The official ``openai`` client talking to a running ``claude-openai serve``.

Shows that any OpenAI client works unchanged: point its base URL at the server.  One plain
call and one streaming call.  The API key is not checked by the server.

Run it (start the server first, in another terminal)::

    claude-openai serve --host 127.0.0.1 --port 8000
    python examples/03_openai_client.py
    # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python examples/03_openai_client.py
"""

from __future__ import annotations

import os

from openai import OpenAI


def main() -> None:
    base_url = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    client = OpenAI(base_url=base_url, api_key="unused")

    completion = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Say hello in French."}],
    )
    print("answer:", completion.choices[0].message.content)

    stream = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Count from one to five."}],
        stream=True,
    )
    print("streamed: ", end="", flush=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


if __name__ == "__main__":
    main()
