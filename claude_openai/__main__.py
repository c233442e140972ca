"""`python -m claude_openai` runs the same command line as `claude-openai`."""

from ._server.cli import main

main()
