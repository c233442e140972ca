"""The HTTP server: routes, streaming, limits, guard, observability and the `serve` command.

Internal: the public API is the top-level `claude_openai` package."""
