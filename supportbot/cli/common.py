"""What the CLI commands share: terminal output, exit codes, loading a bot or exiting."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ..bot import Bot
from ..config.loader import load_bot
from ..errors import ConfigError, Problem
from ..providers.registry import provider_names

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "err", "load_for_cli", "out", "print_problems", "resolve_bot_path"]

EXIT_FAILURE = 1
EXIT_CONFIG = 2

# soft_wrap: a `path:line:col: ...` line stays one line, whatever the terminal width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_problems(problems: list[Problem], what: str = "the bot will not run until they are fixed") -> None:
    for problem in problems:
        err.print(str(problem), markup=False)
    noun = "problem" if len(problems) == 1 else "problems"
    err.print(f"[red]{len(problems)} {noun}[/red]; {what}.")


def resolve_bot_path(name: str) -> Path:
    """A path as given, else a bot id looked up in ./bots/."""
    path = Path(name)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    for suffix in (".yaml", ".yml"):
        candidate = Path("bots") / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return path


def load_for_cli(name: str, provider: str | None) -> Bot:
    """Load a bot or exit 2 with every problem listed."""
    try:
        bot = load_bot(resolve_bot_path(name))
    except ConfigError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_CONFIG) from None
    if provider:
        if provider not in provider_names():
            err.print(f"unknown provider '{provider}' (allowed: {', '.join(provider_names())})", markup=False)
            raise typer.Exit(EXIT_CONFIG)
        bot = bot.with_provider(provider)
    return bot
