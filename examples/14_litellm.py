"""LiteLLM against a running ``claude-openai serve``: the SDK, and the proxy's ``model_list``.

``litellm.completion(model="openai/sonnet", api_base=..., api_key=...)`` uses LiteLLM's generic
OpenAI-compatible route (the ``openai/`` prefix; the rest is the model name the server gets).
Then the ``model_list`` of ``litellm_config.yaml`` beside this file, the LiteLLM proxy's config,
is loaded into a ``litellm.Router`` (what the proxy routes with) and called by its public name.
The API key is not checked by the server.

Run it (start the server first, in another terminal)::

    claude-openai serve --host 127.0.0.1 --port 8000
    pip install litellm
    python examples/14_litellm.py
    # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 python examples/14_litellm.py

The same config serves the proxy: ``pip install 'litellm[proxy]'``, then
``litellm --config examples/litellm_config.yaml`` (``CLAUDE_OPENAI_BASE_URL`` names the server).
"""

from __future__ import annotations

import os
from pathlib import Path

import litellm
import yaml

BASE_URL = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")


def main() -> None:
    response = litellm.completion(
        model="openai/sonnet",
        api_base=BASE_URL,
        api_key="unused",
        messages=[{"role": "user", "content": "Say hello in French."}],
    )
    print("answer:", response.choices[0].message.content)

    print("streamed: ", end="", flush=True)
    for chunk in litellm.completion(model="openai/sonnet", api_base=BASE_URL, api_key="unused",
                                    messages=[{"role": "user", "content": "Count to five."}],
                                    stream=True):
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()

    # The proxy's config, its os.environ/ references resolved with get_secret as the proxy does.
    os.environ.setdefault("CLAUDE_OPENAI_BASE_URL", BASE_URL)
    config = yaml.safe_load((Path(__file__).parent / "litellm_config.yaml").read_text())
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("os.environ/"):
                params[key] = litellm.get_secret(value)
    router = litellm.Router(model_list=config["model_list"])
    routed = router.completion(model="claude-sonnet",
                               messages=[{"role": "user", "content": "Name a French cheese."}])
    print("router:", routed.choices[0].message.content)


if __name__ == "__main__":
    main()
