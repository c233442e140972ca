"""`GET /metrics`: the Prometheus text format, counters that move with real requests, the
limiter's and the pool's gauges, API-key protection, off switch and mount prefix."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fake_upstream import FakeUpstream, Reply
from servers import ThreadedServer
from starlette.applications import Starlette
from starlette.testclient import TestClient

from claude_openai import Config, create_app, mount
from claude_openai._server.cli import parse_config
from claude_openai._server.metrics import Histogram, Metrics, family, number
from claude_openai._server.trace import Trace

KEY = "sk-metrics-test-key"
CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})?'
    r' (?P<value>\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(page: str) -> Samples:
    """Every line checked: HELP/TYPE comments, or ``name{labels} value`` of a declared family;
    every histogram's buckets cumulative, ending in +Inf equal to its _count."""
    assert page.endswith("\n")
    types: dict[str, str] = {}
    samples: Samples = {}
    for line in page.splitlines():
        if line.startswith("# "):
            kind, name, rest = line[2:].split(" ", 2)
            assert kind in ("HELP", "TYPE") and rest, line
            if kind == "TYPE":
                assert rest in ("counter", "gauge", "histogram"), line
                types[name] = rest
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, value = match["name"], float(match["value"])  # float() takes "+Inf"
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert base in types, f"{name} has no # TYPE line"
        if types[base] == "counter":
            assert name.endswith("_total") and value >= 0, line
        labels = tuple(_LABEL.findall(match["labels"] or ""))
        assert (name, labels) not in samples, f"duplicate sample {line!r}"
        samples[(name, labels)] = value
    for name, kind in types.items():
        if kind == "histogram":
            check_histogram(samples, name)
    return samples


def check_histogram(samples: Samples, name: str) -> None:
    buckets = [(float(dict(labels)["le"]), value) for (n, labels), value in samples.items()
               if n == name + "_bucket"]
    assert buckets, f"{name} has no buckets"
    bounds = [b for b, _ in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), f"{name} buckets are not cumulative"
    assert counts[-1] == samples[(name + "_count", ())]
    assert samples[(name + "_sum", ())] >= 0


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(("claude_openai_" + name, tuple(labels.items())), 0.0)


# -- pure ---------------------------------------------------------------------------------------
def test_histogram_buckets_are_cumulative_and_end_in_inf() -> None:
    histogram = Histogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(seconds)
    assert histogram.samples() == [
        ("_bucket", {"le": "0.1"}, 2), ("_bucket", {"le": "1"}, 3),
        ("_bucket", {"le": "+Inf"}, 4), ("_sum", {}, 7.65), ("_count", {}, 4)]


def test_exposition_is_well_formed_and_escapes_labels() -> None:
    metrics = Metrics()
    trace = Trace()
    trace.end(200)
    trace.first_token = 0.2
    metrics.observe(trace)
    page = metrics.exposition({"running": 2, "waiting": 3},
                              {"idle": 1, "busy": 2, "starting": 0, "counts": {"warm": 5}},
                              {"answers": 4, "bytes": 1234}, {"responses": 6, "bytes": 999})
    samples = parse(page)
    assert value(samples, "response_store_responses") == 6
    assert value(samples, "response_store_bytes") == 999
    assert value(samples, "thinking_store_answers") == 4
    assert value(samples, "thinking_store_bytes") == 1234
    assert value(samples, "requests_total", status="200") == 1
    assert value(samples, "time_to_first_token_seconds_count") == 1
    assert value(samples, "requests_in_flight") == 2 and value(samples, "requests_queued") == 3
    assert value(samples, "pool_processes", state="busy") == 2
    assert value(samples, "pool_events_total", event="warm") == 5
    odd = family("x_total", "counter", "odd labels", [("", {"a": 'q"\\\n'}, 1)])
    assert parse(odd) == {("claude_openai_x_total", (("a", 'q\\"\\\\\\n'),)): 1.0}
    assert (number(3.0), number(0.25), number(math.inf)) == ("3", "0.25", "+Inf")


def test_the_parser_rejects_what_prometheus_would() -> None:
    with pytest.raises(AssertionError):
        parse("# TYPE claude_openai_x histogram\nclaude_openai_x_bucket{le=\"1\"} 2\n"
              "claude_openai_x_bucket{le=\"+Inf\"} 1\nclaude_openai_x_count 1\n"
              "claude_openai_x_sum 0\n")
    with pytest.raises(AssertionError):
        parse("claude_openai_undeclared 1\n")
    with pytest.raises(AssertionError):
        parse("# TYPE claude_openai_y gauge\nclaude_openai_y{a=b} 1\n")


# -- the app ------------------------------------------------------------------------------------
def test_metrics_need_the_key_when_keys_are_set() -> None:
    client = TestClient(create_app(Config(api_key=KEY, pool_size=0)))
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/metrics").status_code == 401
    answered = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    parse(answered.text)
    assert client.get("/health").status_code in (200, 503)  # probes stay open


def test_requests_the_guard_refuses_are_counted() -> None:
    client = TestClient(create_app(Config(api_key=KEY, pool_size=0, max_body_bytes=2048)))
    keyed = {"Authorization": f"Bearer {KEY}"}
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 401
    assert client.post("/v1/chat/completions", json=CHAT,
                       headers={"Authorization": "Bearer wrong"}).status_code == 401
    big = {"messages": [{"role": "user", "content": "x" * 4096}]}
    assert client.post("/v1/chat/completions", json=big, headers=keyed).status_code == 413
    samples = parse(client.get("/metrics", headers=keyed).text)
    assert value(samples, "refused_requests_total", status="401") == 2
    assert value(samples, "refused_requests_total", status="413") == 1


def test_metrics_can_be_turned_off() -> None:
    client = TestClient(create_app(Config(metrics=False, pool_size=0)))
    response = client.get("/metrics")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert parse_config(["serve", "--no-metrics"], {}).metrics is False
    assert parse_config(["serve"], {"CLAUDE_OPENAI_METRICS": "false"}).metrics is False
    assert parse_config(["serve", "--metrics"], {"CLAUDE_OPENAI_METRICS": "0"}).metrics is True
    assert Config().metrics is True


@pytest.mark.e2e
def test_counters_move_with_real_requests(upstream: FakeUpstream, config: Config) -> None:
    client = TestClient(create_app(config))
    before = parse(client.get("/metrics").text)
    assert value(before, "requests_total", status="200") == 0
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert client.post("/v1/chat/completions", json={**CHAT, "stream": True}).status_code == 200
    assert client.post("/v1/chat/completions", json={**CHAT, "n": 2}).status_code == 400
    upstream.queue(Reply(status=529))
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 503
    after = parse(client.get("/v1/metrics").text)
    assert value(after, "requests_total", status="200") == 2
    assert value(after, "requests_total", status="400") == 1
    assert value(after, "requests_total", status="503") == 1
    assert value(after, "request_duration_seconds_count") == 4
    assert value(after, "time_to_first_token_seconds_count") == 2  # the two that answered
    assert 0 < value(after, "time_to_first_token_seconds_sum") < value(
        after, "request_duration_seconds_sum")
    assert value(after, "prompt_tokens_total") == 2 * 19  # the fake's 11 + 3 + 5 per call
    assert value(after, "completion_tokens_total") == 2 * 2  # "ECHO:", " hi"
    assert value(after, "cost_usd_total") > 0
    assert value(after, "requests_in_flight") == 0 and value(after, "requests_queued") == 0
    # the answers are kept for later turns, and the store's size shows
    assert value(after, "thinking_store_answers") >= 1
    assert value(after, "thinking_store_bytes") > 0


@pytest.mark.e2e
def test_mounted_metrics_live_under_the_prefix(upstream: FakeUpstream, config: Config) -> None:
    host = Starlette()
    mount(host, "/openai/v1", config=config)
    client = TestClient(host)
    assert client.post("/openai/v1/chat/completions", json=CHAT).status_code == 200
    samples = parse(client.get("/openai/v1/metrics").text)
    assert value(samples, "requests_total", status="200") == 1
    assert client.get("/metrics").status_code == 404


def wait_for(read: Callable[[], Samples], check: Callable[[Samples], bool]) -> Samples:
    deadline = time.monotonic() + 20
    while not check(samples := read()):
        assert time.monotonic() < deadline, samples
        time.sleep(0.05)
    return samples


@pytest.mark.e2e
def test_load_and_pool_gauges_follow_a_running_server(upstream: FakeUpstream) -> None:
    config = Config(pool_size=1, pool_spares=1, max_concurrent=1, max_queue=4, max_retries=0,
                    timeout=60)
    server = ThreadedServer(create_app(config)).start()
    http = httpx.Client(base_url=server.url, timeout=30)
    read: Callable[[], Samples] = lambda: parse(http.get("/metrics").text)  # noqa: E731
    queued: list[Any] = []
    try:
        wait_for(read, lambda s: value(s, "pool_processes", state="idle") == 1)
        upstream.queue(Reply(text="one two three four five six", delay=0.3), Reply())
        with http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as slow:
            lines = slow.iter_lines()  # kept: dropping it would close the stream
            next(lines)  # the stream has begun
            running = read()
            assert value(running, "requests_in_flight") == 1
            assert value(running, "pool_processes", state="busy") == 1
            waiter = threading.Thread(target=lambda: queued.append(
                http.post("/v1/chat/completions", json=CHAT)))
            waiter.start()
            wait_for(read, lambda s: value(s, "requests_queued") == 1)
            assert "data: [DONE]" in list(lines)
        waiter.join(30)
        assert queued[0].status_code == 200
        done = wait_for(read, lambda s: value(s, "requests_in_flight") == 0)
        assert value(done, "requests_total", status="200") == 2
        assert value(done, "requests_queued") == 0
        assert value(done, "pool_events_total", event="warm") >= 1
        assert value(done, "time_to_first_token_seconds_count") == 2
    finally:
        http.close()
        server.stop()
