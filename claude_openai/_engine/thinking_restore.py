"""PURE: an OpenAI history's assistant turns with their thinking blocks put back.

The API's rules (``../shared/docs/thinking.md`` §1): the assistant turn in progress (every
assistant message since the last user message that hands back no tool result) must come back
with its thinking blocks unmodified, all of them or none; with manual thinking it must start with
one.  Earlier turns' thinking may be dropped, but only as a leading run: a hole in the middle
invalidates every later block on models that bind thinking to its prefix.

So, for each assistant message: its stored answer (`ThinkingStore.find`), else the signed blocks
the client carried back, else nothing.  Then every turn up to the newest one that could not be
restored goes back without thinking, and the turn in progress is restored whole or not at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .answer_blocks import THINKING_TYPES, Block, without_thinking
from .thinking_store import StoredAnswer
from .turns import Turn

Finder = Callable[[list[Block], str], "StoredAnswer | None"]


@dataclasses.dataclass(frozen=True)
class Restored:
    turns: list[Turn]
    # The tool turn in progress goes back without a leading thinking block: a manual-thinking
    # model must answer this request with thinking off (the API would refuse it otherwise).
    opens_without_thinking: bool = False
    restored: int = 0  # assistant turns that carry thinking again
    dropped: int = 0  # assistant turns sent without thinking they had or may have had


def restore_thinking(keys: Sequence[str], turns: list[Turn], find: Finder, *,
                     requested: str | None = None, running: str | None = None) -> Restored:
    """``keys``: the conversation keys of ``turns[:i]`` (`prefix_keys`); ``requested``: the
    model the request names; ``running``: its full id when known.  Stored answers of another
    model are not restored (Claude Code would drop them)."""
    assistants = [i for i, t in enumerate(turns) if t.role == "assistant"]
    if not assistants:
        return Restored(turns)
    plain_users = [i for i, t in enumerate(turns) if t.role == "user" and not any(
        b.get("type") == "tool_result" for b in t.blocks)]
    in_progress = [i for i in assistants if i > max(plain_users, default=-1)]
    found = {i: got for i in assistants
             if (got := _restore_turn(keys[i], turns[i], find, requested, running))
             is not None}
    missing = [i for i in assistants if i not in found]
    cut = max(missing, default=-1)
    if any(i in missing for i in in_progress):
        cut = max(cut, *in_progress)  # the turn in progress: all or nothing
    out = [Turn(t.role, found[i][0], t.echoes, found[i][1]) if i in found and i > cut
           else Turn(t.role, without_thinking(t.blocks), t.echoes) for i, t in enumerate(turns)]
    first = out[in_progress[0]].blocks if in_progress else []
    opens = bool(first) and first[0].get("type") in THINKING_TYPES
    kept = sum(1 for i in assistants if i > cut and i in found and out[i].blocks != turns[i].blocks)
    return Restored(out, opens_without_thinking=bool(in_progress) and not opens,
                    restored=kept, dropped=sum(1 for i in assistants if i <= cut))


def _restore_turn(prefix: str, turn: Turn, find: Finder, requested: str | None,
                  running: str | None) -> tuple[list[Block], str | None] | None:
    """The turn's blocks as the API sent them and the model that answered, or None when any of
    its messages is unknown.  ``prefix``: the key of the conversation before the turn."""
    if not turn.echoes:
        return None
    blocks: list[Block] = []
    model = None
    for echo in turn.echoes:
        stored = find(echo.blocks, prefix)
        if stored is not None and (stored.requested == requested or stored.model == running):
            blocks += stored.blocks
            model = stored.model
        elif echo.signed:  # signed by the API for this model, we must trust the client
            blocks += [*echo.signed, *echo.blocks]
            model = model or echo.model or running
        else:
            return None
    return blocks, model
