# claude-openai in a container.
#
#   docker build -t claude-openai .
#   # with an API key:
#   docker run -p 8000:8000 -e ANTHROPIC_API_KEY=sk-ant-... -e CLAUDE_OPENAI_API_KEY=pick-a-key claude-openai
#   # or with your `claude login` (mount your Claude config; Linux keeps the login there):
#   docker run -p 8000:8000 -v ~/.claude:/home/app/.claude -e CLAUDE_OPENAI_API_KEY=pick-a-key claude-openai
#
# Inside the container the server must bind 0.0.0.0, so it refuses to start without
# CLAUDE_OPENAI_API_KEY (or --api-key-file); clients then send `Authorization: Bearer <key>`.
FROM python:3.12-slim

RUN useradd --create-home app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY claude_openai ./claude_openai
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER app
ENV CLAUDE_OPENAI_HOST=0.0.0.0 CLAUDE_OPENAI_PORT=8000
EXPOSE 8000
# On SIGTERM (docker stop) requests in flight get --shutdown-grace (8 s, inside Docker's
# default 10 s stop timeout) to finish, then the server ends every Claude process.
STOPSIGNAL SIGTERM
CMD ["claude-openai", "serve"]
