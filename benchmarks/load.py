"""Load: 50 concurrent requests against `claude-openai serve`, 10 of them leaving mid-stream.

Real bundled CLI against the tests' fake Anthropic API on 127.0.0.1 (no credentials, no
network).  Reports failures, wall time, the server tree's memory (idle, peak, just after, and
once the pool's idle processes have expired: ``--pool-idle-timeout`` is 8 s here) and whether
any Claude process outlives the server.  Bounded: one round, then it stops.

    python benchmarks/load.py [--requests 50] [--leavers 10]
"""

from __future__ import annotations

import argparse
import os
import signal
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

IDLE_TIMEOUT = 8  # seconds: the server's --pool-idle-timeout


def tree_mb(pid: int) -> float:
    return sum(rss_mb(proc) for proc in [pid, *children_of(pid)])


async def one(client: httpx.AsyncClient, leave: bool, outcomes: list[str]) -> None:
    body = {"messages": [{"role": "user", "content": "load"}], "stream": True}
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                outcomes.append(f"status {response.status_code}")
                return
            async for line in response.aiter_lines():
                if leave and line.startswith("data: {"):
                    outcomes.append("left")
                    return
            outcomes.append("ok")
    except httpx.HTTPError as exc:
        outcomes.append(f"error {type(exc).__name__}")


async def run(port: int, requests: int, leavers: int, server: int) -> dict[str, object]:
    outcomes: list[str] = []
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, tree_mb(server))
            await anyio.sleep(0.1)

    start = time.perf_counter()
    limits = httpx.Limits(max_connections=requests)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                 limits=limits) as client, anyio.create_task_group() as group:
        group.start_soon(sample)
        async with anyio.create_task_group() as load:
            for i in range(requests):
                load.start_soon(one, client, i < leavers, outcomes)
        group.cancel_scope.cancel()
    return {"outcomes": outcomes, "wall": time.perf_counter() - start, "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--leavers", type=int, default=10)
    args = parser.parse_args()
    upstream = FakeUpstream()
    upstream.start()
    # every stream is slow enough that leaving mid-stream really cuts it
    upstream.queue(*[Reply(text=" ".join(["w"] * 30), delay=0.02) for _ in range(args.requests)])
    env = {**os.environ, "ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-fake",
           "CLAUDE_CONFIG_DIR": tempfile.mkdtemp(prefix="bench-config-")}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "claude_openai", "serve", "--port",
                               str(port), "--max-retries", "0", "--max-queue", "64",
                               "--queue-timeout", "120", "--log-level", "warning",
                               "--pool-idle-timeout", str(IDLE_TIMEOUT)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(2)  # the pool's spares are up
        idle = tree_mb(server.pid)
        result = anyio.run(run, port, args.requests, args.leavers, server.pid)
        time.sleep(3)  # refills settle
        after = tree_mb(server.pid)
        clis = children_of(server.pid)
        time.sleep(IDLE_TIMEOUT + 4)  # idle warm processes expire (the reaper looks every 2 s)
        expired = tree_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        upstream.stop()
    left_over = [pid for pid in clis if os.path.exists(f"/proc/{pid}")]
    outcomes = result["outcomes"]
    assert isinstance(outcomes, list)
    ok = outcomes.count("ok")
    failed = [o for o in outcomes if o not in ("ok", "left")]
    print(f"{args.requests} concurrent streams, {args.leavers} leaving after the first chunk")
    print(f"succeeded: {ok}/{args.requests - args.leavers}; left: {outcomes.count('left')}; "
          f"failed: {len(failed)} {sorted(set(failed))}")
    print(f"wall time: {result['wall']:.2f} s")
    print(f"server tree RSS: idle {idle:.0f} MB, peak {result['peak']:.0f} MB, "
          f"just after {after:.0f} MB ({after / idle:.2f}x idle; the pool keeps its warm "
          f"processes), after the idle timeout {expired:.0f} MB ({expired / idle:.2f}x idle)")
    print(f"Claude processes left after SIGTERM: {len(left_over)}")


if __name__ == "__main__":
    main()
