"""PURE: earlier turns of a chat as a synthetic Claude Code transcript, resumed by the CLI.

Resuming a transcript makes the model see real alternating user/assistant turns (notes §3.3),
where flattening the chat into one prompt would not.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from claude_agent_sdk._cli_version import __cli_version__

from .turns import Turn

# What Claude Code adds to a history that ends in tool results, when it answers them
CONTINUE = {"type": "text", "text": "Continue from where you left off."}


def transcript_entries(
    turns: list[Turn], *, session_id: str, cwd: str, model: str | None,
    context: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One transcript entry per turn, chained by ``parentUuid``, and the session's context
    after the first turn.

    A live session records its per-session context (environment, model, date) as attachment
    entries after the first user turn, and the CLI renders them as the ``system`` message there
    when it resumes.  ``context``: the CLI's own environment and model attachments (see
    ``session_context``); with them the rebuilt history reaches the model exactly as the live
    session's would.  Without them, the date alone fills that message (with none it would go
    out empty, which the API refuses) and the CLI announces the environment and model after the
    newest turn instead.

    A tool-result turn gets the text Claude Code added to it when it was answered ("Continue
    from where you left off."), so that it reads back as the model saw it then.
    """
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    entries: list[dict[str, Any]] = []
    parent: str | None = None
    common = {"sessionId": session_id, "timestamp": now, "isSidechain": False,
              "userType": "external", "cwd": cwd, "version": __cli_version__}
    for i, turn in enumerate(turns):
        entry_id = str(uuid.uuid4())
        answered = i + 1 < len(turns)
        entries.append({"type": turn.role, "uuid": entry_id, "parentUuid": parent, **common,
                        "message": _message(turn, model, answered)})
        parent = entry_id
        if i == 0:  # the CLI's local date, as it compares it (a mismatch is only re-announced)
            for attachment in [*(context or []), {"type": "date",
                                                  "date": time.strftime("%Y-%m-%d")}]:
                entry_id, parent = parent, str(uuid.uuid4())
                entries.append({"type": "attachment", "uuid": parent, "parentUuid": entry_id,
                                **common, "attachment": attachment})
    return entries


def _message(turn: Turn, model: str | None, answered: bool) -> dict[str, Any]:
    if turn.role == "user":
        results = any(b.get("type") == "tool_result" for b in turn.blocks)
        return {"role": "user", "content": [*turn.blocks, CONTINUE] if results and answered
                else turn.blocks}
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        # Claude Code drops the thinking blocks of an entry whose model is not the one running
        "model": turn.model or model or "claude",
        "content": turn.blocks,
        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in turn.blocks)
        else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
