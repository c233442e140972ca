"""Prompt cache reuse over a 10-turn conversation: how much of each turn's prompt is read back.

Real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no credentials,
no network), with the fake's prompt cache simulation on (``FakeUpstream(cache=True)``, see
``PromptCache``): each model call is answered with the cache reads and writes Anthropic's API
would report.  The official ``openai`` client talks to the app served in-process by uvicorn.

The conversation: 10 chat requests with the same system message and two function tools, mixing
plain user turns and tool round trips (the model calls a function, the client sends the result
back), streamed and not, with replies of a few hundred bytes.  For request n the ideal read is
everything request n-1 sent (its input + read + written tokens); the share is sum(read) /
sum(ideal) over requests 2-10.  Each configuration runs in a fresh server with an empty cache:

- defaults: ``Config(max_retries=0)``;
- ``pool_max_requests=1``; the pool off (``pool_size=0``);
- sticky eviction: between turns 5 and 6 the pool's own idle reaper ends every idle process,
  the conversation's sticky one included: ``pool_idle_timeout=2`` and the client pauses until
  ``/health`` shows no idle process left (a client that thinks longer than the idle timeout;
  the fake's cache, 5 minutes, is still warm).

Below each table, for every turn, where its prompt first differs from the turn before (segment
index, its place, and the two segments around the first differing character).

    python benchmarks/cache.py [--brief]   # --brief: the summary table only
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream, Reply, Segment, cache_segments  # noqa: E402
from servers import ThreadedServer, wait_for_no_claude  # noqa: E402

from claude_openai import Config, create_app  # noqa: E402

TARGET = 0.90
MODEL = "claude-sonnet-4-5"
IDLE_TIMEOUT = 2.0  # the sticky-eviction configuration's pool_idle_timeout, seconds
EVICT_BEFORE = 6  # the pause comes before this turn
HOST_CREDENTIALS = (  # as tests/conftest.py: the CLI sees the fake's key only
    "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY", "ANTHROPIC_MODEL",
)

SYSTEM = ("You are a travel assistant. Answer in plain prose, a short paragraph at most; use the "
          "tools for weather and restaurants rather than guessing.")
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather and a 3-day forecast for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "units": {"type": "string", "enum": ["metric", "imperial"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search_restaurants", "description": "Restaurants near a place, by cuisine.",
        "parameters": {"type": "object", "properties": {
            "near": {"type": "string"}, "cuisine": {"type": "string"},
            "max_results": {"type": "integer"}}, "required": ["near"]}}},
]


def prose(topic: str) -> str:
    """A model-like reply of about 400 bytes."""
    return (f"About {topic}: the old town is best explored on foot in the morning, before the "
            "tour groups arrive, and most museums open at ten. Book the popular places a day "
            "ahead, carry a light jacket for the evenings, and keep one afternoon free for "
            "wandering the markets and side streets, which is where the city shows its "
            "character. Public transport is reliable, cheap and runs late on weekends.")


@dataclass
class Turn:
    """One chat request: a user message or the result of the last tool call; the scripted
    answer (prose, or a tool call)."""

    kind: str  # "user" or "tool"
    stream: bool
    content: str  # the user's text, or the tool's result
    reply: Reply = field(default_factory=Reply)


def tool_call(name: str, **arguments: Any) -> Reply:
    return Reply(text="Let me check that.", tools=[{"name": name, "input": arguments}])


def result(**fields: Any) -> str:
    return json.dumps({**fields, "source": "fake-data", "updated": "2026-01-01T09:00:00Z",
                       "notes": "Figures are indicative; check again closer to the date."})


TURNS = [
    Turn("user", False, "I am planning a long weekend in Paris in May. Where should I start?",
         Reply(text=prose("Paris"))),
    Turn("user", True, "Which neighbourhood is best to stay in for a first visit?",
         Reply(text=prose("the Marais"))),
    Turn("user", False, "What is the weather going to be like there?",
         tool_call("get_weather", city="Paris", units="metric")),
    Turn("tool", True, result(city="Paris", now="17C, light cloud", forecast=[
        "18C sunny", "16C showers", "19C sunny"]), Reply(text=prose("the weather in Paris"))),
    Turn("user", False, "Good. What should I pack?", Reply(text=prose("packing"))),
    Turn("user", True, "Find me a bistro near the Marais for Saturday.",
         tool_call("search_restaurants", near="Le Marais", cuisine="bistro", max_results=3)),
    Turn("tool", False, result(results=[
        {"name": "Chez Fake", "rating": 4.6, "price": "$$"},
        {"name": "Le Petit Test", "rating": 4.4, "price": "$$"},
        {"name": "Bistro Mock", "rating": 4.3, "price": "$"}]),
         Reply(text=prose("bistros in the Marais"))),
    Turn("user", True, "Is a day trip to Lyon doable by train?", Reply(text=prose("Lyon"))),
    Turn("user", False, "And the weather in Lyon on Sunday?",
         tool_call("get_weather", city="Lyon", units="metric")),
    Turn("tool", True, result(city="Lyon", now="20C, sunny", forecast=[
        "21C sunny", "22C sunny", "17C rain"]), Reply(text=prose("the weather in Lyon"))),
]


@dataclass
class Row:
    turn: Turn
    calls: int  # model calls this request made upstream
    usage: dict[str, int]  # the fake's answer to the (last) call
    body: dict[str, Any]
    client_cached: int | None  # usage.prompt_tokens_details.cached_tokens, as the client saw it

    @property
    def total(self) -> int:
        return sum(self.usage.values())

    @property
    def read(self) -> int:
        return self.usage["cache_read_input_tokens"]


def ask(client: openai.OpenAI, messages: list[dict[str, Any]], stream: bool,
        ) -> tuple[dict[str, Any], int | None]:
    """One chat request: the assistant message to append, and the client's cached tokens."""
    request: dict[str, Any] = {"model": MODEL, "messages": messages, "tools": TOOLS}
    if not stream:
        done = client.chat.completions.create(**request)
        message = done.choices[0].message.model_dump(exclude_none=True)
        details = done.usage.prompt_tokens_details if done.usage else None
        return message, details.cached_tokens if details else None
    text, calls, cached = [], {}, None
    for chunk in client.chat.completions.create(**request, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.usage and chunk.usage.prompt_tokens_details:
            cached = chunk.usage.prompt_tokens_details.cached_tokens
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            for call in choice.delta.tool_calls or []:
                into = calls.setdefault(call.index, {"id": "", "type": "function",
                                                     "function": {"name": "", "arguments": ""}})
                into["id"] = call.id or into["id"]
                if call.function:
                    into["function"]["name"] += call.function.name or ""
                    into["function"]["arguments"] += call.function.arguments or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message, cached


def health(url: str) -> dict[str, Any]:
    pools = httpx.get(url + "/health", timeout=10, trust_env=False).json()["pools"]
    return pools[0] if pools else {"idle": 0, "starting": 0, "counts": {}}


def wait_for(url: str, ready: Callable[[dict[str, Any]], bool],
             timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not ready(state := health(url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pool did not get there: {state}")
        time.sleep(0.05)
    return state


def converse(upstream: FakeUpstream, config: Config, evict: bool,
             ) -> tuple[list[Row], dict[str, Any], str]:
    """The conversation on a fresh server and an empty cache: its rows, the pool's counts,
    and what the eviction did."""
    upstream.reset()
    server = ThreadedServer(create_app(config)).start()
    try:
        if config.pool_cap:  # a spare ready, as a server that has been up a moment has
            wait_for(server.url, lambda s: s["idle"] >= 1 and not s["starting"])
        rows, evicted = talk(upstream, server.url, evict)
        counts = health(server.url)["counts"]
    finally:
        server.stop()
    left = wait_for_no_claude(10)
    if left:
        raise RuntimeError(f"Claude processes outlived the server: {left}")
    return rows, counts, evicted


def talk(upstream: FakeUpstream, url: str, evict: bool) -> tuple[list[Row], str]:
    """The turns with the official client, and the eviction's outcome (when ``evict``)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    rows: list[Row] = []
    evicted = "-"
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120,
                       http_client=httpx.Client(trust_env=False)) as client:
        for n, turn in enumerate(TURNS, 1):
            if evict and n == EVICT_BEFORE:
                before = health(url)["counts"].get("expired", 0)
                after = wait_for(url, lambda s: s["idle"] == 0 and not s["starting"])
                evicted = (f"{after['counts'].get('expired', 0) - before} idle process(es) "
                           f"reaped by pool_idle_timeout={IDLE_TIMEOUT:g} s before turn {n}")
            if turn.kind == "user":
                messages.append({"role": "user", "content": turn.content})
            else:
                call = messages[-1]["tool_calls"][0]
                messages.append({"role": "tool", "tool_call_id": call["id"],
                                 "content": turn.content})
            upstream.queue(turn.reply)
            before = len(upstream.usages)
            message, cached = ask(client, messages, turn.stream)
            upstream.check_refusals()
            if len(upstream.usages) == before:
                raise RuntimeError(f"turn {n} made no model call")
            if bool(turn.reply.tools) != bool(message.get("tool_calls")):
                raise RuntimeError(f"turn {n}: unexpected answer {message}")
            messages.append(message)
            rows.append(Row(turn, len(upstream.usages) - before, upstream.usages[-1],
                            upstream.calls[-1], cached))
    return rows, evicted


def share(rows: list[Row]) -> float:
    ideal = sum(r.total for r in rows[:-1])
    return sum(r.read for r in rows[1:]) / ideal if ideal else 0.0


def divergence(before: list[Segment], after: list[Segment], width: int = 90) -> list[str]:
    """Where ``after`` first differs from ``before``: lines for the report."""
    k = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a.text != b.text),
             min(len(before), len(after)))
    if k == len(before):
        return [f"starts with all {k} segments of the turn before"]
    if k == len(after):
        return [f"is a prefix of the turn before ({k} of its {len(before)} segments)"]
    a, b = before[k].text, after[k].text
    c = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, c - 30)

    def cut(text: str) -> str:
        part = json.dumps(text[start:start + width])[1:-1]
        return ("..." if start else "") + part + ("..." if start + width < len(text) else "")

    return [f"first differs at segment {k} ({before[k].where} -> {after[k].where}), "
            f"character {c}:", f"    was: {cut(a)}", f"    now: {cut(b)}"]


def report(name: str, rows: list[Row], counts: dict[str, Any], evicted: str,
           details: bool) -> None:
    print(f"\n### {name}")
    print(f"pool counts: {json.dumps(counts, sort_keys=True)}; eviction: {evicted}")
    print("| turn | request | model calls | read | ideal (n-1 total) | read/ideal | written | "
          "input | total | client cached_tokens |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, row in enumerate(rows, 1):
        ideal = rows[n - 2].total if n > 1 else 0
        kind = ("user" if row.turn.kind == "user" else "tool result") + (
            " -> tool call" if row.turn.reply.tools else "") + (
            ", streamed" if row.turn.stream else "")
        ratio = f"{row.read / ideal:.2f}" if ideal else "-"
        print(f"| {n} | {kind} | {row.calls} | {row.read} | {ideal or '-'} | {ratio} | "
              f"{row.usage['cache_creation_input_tokens']} | {row.usage['input_tokens']} | "
              f"{row.total} | {row.client_cached} |")
    if details:
        print("where each turn's prompt first differs from the turn before's:")
        for n in range(2, len(rows) + 1):
            lines = divergence(cache_segments(rows[n - 2].body), cache_segments(rows[n - 1].body))
            print(f"  turn {n} ({rows[n - 1].turn.kind}): " + "\n".join(lines))


CONFIGS = [
    ("defaults", Config(max_retries=0), False),
    ("pool_max_requests=1", Config(max_retries=0, pool_max_requests=1), False),
    ("pool off (pool_size=0)", Config(max_retries=0, pool_size=0), False),
    (f"sticky eviction (pool_idle_timeout={IDLE_TIMEOUT:g}, pause before turn {EVICT_BEFORE})",
     Config(max_retries=0, pool_idle_timeout=IDLE_TIMEOUT), True),
]


def main() -> None:
    details = "--brief" not in sys.argv
    for name in HOST_CREDENTIALS:
        os.environ.pop(name, None)
    upstream = FakeUpstream(cache=True)
    upstream.start()
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    started = time.monotonic()
    results = []
    try:
        for name, config, evict in CONFIGS:
            rows, counts, evicted = converse(upstream, config, evict)
            report(name, rows, counts, evicted, details)
            results.append((name, share(rows)))
    finally:
        upstream.stop()
    print(f"\n{len(TURNS)} chat requests, model {MODEL}, simulated prompt cache; "
          f"{time.monotonic() - started:.0f} s")
    print("| configuration | read / ideal, turns 2-10 | target | met |")
    print("|---|---|---|---|")
    for name, value in results:
        print(f"| {name} | {value:.2f} | >= {TARGET:.2f} | {'yes' if value >= TARGET else 'NO'} |")


if __name__ == "__main__":
    main()
