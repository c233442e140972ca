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


def transcript_entries(
    turns: list[Turn], *, session_id: str, cwd: str, model: str | None
) -> list[dict[str, Any]]:
    """One transcript entry per turn, chained by ``parentUuid``, and today's date after the
    first turn.

    A live session records its per-session context (environment, model, date) as attachment
    entries after the first user turn, and the CLI renders them as the ``system`` message there
    when it resumes.  With none, that message goes out empty (``"content": []``), which the API
    refuses.  The date alone fills it ("Today's date is …", the CLI's own words); the CLI then
    announces the environment and model after the newest turn, as on a first turn.
    """
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    entries: list[dict[str, Any]] = []
    parent: str | None = None
    common = {"sessionId": session_id, "timestamp": now, "isSidechain": False,
              "userType": "external", "cwd": cwd, "version": __cli_version__}
    for i, turn in enumerate(turns):
        entry_id = str(uuid.uuid4())
        entries.append({"type": turn.role, "uuid": entry_id, "parentUuid": parent, **common,
                        "message": _message(turn, model)})
        parent = entry_id
        if i == 0:  # the CLI's local date, as it compares it (a mismatch is only re-announced)
            parent = str(uuid.uuid4())
            entries.append({"type": "attachment", "uuid": parent, "parentUuid": entry_id,
                            **common, "attachment": {"type": "date",
                                                     "date": time.strftime("%Y-%m-%d")}})
    return entries


def _message(turn: Turn, model: str | None) -> dict[str, Any]:
    if turn.role == "user":
        return {"role": "user", "content": turn.blocks}
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
