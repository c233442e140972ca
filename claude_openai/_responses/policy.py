"""Which OpenAI Responses API request fields are supported, ignored or rejected: the one source
of truth.

The README's compatibility table is rendered from this data (``compatibility_table()``).  Fields
that are not OpenAI's (vendor extensions) are ignored.
"""

from __future__ import annotations

from .._chat.policy import BY_NAME as CHAT
from .._fields import FieldPolicy, render_table

HOSTED_TOOLS = ("web_search", "web_search_preview", "file_search", "code_interpreter", "computer",
                "computer_use_preview", "image_generation", "mcp", "local_shell", "shell",
                "apply_patch", "tool_search")

FIELDS: tuple[FieldPolicy, ...] = (
    FieldPolicy("model", "supported", "aliases, full ids and `claude-*` names; see Models"),
    FieldPolicy("input", "supported",
                "a string or a list of items: messages (roles `user`, `assistant`, `system`, "
                "`developer`; text and image parts, `type` optional), `function_call`, "
                "`function_call_output`, `custom_tool_call`, `custom_tool_call_output`, "
                "`reasoning` (our own `encrypted_content` brings Claude's thinking back; "
                "anyone else's is ignored); `input_file` parts are a 400; other item types "
                "(`item_reference`, `web_search_call`, `local_shell_call`, `compaction`, ...) "
                "are skipped"),
    FieldPolicy("instructions", "supported",
                "the system prompt, with the text of `system` and `developer` messages after "
                "it; like OpenAI, not carried over from `previous_response_id`"),
    FieldPolicy("tools", "supported",
                "`function`, `custom` (freeform: Claude writes the raw text, a grammar is shown "
                "to it in the description) and `namespace` groups, offered to Claude under "
                "their own names; calls come back as `function_call`/`custom_tool_call`, "
                "nothing runs on the server; hosted tools are not offered to the model: "
                + ", ".join(HOSTED_TOOLS)
                + "; forcing one with `tool_choice` is a 400"),
    FieldPolicy("tool_choice", "supported",
                "`none`, `auto`, `required`, a named `function` or `custom` tool, or "
                "`allowed_tools`; forcing a call turns extended thinking off for that request"),
    FieldPolicy("parallel_tool_calls", "supported", "`false` allows one call per answer"),
    FieldPolicy("previous_response_id", "supported",
                "continues a response this server stored (`store` not false): its input and "
                "output come before `input`; an unknown id is a 400 "
                "`previous_response_not_found`"),
    FieldPolicy("store", "supported",
                "default `true`: the response is kept for `previous_response_id` and "
                "retrieval; `false` keeps nothing"),
    FieldPolicy("include", "supported",
                "`reasoning.encrypted_content` puts Claude's signed thinking in reasoning items, "
                "for clients that send the history back; other values are ignored"),
    FieldPolicy("reasoning", "supported",
                "`effort`: `none` turns thinking off, `minimal`/`low` → low, `medium`, `high`, "
                "`xhigh`, `max`, other values are ignored; `summary` (or `generate_summary`) "
                "shows the thinking as reasoning summaries"),
    FieldPolicy("text", "supported",
                "`format`: `text`, `json_object`, `json_schema` (strict or not), the output text "
                "is the JSON; `verbosity` is ignored"),
    FieldPolicy("max_output_tokens", "supported",
                "sent upstream as `max_tokens`; a cut-off answer is `incomplete` with reason "
                "`max_output_tokens`; on models with manual thinking (the 4.5 generation and "
                "older) the thinking budget is half of it, and below 2048 thinking is off for "
                "the request"),
    FieldPolicy("stream", "supported", "SSE with OpenAI's events, in OpenAI's order"),
    FieldPolicy("stream_options", "ignored", "`include_obfuscation` has no effect"),
    FieldPolicy("temperature", "supported", CHAT["temperature"].note),
    FieldPolicy("top_p", "supported", CHAT["top_p"].note),
    FieldPolicy("truncation", "ignored",
                "the conversation is sent whole; one longer than the context window fails"),
    FieldPolicy("metadata", "ignored", "not forwarded to Claude"),
    FieldPolicy("user", "ignored", "not forwarded"),
    FieldPolicy("safety_identifier", "ignored", "not forwarded"),
    FieldPolicy("prompt_cache_key", "ignored", "Claude Code manages prompt caching itself"),
    FieldPolicy("prompt_cache_retention", "ignored", "Claude Code manages prompt caching itself"),
    FieldPolicy("prompt_cache_options", "ignored", "Claude Code manages prompt caching itself"),
    FieldPolicy("service_tier", "ignored", "no equivalent"),
    FieldPolicy("max_tool_calls", "ignored", "limits hosted tools, which are not offered"),
    FieldPolicy("context_management", "ignored", "no server-side compaction"),
    FieldPolicy("moderation", "ignored", "no equivalent"),
    FieldPolicy("client_metadata", "ignored", "not forwarded"),
    FieldPolicy("conversation", "rejected",
                "stateful conversations are not available; use `previous_response_id` or send "
                "the history in `input`"),
    FieldPolicy("prompt", "rejected", "stored prompts are not available"),
    FieldPolicy("background", "rejected", "background responses are not available",
                neutral=(False,)),
    FieldPolicy("top_logprobs", "rejected", "Claude does not return log probabilities",
                neutral=(0,)),
)

BY_NAME = {f.name: f for f in FIELDS}


def compatibility_table() -> str:
    """The README's Responses API compatibility table, rendered from ``FIELDS``."""
    return render_table(FIELDS)
