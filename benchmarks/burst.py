"""Bursts through `claude-openai serve`: 16 requests at once, twice, then the memory once idle.

Real bundled Claude Code CLI against the tests' fake Anthropic API on 127.0.0.1 (no credentials,
no network); the fake answers like a model (10 deltas 100 ms apart, about 1 s).  Ratios are
taken inside one run against one request on the same server.  Each setup is a fresh `serve`:
the package defaults, and ``--pool-size 4`` (the fixed pool of the release before).

    python benchmarks/burst.py [--idle-timeout SECONDS]   # default: the package's (300 s)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_upstream import FakeUpstream, Reply  # noqa: E402
from servers import children_of, rss_mb  # noqa: E402

BURST = 16


def model_like() -> Reply:
    return Reply(deltas=[f" w{i}" for i in range(10)], delay=0.1)


def tree_mb(pid: int) -> float:
    return rss_mb(pid) + sum(rss_mb(child) for child in children_of(pid))


def start_serve(*flags: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "claude_openai", "serve", "--port", str(port), *flags],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = httpx.get(url + "/health", timeout=1).json()
            if health["pools"] and health["pools"][0]["idle"] >= 1:
                return process, url
        except (httpx.TransportError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.1)
    raise RuntimeError("serve did not start")


async def burst(url: str, upstream: FakeUpstream, n: int) -> tuple[float, int]:
    """Wall seconds for ``n`` requests sent at once, and how many succeeded."""
    upstream.queue(*[model_like() for _ in range(n)])
    ok = 0

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal ok
        response = await client.post(url + "/chat/completions", json={
            "messages": [{"role": "user", "content": f"request {i}"}]})
        ok += response.status_code == 200

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as client, anyio.create_task_group() as group:
        for i in range(n):
            group.start_soon(one, client, i)
    return time.perf_counter() - start, ok


def measure(upstream: FakeUpstream, idle_timeout: float | None, *flags: str) -> dict[str, float]:
    extra = [*flags, *(["--pool-idle-timeout", str(idle_timeout)] if idle_timeout else [])]
    process, url = start_serve(*extra)
    try:
        time.sleep(2)  # settled: the spare primed
        idle = tree_mb(process.pid)
        one, _ = anyio.run(burst, url, upstream, 1)
        first, first_ok = anyio.run(burst, url, upstream, BURST)
        peak = tree_mb(process.pid)
        second, second_ok = anyio.run(burst, url, upstream, BURST)
        wait = (idle_timeout or 300.0) + min((idle_timeout or 300.0) / 4, 30.0) + 2
        time.sleep(wait)
        after = tree_mb(process.pid)
        kept = len(children_of(process.pid))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"one": one, "first": first / one, "first_ok": first_ok, "second": second / one,
            "second_ok": second_ok, "idle_mb": idle, "peak_mb": peak, "after_mb": after,
            "after_idle": after / idle, "processes_after": kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="--pool-idle-timeout for serve (default: the package's)")
    args = parser.parse_args()
    upstream = FakeUpstream()
    upstream.start()
    os.environ.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-fake",
                      CLAUDE_CONFIG_DIR=tempfile.mkdtemp(prefix="bench-config-"))
    try:
        rows = {"defaults": measure(upstream, args.idle_timeout),
                "--pool-size 4 (before)": measure(upstream, args.idle_timeout,
                                                  "--pool-size", "4")}
    finally:
        upstream.stop()
    print(f"{BURST} requests at once, model-like replies (10 deltas 100 ms apart); "
          f"{os.cpu_count()} cores")
    print("| setup | one request | first burst | second burst | memory idle / peak / after "
          "the idle timeout | processes left |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['one'] * 1000:.0f} ms | {r['first']:.2f}x, {r['first_ok']:.0f}/"
              f"{BURST} | {r['second']:.2f}x, {r['second_ok']:.0f}/{BURST} | "
              f"{r['idle_mb']:.0f} / {r['peak_mb']:.0f} / {r['after_mb']:.0f} MB "
              f"({r['after_idle']:.2f}x idle) | {r['processes_after']:.0f} |")
    print("targets: first burst <= 5x one request, second <= 3x, 16/16 both times; memory "
          "after the idle timeout within 1.10x idle")


if __name__ == "__main__":
    main()
