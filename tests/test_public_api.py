"""The public surface: a sorted, complete export list; sync twins in step with async ones;
the README's compatibility table in step with the field policy."""

from __future__ import annotations

import inspect
from pathlib import Path

import claude_openai
from claude_openai._chat.policy import FIELDS, compatibility_table
from claude_openai._responses import policy as responses_policy

README = Path(__file__).parent.parent / "README.md"


def test_exports_are_sorted_and_complete() -> None:
    assert claude_openai.__all__ == sorted(claude_openai.__all__)
    public = {n for n in dir(claude_openai) if not n.startswith("_")} - {"annotations"}
    assert public == set(claude_openai.__all__) - {"__version__"}


def test_sync_twins_share_the_async_signatures() -> None:
    for name in ("chat_completion", "stream_chat_completion", "create_response",
                 "stream_response"):
        sync = inspect.signature(getattr(claude_openai, name))
        async_ = inspect.signature(getattr(claude_openai, "a" + name))
        assert list(sync.parameters.values()) == list(async_.parameters.values())


def test_readme_compatibility_table_is_the_policy_data() -> None:
    readme = README.read_text()
    assert compatibility_table() in readme
    for field in FIELDS:
        assert f"| `{field.name}` | {field.support} |" in readme


def test_readme_responses_table_is_the_policy_data() -> None:
    assert responses_policy.compatibility_table() in README.read_text()


def test_readme_configuration_table_lists_every_field() -> None:
    import dataclasses

    from claude_openai import Config
    from claude_openai._config import env_name, flag_name

    readme = README.read_text()
    for f in dataclasses.fields(Config):
        assert f"| `{f.name}` | `{flag_name(f.name)}` | `{env_name(f.name)}` |" in readme
