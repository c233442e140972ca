"""`GET /metrics`: counters and histograms of the chat requests, in Prometheus text format.

The text exposition format (version 0.0.4) is written here rather than with a client library:
``# HELP`` and ``# TYPE`` lines, then one ``name{label="value"} number`` line per sample.
One `Metrics` per app, updated on its event loop only, so it needs no lock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .trace import Trace

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "claude_openai_"
# Seconds: a warm first token comes in tens of milliseconds, a long answer in minutes.
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
POOL_STATES = ("idle", "busy", "starting")

Sample = tuple[str, Mapping[str, str], float]  # name suffix, labels, value


class Histogram:
    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)  # per bucket, not cumulative
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        below = 0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            below += count
            out.append(("_bucket", {"le": number(bound)}, below))
        out.append(("_bucket", {"le": "+Inf"}, self.count))
        out += [("_sum", {}, self.sum), ("_count", {}, self.count)]
        return out


class Metrics:
    """What the app's chat requests did, since it started."""

    def __init__(self) -> None:
        self.requests: Counter[int] = Counter()
        self.refused: Counter[int] = Counter()  # by the guard, before any route: 401, 413
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0
        self.agent_requests: Counter[tuple[str, int]] = Counter()  # by workspace and status
        self.agent_cost_usd: Counter[str] = Counter()  # by workspace
        self.latency = Histogram(LATENCY_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)

    def refuse(self, status: int) -> None:
        """Count one request the guard refused (no valid key, a body over the limit)."""
        self.refused[status] += 1

    def observe(self, trace: Trace) -> None:
        """Count one ended request."""
        self.requests[trace.status or 0] += 1
        if trace.latency is not None:
            self.latency.observe(trace.latency)
        if trace.first_token is not None:
            self.ttft.observe(trace.first_token)
        if (usage := trace.usage) is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.output_tokens
        self.cost_usd += trace.cost_usd or 0.0
        if trace.workspace is not None:
            self.agent_requests[trace.workspace, trace.status or 0] += 1
            self.agent_cost_usd[trace.workspace] += trace.cost_usd or 0.0

    def exposition(self, load: Mapping[str, int], pool: Mapping[str, Any] | None,
                   thinking: Mapping[str, int] | None = None,
                   responses: Mapping[str, int] | None = None) -> str:
        """The whole page: these counters, the limiter's ``load``, the warm ``pool``, the
        ``thinking`` store and the stored ``responses``."""
        pool = pool or {}
        thinking = thinking or {}
        responses = responses or {}
        counts: Mapping[str, int] = pool.get("counts") or {}
        return "".join([
            family("requests_total", "counter",
                   "Requests answered (chat completions and responses), by HTTP status (499: "
                   "client went away).",
                   [("", {"status": str(s)}, n) for s, n in sorted(self.requests.items())]),
            family("refused_requests_total", "counter",
                   "Requests refused before any route, by HTTP status (401: no valid API key, "
                   "413: body over the limit).",
                   [("", {"status": str(s)}, n) for s, n in sorted(self.refused.items())]),
            family("request_duration_seconds", "histogram",
                   "Seconds from a chat request's arrival to the end of its answer.",
                   self.latency.samples()),
            family("time_to_first_token_seconds", "histogram",
                   "Seconds from a chat request's arrival to its first content or tool delta.",
                   self.ttft.samples()),
            family("prompt_tokens_total", "counter", "Prompt tokens, cache reads and writes "
                   "included.", [("", {}, self.prompt_tokens)]),
            family("completion_tokens_total", "counter", "Completion tokens.",
                   [("", {}, self.completion_tokens)]),
            family("cost_usd_total", "counter", "US dollars the Claude Code CLI reckoned the "
                   "runs cost.", [("", {}, self.cost_usd)]),
            family("agent_requests_total", "counter",
                   "Agent requests (model 'agent:NAME') answered, by workspace and HTTP status.",
                   [("", {"workspace": w, "status": str(s)}, n)
                    for (w, s), n in sorted(self.agent_requests.items())]),
            family("agent_cost_usd_total", "counter", "US dollars the agent requests' runs "
                   "cost, by workspace.",
                   [("", {"workspace": w}, c) for w, c in sorted(self.agent_cost_usd.items())]),
            family("requests_in_flight", "gauge", "Claude runs in progress.",
                   [("", {}, load["running"])]),
            family("requests_queued", "gauge", "Requests waiting for a run slot.",
                   [("", {}, load["waiting"])]),
            family("pool_processes", "gauge", "Warm Claude processes, by state.",
                   [("", {"state": s}, pool.get(s, 0)) for s in POOL_STATES]),
            family("pool_events_total", "counter", "What the warm pool did, by event.",
                   [("", {"event": e}, n) for e, n in sorted(counts.items())]),
            family("thinking_store_answers", "gauge", "Answers kept in memory with their "
                   "signed thinking blocks, for later turns.",
                   [("", {}, thinking.get("answers", 0))]),
            family("thinking_store_bytes", "gauge", "Bytes those answers take.",
                   [("", {}, thinking.get("bytes", 0))]),
            family("response_store_responses", "gauge", "Responses API responses kept in "
                   "memory for previous_response_id and retrieval.",
                   [("", {}, responses.get("responses", 0))]),
            family("response_store_bytes", "gauge", "Bytes those responses take.",
                   [("", {}, responses.get("bytes", 0))]),
        ])


def family(name: str, kind: str, help: str, samples: list[Sample]) -> str:
    """One metric: its HELP and TYPE lines and its samples."""
    name = PREFIX + name
    lines = [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
    for suffix, labels, value in samples:
        lines.append(f"{name}{suffix}{_labels(labels)} {number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    """Integers without a fraction, other floats in full precision, infinities as +Inf/-Inf."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
