"""instructor against a running ``claude-openai serve``: a Pydantic model out of a chat.

``instructor.from_openai(OpenAI(...))`` patches the official client.  In its default TOOLS mode
it offers the model one function whose parameters are the model's JSON Schema and forces it with
``tool_choice``; the server returns that call as a ``tool_calls`` entry and instructor validates
it.  ``--json`` uses ``Mode.JSON_SCHEMA`` instead: ``response_format: json_schema``, answered
with the JSON as the message content.  The API key is not checked by the server.

Run it (start the server first, in another terminal)::

    claude-openai serve --host 127.0.0.1 --port 8000
    pip install instructor
    python examples/13_instructor.py            # or --json
    # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python examples/13_instructor.py
"""

from __future__ import annotations

import os
import sys

import instructor
from openai import OpenAI
from pydantic import BaseModel


class Person(BaseModel):
    name: str
    age: int


def main() -> None:
    mode = instructor.Mode.JSON_SCHEMA if "--json" in sys.argv else instructor.Mode.TOOLS
    client = instructor.from_openai(
        OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
               api_key="unused", max_retries=0),
        mode=mode,
    )
    person = client.chat.completions.create(
        model="sonnet",
        response_model=Person,
        max_retries=0,  # instructor's re-asks on a validation error; none needed here
        messages=[{"role": "user", "content": "Grace Hopper was 85. Extract the person."}],
    )
    print("person:", repr(person))


if __name__ == "__main__":
    main()
