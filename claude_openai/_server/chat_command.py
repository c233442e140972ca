"""`claude-openai chat`: ask Claude from a terminal, through the library or a running server.

With a prompt (an argument, piped stdin, or both) it prints one answer and exits; with neither
and a terminal on stdin it holds a conversation, resending the whole history each turn.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from contextlib import closing
from typing import Any, TextIO

from .._config import Config, env_name, field_type, flag_name
from .chat_backends import Backend, ChatError, HttpBackend, LibraryBackend
from .chat_input import image_part, one_shot_prompt, piped_text, user_message
from .chat_output import AnswerPrinter

# The Config fields that make sense for a run in this process (not with --base-url).
LIBRARY_FIELDS = ("timeout", "first_token_timeout", "idle_timeout", "max_retries", "cli_path",
                  "transcripts_dir")
PROMPT = "> "
EXITS = ("/exit", "/quit")

EPILOG = """\
examples:
  claude-openai chat "What is a monad?"
  echo "Explain: ENOSPC" | claude-openai chat
  cat app.py | claude-openai chat "Review this code"      # the question, a blank line, the file
  claude-openai chat --image chart.png "What does this chart show?"
  claude-openai chat --reasoning --model opus "Is 1009 prime?"   # thinking dimmed, on stderr
  claude-openai chat --json --no-stream "Hi" | jq -r '.choices[0].message.content'
  claude-openai chat --base-url http://127.0.0.1:8000/v1 --api-key KEY "Hi"
  claude-openai chat --system "Answer in French."          # a conversation

With no prompt and a terminal on stdin it holds a conversation (the whole history is sent each
turn): Ctrl-C stops the answer being written (the part already shown stays in the history),
Ctrl-C at the prompt clears the line, Ctrl-D or /exit leaves.  Without --base-url Claude runs in
this process through the library (no server needed); CLAUDE_OPENAI_* variables apply as for
`serve`.  With --base-url the key is --api-key, else the first of CLAUDE_OPENAI_API_KEY.
"""


def add_chat_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``chat`` on the ``claude-openai`` subcommands."""
    chat = commands.add_parser(
        "chat", help="ask Claude from the terminal (one question, or a conversation)",
        description="Ask Claude from the terminal: the answer streams as it is written.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", nargs="*", help="the question (also read from piped stdin)")
    chat.add_argument("--model", help="the model to ask (e.g. sonnet, opus, haiku)")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--image", action="append", default=[], metavar="PATH",
                      help="attach an image (PNG, JPEG, GIF or WebP); repeatable")
    chat.add_argument("--reasoning", action="store_true",
                      help="show Claude's thinking (dimmed, on stderr)")
    chat.add_argument("--no-stream", dest="stream", action="store_false",
                      help="wait for the whole answer instead of streaming it")
    chat.add_argument("--json", action="store_true",
                      help="print the raw Chat Completion (streaming: one chunk per line)")
    chat.add_argument("--base-url", metavar="URL",
                      help="a server's API base, e.g. http://127.0.0.1:8000/v1 (default: none, "
                           "Claude runs in this process)")
    chat.add_argument("--api-key", metavar="KEY",
                      help=f"the server's API key (default: ${env_name('api_key')}, its first)")
    fields = {f.name: f for f in dataclasses.fields(Config)}
    for name in LIBRARY_FIELDS:
        f = fields[name]
        chat.add_argument(flag_name(name), dest=name, type=field_type(f), default=None,
                          metavar=name.upper(),
                          help=f"{f.metadata['help']} [without --base-url only]")
    return chat


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Run the parsed ``chat`` command; returns the exit status."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    backend: Backend | None = None
    try:
        images = [image_part(path) for path in args.image]
        prompt, piped = " ".join(args.prompt), piped_text(stdin)
        backend = make_backend(args, one_shot=bool(prompt) or piped is not None)
        chat = Chat(backend, args, stdout, stderr)
        if prompt or piped is not None:
            text = one_shot_prompt(prompt, piped)
            if not text:
                raise ChatError("nothing to ask: the prompt is empty")
            chat.ask([*chat.system, user_message(text, images)])
            return 0
        return chat.converse(images)
    except ChatError as exc:
        print(f"claude-openai chat: {exc}", file=stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())  # no error at exit's flush
        return 141
    except Exception as exc:  # never a traceback
        print(f"claude-openai chat: {type(exc).__name__}: {exc}", file=stderr)
        return 1
    finally:
        if backend is not None:
            close_quietly(backend)


def make_backend(args: argparse.Namespace, *, one_shot: bool) -> Backend:
    given = [flag_name(n) for n in LIBRARY_FIELDS if getattr(args, n) is not None]
    if args.base_url:
        if given:
            raise ChatError(f"{', '.join(given)} apply without --base-url only")
        key = args.api_key or os.environ.get(env_name("api_key"), "").split(",")[0].strip()
        return HttpBackend(args.base_url, key or None)
    if args.api_key:
        raise ChatError("--api-key needs --base-url")
    overrides: dict[str, Any] = {n: getattr(args, n) for n in LIBRARY_FIELDS}
    if one_shot:
        overrides["pool_size"] = 0  # one request: a process of its own, no spare started
    try:
        return LibraryBackend(Config.from_env(os.environ, **overrides))
    except ValueError as exc:
        raise ChatError(str(exc)) from None


def close_quietly(backend: Backend) -> None:
    """Close the backend (the library's warm processes), even through a second Ctrl-C."""
    for _ in range(3):
        try:
            backend.close()
            return
        except KeyboardInterrupt:
            continue


class Chat:
    def __init__(self, backend: Backend, args: argparse.Namespace, out: TextIO,
                 err: TextIO) -> None:
        self.backend, self.args, self.out, self.err = backend, args, out, err
        self.system: list[dict[str, Any]] = (
            [{"role": "system", "content": args.system}] if args.system else [])

    def ask(self, messages: list[dict[str, Any]]) -> str:
        """Print the answer to ``messages`` as it arrives; returns its text.  On Ctrl-C the
        run is ended and KeyboardInterrupt raised, with the text so far in ``self.partial``."""
        body: dict[str, Any] = {"messages": messages}
        if self.args.model:
            body["model"] = self.args.model
        printer = AnswerPrinter(self.out, self.err, reasoning=self.args.reasoning,
                                as_json=self.args.json)
        self.partial = ""
        try:
            if self.args.stream:
                with closing(self.backend.stream(body)) as chunks:  # type: ignore[type-var]
                    for chunk in chunks:
                        printer.chunk(chunk)
            else:
                printer.completion(self.backend.complete(body))
        finally:
            printer.finish()
            self.partial = printer.text
        return printer.text

    def converse(self, images: list[dict[str, Any]]) -> int:
        """The interactive conversation; returns 1 if a turn failed, else 0."""
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        print("Ctrl-D or /exit leaves, Ctrl-C stops an answer.", file=self.err)
        history, failed = list(self.system), False
        while True:
            try:
                line = input(PROMPT).strip()
            except EOFError:
                self.out.write("\n")
                return int(failed)
            except KeyboardInterrupt:
                self.out.write("\n")  # the line is dropped; a fresh prompt
                continue
            if line in EXITS:
                return int(failed)
            if not line:
                continue
            turn = user_message(line, images)
            try:
                history += [turn, {"role": "assistant", "content": self.ask([*history, turn])}]
                images = []
            except KeyboardInterrupt:
                print("[interrupted]", file=self.err)
                if self.partial:  # the part shown stays; nothing shown: the question goes
                    history += [turn, {"role": "assistant", "content": self.partial}]
                    images = []
            except ChatError as exc:
                print(f"claude-openai chat: {exc}", file=self.err)
                failed = True
            self.out.write("\n")
