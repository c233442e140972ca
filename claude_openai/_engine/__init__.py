"""The Claude side: one request model, Claude Code CLI processes (spawned, warm, sticky), and
thinking carried across turns.  Internal: the public API is the `claude_openai` package."""
