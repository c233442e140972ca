"""Fixtures: the fake Anthropic upstream on 127.0.0.1, and the CLI's environment pointed at it.

The real Claude Code CLI bundled with claude-agent-sdk runs in every end-to-end test; the only
fake is the model.  The CLI gets ``ANTHROPIC_BASE_URL`` (the fake), ``ANTHROPIC_API_KEY=sk-fake``
and an empty ``CLAUDE_CONFIG_DIR``, and none of the host's other credentials.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_upstream import FakeUpstream, describe_refusal  # noqa: E402
from servers import wait_for_no_claude  # noqa: E402

from claude_openai import Config  # noqa: E402

HOST_CREDENTIALS = (
    "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY", "ANTHROPIC_MODEL",
)


@pytest.fixture(scope="session")
def claude_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("claude-config")


@pytest.fixture(scope="session")
def upstream_server(claude_config_dir: Path) -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for name in HOST_CREDENTIALS:
            mp.delenv(name, raising=False)
        mp.setenv("ANTHROPIC_BASE_URL", server.url)
        mp.setenv("ANTHROPIC_API_KEY", "sk-fake")
        mp.setenv("CLAUDE_CONFIG_DIR", str(claude_config_dir))
        mp.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        yield server
    server.stop()
    server.reset()  # the last test's refusals, if nobody checked them, count as stray too
    assert server.stray_refusals == [], (
        "the fake API refused requests outside any test's `upstream` fixture:\n"
        + "\n".join(describe_refusal(b, m) for b, m in server.stray_refusals))


@pytest.fixture
def upstream(upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The fake upstream, emptied for this test; checks no CLI process outlives the test, and
    that the fake refused nothing (unless the test called ``upstream.expect_refusals()``): a 400
    the project handled quietly would otherwise pass unseen."""
    upstream_server.reset()
    yield upstream_server
    left = wait_for_no_claude()
    upstream_server.check_refusals()
    assert left == [], "a Claude Code CLI process outlived the test"


@pytest.fixture(autouse=True)
def no_leftover_event_loop() -> Iterator[None]:
    """Close an event loop a library left set on this thread (LiteLLM's sync service logger
    calls ``asyncio.get_event_loop()``, which makes one and never closes it): else it is
    collected in some later test and its ResourceWarning fails the run."""
    yield
    policy = asyncio.get_event_loop_policy()
    loop = getattr(getattr(policy, "_local", None), "_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()
        policy.set_event_loop(None)


@pytest.fixture
def config() -> Config:
    """Cold runs (a process per request): the feature tests see one CLI run per request."""
    return Config(timeout=60, max_retries=0, pool_size=0)
