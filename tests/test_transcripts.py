"""Transcripts (``transcripts_dir``): one private JSON file per chat request, from the server
and from the library functions; the request body and the answer, never a key."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import pytest
from fake_upstream import FakeUpstream, Reply
from starlette.testclient import TestClient

from claude_openai import (
    Config,
    astream_chat_completion,
    chat_completion,
    create_app,
    stream_chat_completion,
)
from claude_openai._server.trace import Trace
from claude_openai._server.transcript_files import file_name, save, transcript

KEY = "sk-transcript-key-4242"
CHAT = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}


def records(folder: Path) -> dict[str, dict[str, Any]]:
    """Each transcript by its request id (its completion id when it has none)."""
    found = {}
    for path in sorted(folder.iterdir()):
        assert path.suffix == ".json" and not path.name.startswith("."), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        record = json.loads(path.read_text())
        assert record["id"] in path.name
        found[record["request_id"] or record["id"]] = record
    return found


@pytest.mark.e2e
def test_the_server_writes_one_private_file_per_request(upstream: FakeUpstream,
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"
    config = Config(api_key=KEY, pool_size=0, max_retries=0, transcripts_dir=str(folder))
    client = TestClient(create_app(config))

    def post(request_id: str, body: dict[str, Any]) -> Any:
        return client.post("/v1/chat/completions", json=body, headers={
            "Authorization": f"Bearer {KEY}", "X-Request-ID": request_id})

    plain = post("../../escape", CHAT)
    streamed = post("stream-1", {**CHAT, "stream": True})
    upstream.queue(Reply(text="a b c d", fail_after=2))
    cut = post("cut-1", {**CHAT, "stream": True})
    invalid = post("bad-1", {**CHAT, "n": 2})
    assert [r.status_code for r in (plain, streamed, cut, invalid)] == [200, 200, 200, 400]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    found = records(folder)
    assert set(found) == {"../../escape", "stream-1", "cut-1", "bad-1"}
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(files) == 4, files  # nothing else, no leftover partial file
    assert not [path for path in files if KEY.encode() in path.read_bytes()]

    one = found["../../escape"]
    assert (one["status"], one["error"], one["stream"]) == (200, None, False)
    assert one["request"] == CHAT and one["response"] == plain.json()
    assert one["model"] == "claude-sonnet-5-5" and one["cost_usd"] > 0
    timings = one["timings"]
    assert 0 < timings["time_to_first_token"] <= timings["total"]
    assert timings["started"].endswith("Z")

    two = found["stream-1"]
    assert two["status"] == 200 and two["request"]["stream"] is True
    assert two["chunks"] == 3  # "ECHO:", " hi", the finish reason
    assert two["response"]["id"] == two["id"]
    assert two["response"]["choices"][0]["message"]["content"] == "ECHO: hi"
    assert two["response"]["choices"][0]["finish_reason"] == "stop"

    three = found["cut-1"]
    assert (three["status"], three["error"]["code"]) == (503, "upstream_overloaded")
    assert three["response"]["choices"][0]["message"]["content"] == "a b"
    assert three["response"]["choices"][0]["finish_reason"] is None  # it never finished
    assert three["chunks"] == 2

    four = found["bad-1"]
    assert (four["status"], four["error"]["param"], four["response"]) == (400, "n", None)
    assert four["request"] == {**CHAT, "n": 2}


@pytest.mark.e2e
def test_the_library_functions_write_transcripts_too(upstream: FakeUpstream,
                                                     config: Config, tmp_path: Path) -> None:
    config = dataclasses.replace(config, transcripts_dir=str(tmp_path))
    completion = chat_completion(CHAT, config=config)
    chunks = list(stream_chat_completion({**CHAT, "stream": True}, config=config))

    async def leave_early() -> str:
        async with aclosing(astream_chat_completion({**CHAT, "stream": True},
                                                    config=config)) as stream:
            async for chunk in stream:
                return str(chunk["id"])
        raise AssertionError("no chunk")

    upstream.queue(Reply(), Reply(), Reply(text="one two three four", delay=0.2))
    left = anyio.run(leave_early)
    found = records(tmp_path)
    assert found[completion["id"]]["response"] == completion
    assert found[completion["id"]]["request_id"] is None
    streamed = found[chunks[0]["id"]]
    assert (streamed["status"], streamed["chunks"]) == (200, len(chunks))
    assert found[left]["status"] == 499 and found[left]["chunks"] == 1


def test_file_names_are_safe_and_sortable() -> None:
    trace = Trace(request_id="../../etc/passwd", started_at=0.5)
    name = file_name(trace)
    assert name == f"19700101T000000.500000Z_etc_passwd_{trace.id}.json"
    assert "/" not in file_name(Trace(request_id="/" * 200))
    assert file_name(Trace(started_at=0.0)).startswith("19700101T000000.000000Z_chatcmpl-")


def test_a_failed_write_is_logged_not_raised(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    trace = Trace()
    trace.end(200)
    with caplog.at_level(logging.WARNING, logger="claude_openai"):
        anyio.run(save, str(blocker), trace)
    assert "could not write the transcript" in caplog.text
    assert transcript(trace)["response"] is None


def test_retention_deletes_the_old_and_the_oldest_beyond_the_count(tmp_path: Path) -> None:
    import os
    import time

    from claude_openai._server.transcript_files import prune

    now = time.time()
    names = [file_name(Trace(started_at=float(t))) for t in range(1, 7)]  # oldest first
    for i, name in enumerate(names):
        (tmp_path / name).write_text("{}")
        os.utime(tmp_path / name, (now - 3600 * (6 - i), now - 3600 * (6 - i)))
    (tmp_path / "notes.json").write_text("mine")  # not a transcript: never touched
    (tmp_path / "notes.json").touch()
    os.utime(tmp_path / "notes.json", (0, 0))
    assert prune(str(tmp_path), max_age=3.5 * 3600, max_files=2, now=now) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[-2:], "notes.json"])
    assert prune(str(tmp_path), max_age=0, max_files=0, now=now + 10**9) == 0


def test_the_server_applies_the_retention(upstream: FakeUpstream, tmp_path: Path) -> None:
    import claude_openai._server.transcript_files as files

    files._pruned.clear()
    old = tmp_path / file_name(Trace(started_at=1.0))
    old.parent.mkdir(exist_ok=True)
    old.write_text("{}")
    config = Config(timeout=60, max_retries=0, pool_size=0, transcripts_dir=str(tmp_path),
                    transcripts_max_files=1)
    client = TestClient(create_app(config))
    assert client.post("/v1/chat/completions", json={"messages": [
        {"role": "user", "content": "hi"}]}).status_code == 200
    [kept] = list(tmp_path.glob("*.json"))
    assert kept != old and json.loads(kept.read_text())["status"] == 200
