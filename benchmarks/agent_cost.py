"""What an agent request costs upstream, against the same question asked of the plain model.

Runs the real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no
credentials, no network).  The question needs one file: the plain model is given the file's
text in the prompt (one model call); the read-only agent (``agent:NAME``, preset ``read``)
reads it itself (a Read call, then the answer: two model calls).  Reported per setup: model
calls, request bytes sent upstream (about 4 bytes a token), the tools offered, and wall
time; each as a ratio to the plain model, run in the same process.

    python benchmarks/agent_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream, Reply  # noqa: E402

QUESTION = "What is the secret word in notes.txt?"
NOTES = "the secret word is plum\n"


def run(rounds: int) -> dict[str, dict[str, float]]:
    from claude_openai import Config, chat_completion

    upstream = FakeUpstream()
    upstream.start()
    workspace = Path(tempfile.mkdtemp(prefix="agent-cost-"))
    (workspace / "notes.txt").write_text(NOTES)
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="agent-cost-config-"))
    config = Config(pool_size=0, agent_workspaces=f"proj={workspace}",
                    agent_sessions_dir=tempfile.mkdtemp(prefix="agent-cost-sessions-"))
    setups = {
        "plain model (file in the prompt)": (
            "sonnet", f"{QUESTION}\n\nnotes.txt:\n{NOTES}", [Reply(text="Plum.")]),
        "agent:proj (read preset, one Read)": (
            "agent:proj", QUESTION,
            [Reply(text="Reading.", tools=[{"name": "Read", "input": {
                "file_path": str(workspace / "notes.txt")}}]), Reply(text="Plum.")]),
    }
    found: dict[str, dict[str, list[float]]] = {}
    try:
        for _ in range(rounds):
            for name, (model, prompt, replies) in setups.items():
                upstream.reset()
                upstream.queue(*replies)
                started = time.perf_counter()
                chat_completion({"model": model, "messages": [
                    {"role": "user", "content": prompt}]}, config=config)
                took = time.perf_counter() - started
                calls = upstream.calls
                row = found.setdefault(name, {})
                for key, value in (("model calls", len(calls)),
                                   ("request bytes", sum(len(json.dumps(c)) for c in calls)),
                                   ("tools offered", len(calls[0].get("tools", []))),
                                   ("seconds", took)):
                    row.setdefault(key, []).append(float(value))
    finally:
        upstream.stop()
    return {name: {k: statistics.median(v) for k, v in row.items()}
            for name, row in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rows = run(parser.parse_args().rounds)
    base = next(iter(rows.values()))
    keys = list(base)
    print(f"{'':38}" + "".join(f"{k:>20}" for k in keys))
    for name, row in rows.items():
        cells = "".join(f"{row[k]:>11.2f} ({row[k] / base[k]:>4.1f}x)" if base[k]
                        else f"{row[k]:>20.2f}" for k in keys)
        print(f"{name:38}{cells}")


if __name__ == "__main__":
    main()
