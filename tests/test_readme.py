"""The README's quick-start conversation is what the example bot says today."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO

_COMMAND = re.compile(r"^\$ printf '(?P<input>[^']*)' \| \.venv/bin/supportbot (?P<args>chat bots/\S+\.yaml)$", re.M)
_TIMING = re.compile(r"\d+(?:\.\d+)? ms$")


def _normalised(text: str) -> list[str]:
    # Timings differ from run to run; the README's block keeps no trailing spaces.
    return [_TIMING.sub("N ms", line.rstrip()) for line in text.strip().splitlines()]


def test_the_quick_start_conversation_is_what_the_bot_says():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = _COMMAND.search(readme)
    assert command, "the README's quick start shows a piped `supportbot chat` conversation"
    shown = readme[command.end() : readme.index("```", command.end())]
    messages = command["input"].encode().decode("unicode_escape")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPPORTBOT_"))}
    # The README's block was pasted from a 100-column terminal; the reply lines wrap there.
    result = subprocess.run(
        [sys.executable, "-m", "supportbot", *command["args"].split()],
        input=messages,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "COLUMNS": "100"},
        timeout=120,
        check=True,
    )
    assert _normalised(result.stdout) == _normalised(shown)
