"""A plain script: one Chat Completions request, then a two-turn conversation.

Shows `chat_completion` with a system and a user message, printing the answer and the token
usage, then a second call that carries the conversation so far (an assistant turn included).

Run it (Claude Code must be logged in: ``claude login``, or set ANTHROPIC_API_KEY)::

    python examples/01_script.py
"""

from __future__ import annotations

from typing import Any

from claude_openai import Config, chat_completion

MODEL = "sonnet"


def main() -> None:
    config = Config.from_env()  # CLAUDE_OPENAI_* variables, e.g. CLAUDE_OPENAI_TIMEOUT=120
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse. Answer in one sentence."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    completion = chat_completion({"model": MODEL, "messages": messages}, config=config)
    answer = completion["choices"][0]["message"]["content"]
    print("answer:", answer)
    print("usage:", completion["usage"])

    # A second turn: send the whole history, including the assistant's first answer.
    messages += [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And of Italy?"},
    ]
    follow_up = chat_completion({"model": MODEL, "messages": messages}, config=config)
    print("follow-up:", follow_up["choices"][0]["message"]["content"])


if __name__ == "__main__":
    main()
