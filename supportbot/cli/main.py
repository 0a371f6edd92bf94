"""The `supportbot` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from ..config.format import bot_json_schema
from ..config.loader import display_path, find_bot_files, load_bot
from ..errors import ConfigError, ProviderError
from ..retrieval.encoder import DEFAULT_MODEL, missing_requirement
from . import evaluate, insights, retention, serve, transcripts
from .chat import run_chat
from .common import EXIT_CONFIG, err, load_for_cli, out, print_problems
from .scaffold import scaffold_bot

app = typer.Typer(
    name="supportbot",
    help="Customer-support bots driven by config files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"supportbot {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, to stderr.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Bot files, or folders to search for bot files.")],
) -> None:
    """Check bots: format, includes, snippet ids, rules, regexes, thresholds and providers."""
    files, problems = find_bot_files(paths)
    checked = 0
    for file in files:
        try:
            bot = load_bot(file)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        checked += 1
        rules = len(bot.config.escalation.rules)
        out.print(
            f"[green]ok[/green] {display_path(file)}: bot '{bot.id}', {len(bot.snippets)} snippets, {rules} rules",
            markup=True,
        )
        for warning in bot.warnings:
            err.print(f"warning: {warning}", markup=False)
    if problems:
        print_problems(problems)
        raise typer.Exit(EXIT_CONFIG)
    if not checked:
        err.print("no bot files found (a bot file is a YAML file with a top-level 'version:' key)", markup=False)
        raise typer.Exit(EXIT_CONFIG)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the bot format (for editors and other tools)."""
    sys.stdout.write(json.dumps(bot_json_schema(), indent=2) + "\n")


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Bot id: letters, digits, - and _.")],
    directory: Annotated[Path, typer.Option("--dir", help="Project folder that gets bots/ and knowledge/.")] = Path(
        "."
    ),
) -> None:
    """Create a new bot and its knowledge files, ready to validate and chat with."""
    try:
        written = scaffold_bot(name, directory)
    except (ValueError, FileExistsError) as exc:
        err.print(f"supportbot init: {exc}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    for path in written:
        out.print(f"created {display_path(path)}", markup=False)
    bot_file = written[0]
    missing = missing_requirement(DEFAULT_MODEL)
    if missing:
        out.print(f"\nThe bot uses the semantic engine, and {missing}.", markup=False)
    out.print(f"\nNext: supportbot chat {display_path(bot_file)}", markup=False)


@app.command()
def chat(
    bot: Annotated[str, typer.Argument(help="A bot file, or the id of a bot in ./bots/.")],
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="Use this provider instead of the bot's (offline, openai).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one Decision JSON object per line.")] = False,
) -> None:
    """Talk to a bot in the terminal; with stdin not a terminal, one message per line (/reset
    between conversations)."""
    loaded = load_for_cli(bot, provider)
    try:
        code = asyncio.run(run_chat(loaded, out, err, as_json=as_json, interactive=sys.stdin.isatty(), env=os.environ))
    except ProviderError as exc:
        err.print(f"supportbot: {exc}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


app.command()(serve.serve)
app.command()(transcripts.replay)
app.command()(transcripts.record)
app.command()(transcripts.coverage)
app.command("eval")(evaluate.evaluate)
app.command()(retention.purge)
app.command()(insights.report)
app.command()(insights.gaps)
app.command()(insights.export)


def main() -> None:
    app()
