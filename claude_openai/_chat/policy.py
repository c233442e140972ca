"""Which OpenAI Chat Completions fields are supported, ignored or rejected: the one source of truth.

The README's compatibility table is rendered from this data (``compatibility_table()``) and a test
checks that they agree.  Fields that are not OpenAI's (vendor extensions) are ignored.
"""

from __future__ import annotations

from .._fields import FieldPolicy, render_table

_MAX_NOTE = ("sent upstream as `max_tokens`; a cut-off answer ends with `finish_reason: "
             "\"length\"`; on models with manual thinking (the 4.5 generation and older) the "
             "thinking budget is half of it, and below 2048 thinking is off for the request")

FIELDS: tuple[FieldPolicy, ...] = (
    FieldPolicy("messages", "supported",
                "roles `system`, `developer`, `user`, `assistant`, `tool`, `function`; text "
                "and image parts"),
    FieldPolicy("model", "supported", "aliases, full ids and `claude-*` names; see Models"),
    FieldPolicy("stream", "supported", "SSE, one chunk per upstream text delta"),
    FieldPolicy("stream_options", "supported", "`include_usage` adds the final usage chunk"),
    FieldPolicy("max_completion_tokens", "supported", _MAX_NOTE),
    FieldPolicy("max_tokens", "supported", _MAX_NOTE),
    FieldPolicy("stop", "supported", "a string or up to 4, sent upstream as `stop_sequences`"),
    FieldPolicy("temperature", "supported",
                "sent upstream, and thinking is off for that request (the API takes no other "
                "temperature than 1 with thinking); `1` is dropped as the default it is; with "
                "`top_p` as well, `temperature` wins (the API takes only one of them)"),
    FieldPolicy("top_p", "supported",
                "sent upstream; `0.95` and above with thinking on, lower with thinking off; `1` "
                "is dropped; dropped too below 0.95 on models to which Claude Code sends "
                "`temperature: 1` whenever thinking is off (the 4.5 and 4.6 generations)"),
    FieldPolicy("reasoning_effort", "supported",
                "Claude's effort: `minimal`/`low` → low, `medium`, `high`, `xhigh`; `none` turns "
                "thinking off"),
    FieldPolicy("frequency_penalty", "ignored", "Claude has no equivalent"),
    FieldPolicy("presence_penalty", "ignored", "Claude has no equivalent"),
    FieldPolicy("logit_bias", "ignored", "Claude has no equivalent"),
    FieldPolicy("seed", "ignored", "Claude has no equivalent"),
    FieldPolicy("user", "ignored", "not forwarded"),
    FieldPolicy("safety_identifier", "ignored", "not forwarded"),
    FieldPolicy("prompt_cache_key", "ignored", "Claude Code manages prompt caching itself"),
    FieldPolicy("metadata", "ignored", "not stored"),
    FieldPolicy("store", "ignored", "nothing is stored"),
    FieldPolicy("service_tier", "ignored", "the answer reports `default`"),
    FieldPolicy("verbosity", "ignored", "no equivalent"),
    FieldPolicy("tools", "supported",
                "functions offered to Claude under their own names; calls come back as "
                "`tool_calls`, nothing runs on the server"),
    FieldPolicy("tool_choice", "supported",
                "`none`, `auto`, `required`, or a named function; forcing a call turns "
                "extended thinking off for that request"),
    FieldPolicy("parallel_tool_calls", "supported", "`false` allows one call per answer"),
    FieldPolicy("response_format", "supported",
                "`text`, `json_object`, `json_schema` (strict or not); `content` is the JSON"),
    FieldPolicy("functions", "supported", "legacy: mapped to tools; answers use `function_call`"),
    FieldPolicy("function_call", "supported", "legacy: mapped to `tool_choice`"),
    FieldPolicy("n", "rejected", "only `1`", neutral=(1,)),
    FieldPolicy("logprobs", "rejected", "Claude does not return log probabilities",
                neutral=(False,)),
    FieldPolicy("top_logprobs", "rejected", "Claude does not return log probabilities",
                neutral=(0,)),
    FieldPolicy("modalities", "rejected", "text output only", neutral=(("text",),)),
    FieldPolicy("audio", "rejected", "text output only"),
    FieldPolicy("prediction", "rejected", "predicted outputs are not available"),
    FieldPolicy("web_search_options", "rejected", "web search is not available"),
)

BY_NAME = {f.name: f for f in FIELDS}


def compatibility_table() -> str:
    """The README's Chat Completions compatibility table, rendered from ``FIELDS``."""
    return render_table(FIELDS)
