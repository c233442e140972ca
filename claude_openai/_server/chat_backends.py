"""Where `claude-openai chat` sends its requests: the library in-process, or a server over HTTP.

Both answer a Chat Completions body with the Chat Completion (``complete``) or its
``chat.completion.chunk`` dicts (``stream``); closing a stream early, or a KeyboardInterrupt
while it waits, ends the Claude run.  Every failure is a `ChatError` with the server's message.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, Protocol

from .. import __version__
from .._config import Config
from .._exceptions import ClaudeOpenAIError

END_WAIT = 30.0  # seconds an interrupted library run gets to wind down


class ChatError(Exception):
    """A failed request: the OpenAI error's message, and its HTTP status when known."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"error {self.status}: {self.message}" if self.status else self.message


class Backend(Protocol):
    def complete(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class LibraryBackend:
    """The library functions on their background event loop (one loop for the whole session,
    so warm and sticky processes carry over from turn to turn)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        start_loop_deaf_to_ctrl_c()

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        from .._chat.api import achat_completion

        async def whole(put: Any) -> None:
            put(await achat_completion(body, config=self.config))

        answers = list(self._pumped(whole))
        if not answers:
            raise ChatError("the run ended without an answer")
        return answers[0]

    def stream(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from .._chat.api import astream_chat_completion

        async def chunks(put: Any) -> None:
            async for chunk in astream_chat_completion(body, config=self.config):
                put(chunk)

        return self._pumped(chunks)

    def _pumped(self, produce: Any) -> Iterator[dict[str, Any]]:
        """Run ``produce(put)`` as one task on the library's loop and yield what it puts.

        One task, cancelled as a whole: a KeyboardInterrupt (or closing this iterator) cancels
        it and waits for it to wind down, so the run is ended before the next turn starts.
        """
        from .._engine.runtime import portal

        items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

        async def task() -> None:
            try:
                await produce(lambda item: items.put(("item", item)))
            except ClaudeOpenAIError as exc:
                items.put(("error", ChatError(exc.message, exc.status_code)))
            except Exception as exc:  # anything else still ends the turn with its message
                items.put(("error", ChatError(f"{type(exc).__name__}: {exc}")))
            finally:
                items.put(("end", None))

        future = portal().start_task_soon(task)
        ended = False
        try:
            while True:
                kind, value = items.get()
                if kind == "end":
                    ended = True
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            if not ended:
                future.cancel()
                try:
                    while items.get(timeout=END_WAIT)[0] != "end":
                        pass
                except queue.Empty:
                    pass

    def close(self) -> None:
        from .._engine.runtime import close_pools

        close_pools()


def start_loop_deaf_to_ctrl_c() -> None:
    """Start the library's background loop with SIGINT blocked in its thread (and so in the
    threads it starts), so that a Ctrl-C always lands in the main thread: one delivered to
    another thread would leave the main thread asleep in ``input()`` or waiting for a chunk."""
    from .._engine.runtime import portal

    if threading.current_thread() is not threading.main_thread():
        portal()
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        portal()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class HttpBackend:
    """A claude-openai (or any OpenAI-compatible) server, with the stdlib's urllib."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._post({**body, "stream": False}) as response:
            return _json(response.read())

    def stream(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Parse the server-sent events by hand; closing the response ends the run."""
        response = self._post({**body, "stream": True})
        try:
            data: list[str] = []
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    payload, data = "\n".join(data), []
                    if payload == "[DONE]":
                        return
                    event = _json(payload.encode())
                    if "error" in event:
                        raise _error(event, None)
                    yield event
            raise ChatError("the stream ended before the answer was complete")
        finally:
            response.close()

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "User-Agent": f"claude-openai/{__version__}"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(),
                                         headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request)  # noqa: S310 (the user's own URL)
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            raise _error(parsed, exc.code, fallback=raw.decode("utf-8", "replace")) from None
        except urllib.error.URLError as exc:
            raise ChatError(f"cannot reach {self.url}: {exc.reason}") from None

    def close(self) -> None:
        pass


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise ChatError(f"the server sent something that is not JSON: {raw[:200]!r}") from None
    if not isinstance(value, dict):
        raise ChatError(f"the server sent an unexpected answer: {raw[:200]!r}")
    return value


def _error(parsed: Any, status: int | None, fallback: str = "") -> ChatError:
    """The message of an OpenAI-shaped ``{"error": {...}}`` body, else what the server said."""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return ChatError(error["message"], status)
    return ChatError(fallback.strip() or "the server answered with an error", status)
