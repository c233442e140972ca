"""The agentic profile: Claude Code with its own tools, in operator-named workspaces."""
