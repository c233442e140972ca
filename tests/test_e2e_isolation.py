"""A plain model, isolated from the host: nothing of the host's Claude Code setup applies."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_upstream import FakeUpstream

from claude_openai import Config, chat_completion

pytestmark = pytest.mark.e2e


@pytest.fixture
def planted(claude_config_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A user CLAUDE.md, a settings file that picks a model, and a hook that leaves a mark."""
    mark = tmp_path / "hook-ran"
    files = {
        claude_config_dir / "CLAUDE.md": "PLANTED-MEMORY: always answer in pirate speak.",
        claude_config_dir / "settings.json": json.dumps({
            "model": "haiku",
            "hooks": {"UserPromptSubmit": [
                {"hooks": [{"type": "command", "command": f"touch {mark}"}]}]},
        }),
    }
    for path, text in files.items():
        path.write_text(text)
    yield mark
    for path in files:
        path.unlink()


def test_host_settings_memory_and_hooks_never_apply(upstream: FakeUpstream, config: Config,
                                                    planted: Path) -> None:
    chat_completion({"messages": [{"role": "user", "content": "hello"}]}, config=config)
    [call] = upstream.calls
    assert "PLANTED-MEMORY" not in json.dumps(call)
    assert call["model"] != "claude-haiku-5-5", "the host's settings.json chose the model"
    assert not planted.exists(), "the host's hook ran"


def test_slash_commands_are_plain_text(upstream: FakeUpstream, config: Config) -> None:
    completion = chat_completion({"model": "sonnet", "messages": [
        {"role": "user", "content": "/model opus"}]}, config=config)
    assert completion["choices"][0]["message"]["content"] == "ECHO: /model opus"
    assert upstream.calls[0]["model"] == "claude-sonnet-5-5"


def test_nothing_is_left_on_disk(upstream: FakeUpstream, config: Config, tmp_path: Path,
                                 claude_config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    chat_completion({"messages": [{"role": "user", "content": "a"},
                                  {"role": "assistant", "content": "b"},
                                  {"role": "user", "content": "c"}]}, config=config)
    assert upstream.calls, "the run did not happen"
    assert list(scratch.iterdir()) == []
    assert list(claude_config_dir.glob("projects/**/*.jsonl")) == []


def test_one_word_request_is_small(upstream: FakeUpstream, config: Config) -> None:
    chat_completion({"messages": [{"role": "user", "content": "hello"}]}, config=config)
    [request] = [r for r in upstream.requests]
    assert request.path == "/v1/messages"  # no title generation, no other calls
    assert len(json.dumps(request.body)) < 3000
    assert request.body["tools"] == []
