"""Warm pool benchmarks: latency, server overhead, concurrency, memory and a long stream.

Real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no credentials,
no network).  Each figure is a median over N runs, and every ratio is taken inside this one run,
so the machine's noise cancels out.  It prints a table with the issue's targets.

    python benchmarks/pool.py [N] [--fresh] [--no-prime]   # N runs per figure, default 7

The package defaults: warm processes reused after a rewind (``pool_max_requests=100``), new
ones primed with throwaway queries to a local stand-in API (``pool_prime``).  ``--fresh``
measures ``pool_max_requests=1`` (a new process per request); ``--no-prime`` turns priming off.

(b) times requests with a raw keep-alive socket client, so the figure is the server's, not an
HTTP client library's.  (c) runs twice: with the fake answering like a model (30 deltas 20 ms
apart), which is what the target is about (does the server run requests side by side?), and
answering at once, which measures only CPU per request on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream, Reply  # noqa: E402
from servers import claude_children, rss_mb  # noqa: E402

from claude_openai import (  # noqa: E402
    Config,
    aclose_pools,
    astream_chat_completion,
)
from claude_openai._engine.runtime import pool_for  # noqa: E402
from claude_openai._server.health import bundled_cli  # noqa: E402

ASK = {"messages": [{"role": "user", "content": "hello"}]}
COLD = Config(max_retries=0, pool_size=0)


FRESH = "--fresh" in sys.argv
PRIME = "--no-prime" not in sys.argv


def warm(n: int) -> Config:
    return Config(max_retries=0, pool_size=n, pool_spares=n, pool_prime=PRIME,
                  pool_max_requests=1 if FRESH else 100)


async def ready(config: Config, idle: int) -> None:
    pool = pool_for(config)
    await pool.start()
    with anyio.fail_after(120):
        while len(pool.idle) < idle or pool.starting:
            await anyio.sleep(0.02)


async def timed(config: Config, request: dict[str, Any] = ASK) -> tuple[float, float]:
    """Time to first token and total, in seconds, through the library."""
    start, first = time.perf_counter(), 0.0
    async for chunk in astream_chat_completion(request, config=config):
        if not first and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            first = time.perf_counter() - start
    return first, time.perf_counter() - start


def direct_cli(workdir: str) -> float:
    """Time to the first text delta of a plain ``claude -p`` run."""
    start = time.perf_counter()
    with subprocess.Popen(
            [str(bundled_cli()), "-p", "hello", "--output-format", "stream-json", "--verbose",
             "--include-partial-messages"], cwd=workdir, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=os.environ.copy()) as cli:
        assert cli.stdout is not None
        for line in cli.stdout:
            if b'"text_delta"' in line:
                first = time.perf_counter() - start
                break
        cli.wait()
    return first


async def latency(runs: int, workdir: str) -> dict[str, float]:
    cold = [await timed(COLD) for _ in range(runs)]
    config = warm(1)
    warm_runs = []
    for _ in range(runs):
        await ready(config, 1)
        warm_runs.append(await timed(config))
    direct = [await anyio.to_thread.run_sync(direct_cli, workdir) for _ in range(runs)]
    await aclose_pools()
    return {"cold_ttft": statistics.median(r[0] for r in cold),
            "cold_total": statistics.median(r[1] for r in cold),
            "warm_ttft": statistics.median(r[0] for r in warm_runs),
            "warm_total": statistics.median(r[1] for r in warm_runs),
            "direct_ttft": statistics.median(direct)}


def _raw_post(sock: socket.socket, path: str, body: bytes) -> float:
    """One request on a kept-alive connection, timed from the first byte sent to the last
    byte received: a client that costs microseconds, so what it measures is the server."""
    request = (f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
               f"content-length: {len(body)}\r\n\r\n").encode() + body
    start = time.perf_counter()
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return time.perf_counter() - start


async def overhead(runs: int, port: int = 8765) -> dict[str, float]:
    """The server's own overhead: for the same requests, the time a client sees over HTTP
    against the time the library call took inside `claude-openai serve` (its log line)."""
    config = warm(1)
    flags = ["--pool-size", "1", "--pool-spares", "1", "--max-retries", "0",
             "--pool-prime" if PRIME else "--no-pool-prime",
             "--pool-max-requests", str(config.pool_max_requests), "--log-level", "info"]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")
    server = subprocess.Popen([sys.executable, "-m", "claude_openai", "serve", "--port", str(port),
                               *flags], env=os.environ.copy(), stdout=subprocess.DEVNULL,
                              stderr=log)
    body = json.dumps(ASK).encode()
    http = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).json()["pools"]:
                        break
                await anyio.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for _ in range(runs):
                await anyio.sleep(0.8)  # the server's spare is ready again
                http.append(_raw_post(sock, "/v1/chat/completions", body))
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    inside = [float(line.split("latency=")[1].split("s")[0]) for line in log
              if "chatcmpl-" in line and "status=200" in line][-runs:]
    log.close()
    gaps = [outside - handler for outside, handler in zip(http, inside, strict=True)]
    return {"http_total": statistics.median(http), "handler_total": statistics.median(inside),
            "overhead": statistics.median(gaps)}


async def _outcome(config: Config, outcomes: list[bool]) -> None:
    try:
        await timed(config)
        outcomes.append(True)
    except Exception:
        outcomes.append(False)


# A model-like answer: 30 deltas, 20 ms apart (about 0.6 s, a short reply at model speed).
def model_like() -> Reply:
    return Reply(deltas=[f"w{i} " for i in range(30)], delay=0.02)


async def concurrency(upstream: FakeUpstream, levels: tuple[int, ...], paced: bool,
                      runs: int) -> dict[int, tuple[float, int]]:
    """Median wall time of ``level`` requests at once on a pool of warm processes, and the
    failures over all runs.  ``paced``: the fake answers like a model; else at once."""
    config = warm(max(levels))
    results = {}
    for level in levels:
        walls, outcomes = [], []
        for _ in range(runs):
            await ready(config, level)
            if paced:
                upstream.queue(*[model_like() for _ in range(level)])
            start = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(level):
                    group.start_soon(_outcome, config, outcomes)
            walls.append(time.perf_counter() - start)
        results[level] = (statistics.median(walls), outcomes.count(False))
    upstream.reset()
    await aclose_pools()
    return results


async def memory(upstream: FakeUpstream, level: int) -> dict[str, float]:
    config = warm(level)
    await ready(config, level)
    idle = [rss_mb(pid) for pid in claude_children()]
    upstream.queue(*[Reply(text=" ".join(["w"] * 40), delay=0.02) for _ in range(level)])
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            tree = rss_mb(os.getpid()) + sum(rss_mb(pid) for pid in claude_children())
            peak = max(peak, tree)
            await anyio.sleep(0.05)

    async with anyio.create_task_group() as group:
        group.start_soon(sample)
        async with anyio.create_task_group() as requests:
            for _ in range(level):
                requests.start_soon(timed, config)
        group.cancel_scope.cancel()
    await aclose_pools()
    return {"per_process": statistics.median(idle), "max_process": max(idle), "tree_peak": peak}


async def long_stream(upstream: FakeUpstream, deltas: int) -> dict[str, float]:
    config = warm(1)
    await ready(config, 1)
    upstream.reset()
    upstream.queue(Reply(deltas=[f"{i} " for i in range(deltas)], delay=0.001))
    times, texts = [], []
    async for chunk in astream_chat_completion(ASK, config=config):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            times.append(time.perf_counter())
            texts.append(chunk["choices"][0]["delta"]["content"])
    await aclose_pools()
    first, last = upstream.send_times[0]
    return {"received": len(texts), "in_order": float(texts == [f"{i} " for i in range(deltas)]),
            "client_window": times[-1] - times[0], "upstream_window": last - first}


def row(name: str, value: str, target: str, ok: bool) -> str:
    return f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |"


async def main(runs: int) -> None:
    upstream = FakeUpstream()
    upstream.start()
    workdir = tempfile.mkdtemp(prefix="bench-")
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    try:
        lat = await latency(runs, workdir)
        over = await overhead(runs)
        conc = await concurrency(upstream, (1, 4, 16), paced=True, runs=min(runs, 5))
        instant = await concurrency(upstream, (1, 4, 16), paced=False, runs=min(runs, 5))
        mem = await memory(upstream, 16)
        stream = await long_stream(upstream, 3000)
    finally:
        upstream.stop()
    ms = 1000
    ttft_ratio = lat["warm_ttft"] / lat["direct_ttft"]
    overhead_ms = over["overhead"] * ms
    stream_ratio = stream["client_window"] / stream["upstream_window"]
    mode = "a new process per request (--fresh)" if FRESH else "reused after a rewind (default)"
    mode += ", primed" if PRIME else ", not primed (--no-prime)"
    print(f"runs per figure: {runs}; warm processes: {mode}; {os.cpu_count()} cores, "
          f"{sys.platform}")
    print("| measure | result | target | met |")
    print("|---|---|---|---|")
    print(row("(a) time to first token: warm / direct cold `claude -p`",
              f"{lat['warm_ttft'] * ms:.0f} ms / {lat['direct_ttft'] * ms:.0f} ms = "
              f"{ttft_ratio:.3f}x (cold spawn: {lat['cold_ttft'] * ms:.0f} ms)",
              "<= 0.08x", ttft_ratio <= 0.08))
    print(row("(a) total for one request: warm / cold spawn",
              f"{lat['warm_total'] * ms:.0f} ms / {lat['cold_total'] * ms:.0f} ms", "-", True))
    print(row("(b) server overhead: client-seen HTTP time - the library call inside the server",
              f"median {overhead_ms:.1f} ms (HTTP {over['http_total'] * ms:.1f} ms, library "
              f"{over['handler_total'] * ms:.1f} ms)", "<= 2 ms", overhead_ms <= 2))
    for name, results in (("model-like reply (30 deltas, 20 ms apart)", conc),
                          ("instant reply: CPU only", instant)):
        for level, (wall, failed) in results.items():
            ratio = wall / results[1][0]
            target = level == 16 and results is conc
            print(row(f"(c) {level} concurrent, {name}: wall, failures",
                      f"{wall * ms:.0f} ms ({ratio:.2f}x one), {failed} failed",
                      "0 failed, <= 3x one" if target else "-",
                      failed == 0 and (not target or ratio <= 3)))
    print(row("(d) memory per warm process (median / max RSS)",
              f"{mem['per_process']:.0f} / {mem['max_process']:.0f} MB", "<= 200 MB",
              mem["max_process"] <= 200))
    print(row("(d) whole tree, 16 in flight (peak RSS)", f"{mem['tree_peak']:.0f} MB", "-", True))
    print(row("(e) 3,000-delta stream: client window / upstream send window",
              f"{stream['client_window'] * ms:.0f} / {stream['upstream_window'] * ms:.0f} ms = "
              f"{stream_ratio:.2f}x; {stream['received']:.0f} deltas, in order: "
              f"{bool(stream['in_order'])}", "<= 1.2x, all in order",
              stream_ratio <= 1.2 and stream["received"] == 3000 and bool(stream["in_order"])))


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    anyio.run(main, int(numbers[0]) if numbers else 7)
