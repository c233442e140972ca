"""PURE: an `Answer`'s events as a Responses API Response object and its stream of events.

Each Claude content block becomes one output item, in the order the model wrote them: thinking
a ``reasoning`` item (its summary shown when asked for; its signed block in
``encrypted_content`` when ``include`` asks for it), text a ``message``, a client tool call a
``function_call`` (or, for a freeform tool, a ``custom_tool_call`` whose input is the raw
text).  The stream follows OpenAI's order: ``response.created``, ``response.in_progress``, then
per item ``output_item.added``, its parts and deltas, their ``.done`` events and
``output_item.done``, and last ``response.completed`` (or ``response.incomplete``), every event
numbered by ``sequence_number``.  Nothing is sent before the first output, so a run that fails
early is still a plain HTTP error.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from .._engine.answer import (
    Answer,
    Call,
    CallDelta,
    CallDone,
    CallStarted,
    Event,
    Finished,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    Usage,
)
from .._engine.tools import ToolConfig
from .._exceptions import ClaudeOpenAIError
from .raw_input import RawInput
from .reasoning import encode_thinking

Item = dict[str, Any]
Chunk = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def responses_usage(usage: Usage) -> dict[str, Any]:
    """Usage as the Responses API reports it: input tokens include cache reads and writes."""
    prompt = usage.prompt_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read,
                                 "cache_write_tokens": usage.cache_write},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": prompt + usage.output_tokens,
    }


class ResponsesBuilder:
    """Formats one `Answer` for the Responses API; see the module docstring.

    ``echo``: the request fields a Response repeats (instructions, tools, tool_choice, ...).
    ``on_complete``: called with the finished Response (to store it).
    """

    def __init__(self, *, model: str | None, tools: ToolConfig | None = None,
                 id: str | None = None, reasoning: bool = True, summary: bool = False,
                 include_thinking: bool = False, echo: dict[str, Any] | None = None,
                 on_complete: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.answer = Answer(model=model, tools=tools, reasoning=reasoning and summary)
        self.id = id or new_id("resp")
        self.created_at = int(time.time())
        self.include_thinking = include_thinking
        self.echo = echo or {}
        self.on_complete = on_complete
        self.output: list[Item] = []  # finished items
        self.error: ClaudeOpenAIError | None = None
        self._seq = 0
        self._started = False
        self._open: Item | None = None  # the item being streamed
        self._block: int | None = None  # the open reasoning item's thinking block
        self._raw: dict[str, RawInput] = {}  # freeform calls' input, by call id

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, message: Any) -> list[Chunk]:
        chunks: list[Chunk] = []
        for event in self.answer.feed(message):
            chunks += self._on(event)
        return chunks

    def _on(self, event: Event) -> list[Chunk]:
        if isinstance(event, Finished):
            out = self._start() + self._close()
            status = "incomplete" if self.answer.cut else "completed"
            response = self.final()
            if self.on_complete is not None:
                self.on_complete(response)
            return out + [self._event(f"response.{status}", response=response)]
        if isinstance(event, TextDelta):
            return self._text(event)
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ThinkingDone):
            return self._thinking_done(event)
        if isinstance(event, CallStarted):
            return self._call_started(event.call)
        if isinstance(event, CallDelta):
            return self._call_delta(event.call, event.fragment)
        if isinstance(event, CallDone):
            return self._call_done(event.call)
        return []

    def _event(self, kind: str, **fields: Any) -> Chunk:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _start(self) -> list[Chunk]:
        if self._started:
            return []
        self._started = True
        response = self.snapshot("in_progress")
        return [self._event("response.created", response=response),
                self._event("response.in_progress", response=response)]

    def _where(self) -> dict[str, Any]:
        assert self._open is not None
        return {"item_id": self._open["id"], "output_index": len(self.output)}

    def _add(self, item: Item) -> list[Chunk]:
        out = self._start() + self._close()
        self._open = item
        return out + [self._event("response.output_item.added", output_index=len(self.output),
                                  item=json.loads(json.dumps(item)))]

    # -- text ----------------------------------------------------------------------------------
    def _text(self, event: TextDelta) -> list[Chunk]:
        out: list[Chunk] = []
        text = event.gap + event.text
        if self._open is None or self._open["type"] != "message":
            text = event.text  # a message of its own: nothing to set it apart from
            out += self._add({"id": new_id("msg"), "type": "message", "status": "in_progress",
                              "role": "assistant", "content": []})
            out.append(self._event("response.content_part.added", **self._where(),
                                   content_index=0, part=_text_part("")))
            assert self._open is not None
            self._open["content"].append(_text_part(""))
        assert self._open is not None
        self._open["content"][0]["text"] += text
        return out + [self._event("response.output_text.delta", **self._where(),
                                  content_index=0, delta=text, logprobs=[])]

    # -- thinking ------------------------------------------------------------------------------
    def _reasoning_item(self, block: int) -> list[Chunk]:
        self._block = block
        return self._add({"id": new_id("rs"), "type": "reasoning", "summary": []})

    def _thinking(self, event: ThinkingDelta) -> list[Chunk]:
        out: list[Chunk] = []
        if self._open is None or self._block != event.block:
            out += self._reasoning_item(event.block)
        assert self._open is not None
        if not self._open["summary"]:
            self._open["summary"].append({"type": "summary_text", "text": ""})
            out.append(self._event("response.reasoning_summary_part.added", **self._where(),
                                   summary_index=0,
                                   part={"type": "summary_text", "text": ""}))
        self._open["summary"][0]["text"] += event.text
        return out + [self._event("response.reasoning_summary_text.delta", **self._where(),
                                  summary_index=0, delta=event.text)]

    def _thinking_done(self, event: ThinkingDone) -> list[Chunk]:
        out: list[Chunk] = []
        if self._open is None or self._block != event.block:
            if not self.include_thinking:
                return []
            out += self._reasoning_item(event.block)
        assert self._open is not None
        if self.include_thinking:
            self._open["encrypted_content"] = encode_thinking([event.signed], self.answer.model)
        return out + self._close()

    # -- tool calls ----------------------------------------------------------------------------
    def _call_started(self, call: Call) -> list[Chunk]:
        item: Item
        if call.spec is not None and call.spec.custom:
            self._raw[call.id] = RawInput()
            item = {"id": new_id("ctc"), "type": "custom_tool_call", "status": "in_progress",
                    "call_id": call.id, "name": call.name, "input": ""}
        else:
            item = {"id": new_id("fc"), "type": "function_call", "status": "in_progress",
                    "call_id": call.id, "name": call.name, "arguments": ""}
        if call.spec is not None and call.spec.namespace:
            item["namespace"] = call.spec.namespace
        return self._add(item)

    def _call_delta(self, call: Call, fragment: str) -> list[Chunk]:
        if self._open is None or self._open.get("call_id") != call.id:
            return []
        raw = self._raw.get(call.id)
        if raw is None:
            self._open["arguments"] += fragment
            return [self._event("response.function_call_arguments.delta", **self._where(),
                                delta=fragment)]
        text = raw.feed(fragment)
        if not text:
            return []
        self._open["input"] += text
        return [self._event("response.custom_tool_call_input.delta", **self._where(),
                            delta=text)]

    def _call_done(self, call: Call) -> list[Chunk]:
        if self._open is None or self._open.get("call_id") != call.id:
            return []
        return self._close()

    # -- closing an item -----------------------------------------------------------------------
    def _close(self) -> list[Chunk]:
        item, self._open = self._open, None
        if item is None:
            return []
        where = {"item_id": item["id"], "output_index": len(self.output)}
        out: list[Chunk] = []
        kind = item["type"]
        if kind == "message":
            part = item["content"][0]
            out += [self._event("response.output_text.done", **where, content_index=0,
                                text=part["text"], logprobs=[]),
                    self._event("response.content_part.done", **where, content_index=0,
                                part=part)]
        elif kind == "reasoning" and item["summary"]:
            part = item["summary"][0]
            out += [self._event("response.reasoning_summary_text.done", **where,
                                summary_index=0, text=part["text"]),
                    self._event("response.reasoning_summary_part.done", **where,
                                summary_index=0, part=part)]
        elif kind == "function_call":
            out.append(self._event("response.function_call_arguments.done", **where,
                                   name=item["name"], arguments=item["arguments"]))
        elif kind == "custom_tool_call":
            item["input"] = self._raw[item["call_id"]].final()
            out.append(self._event("response.custom_tool_call_input.done", **where,
                                   input=item["input"]))
        if kind != "reasoning":
            item["status"] = "completed"
        self.output.append(item)
        return out + [self._event("response.output_item.done", **where, item=item)]

    # -- the Response --------------------------------------------------------------------------
    def snapshot(self, status: str) -> dict[str, Any]:
        """The Response object as it stands (``status``: in_progress, completed, ...)."""
        response: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "model": self.answer.model,
            "output": [json.loads(json.dumps(item)) for item in self.output],
            "usage": None,
            **self.echo,
        }
        return response

    def final(self, *, cut_short: bool = False) -> dict[str, Any]:
        """The whole Response; call after the run finished (or, ``cut_short``, what a stream
        that never finished had sent)."""
        if cut_short:
            return self.snapshot("failed" if self.error is not None else "in_progress")
        incomplete = self.answer.cut
        response = self.snapshot("incomplete" if incomplete else "completed")
        if incomplete:
            response["incomplete_details"] = {"reason": "max_output_tokens"}
        response["completed_at"] = int(time.time())
        response["usage"] = responses_usage(self.answer.usage)
        return response

    def failed(self, error: ClaudeOpenAIError) -> list[Chunk]:
        """The stream's last events when the run failed after it began: ``response.failed``,
        with the error's code and message."""
        self.error = error
        out = self._start()
        response = self.snapshot("failed")
        body = error.to_dict()["error"]
        response["error"] = {"code": _failure_code(error), "message": body["message"]}
        return out + [self._event("response.failed", response=response)]


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _failure_code(error: ClaudeOpenAIError) -> str:
    """One of the codes ``response.error.code`` takes (openai ``ResponseError``)."""
    if error.status_code == 429:
        return "rate_limit_exceeded"
    if error.status_code == 400:
        return "invalid_prompt"
    return "server_error"
