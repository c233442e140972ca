"""The OpenAI Responses API wire format: requests and their items in, Response objects and
stream events out, and the store behind ``previous_response_id``.  Internal: the public API is
the `claude_openai` package."""
