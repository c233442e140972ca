"""The Responses API from a plain script, no server: one answer, a streamed one, and a follow-up
that continues the first through ``previous_response_id``.

Run it::

    python examples/07_responses.py
"""

from __future__ import annotations

from claude_openai import create_response, stream_response


def main() -> None:
    first = create_response({"model": "sonnet", "instructions": "Answer in one sentence.",
                             "input": "What is the capital of France?"})
    print("answer:", first["output"][-1]["content"][0]["text"])

    print("streamed: ", end="")
    for event in stream_response({"model": "sonnet", "previous_response_id": first["id"],
                                  "input": "And its population?"}):
        if event["type"] == "response.output_text.delta":
            print(event["delta"], end="", flush=True)
        elif event["type"] == "response.completed":
            usage = event["response"]["usage"]
            print(f"\nusage: {usage['input_tokens']} in, {usage['output_tokens']} out")


if __name__ == "__main__":
    main()
