"""The OpenAI Chat Completions wire format: requests in, completions and chunks out.

Internal: the public API is the top-level `claude_openai` package."""
