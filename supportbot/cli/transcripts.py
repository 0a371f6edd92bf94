"""`supportbot replay`, `record` and `coverage`: transcript fixtures from the command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..config.loader import display_path
from ..errors import ProviderError
from ..transcripts import (
    FixtureResult,
    compute_coverage,
    junit_xml,
    load_fixtures,
    record_fixture,
    record_new,
    replay_paths,
)
from ..transcripts.replay import BotCache
from .common import EXIT_CONFIG, EXIT_FAILURE, err, load_for_cli, out, print_problems

__all__ = ["coverage", "record", "replay"]

PathsArgument = Annotated[list[Path], typer.Argument(help="Fixture files (*.transcript.yaml) or folders.")]


def _print_result(result: FixtureResult) -> None:
    if result.passed:
        out.print(f"[green]PASS[/green] {escape(result.path)} ({result.turns} turns)")
        return
    failure = result.failure
    assert failure is not None
    out.print(f"[red]FAIL[/red] {escape(result.path)}: turn {failure.turn}: {escape(failure.message)}")
    for line in failure.detail.splitlines():
        out.print("     " + line, markup=False)


def replay(
    paths: PathsArgument,
    junit: Annotated[Path | None, typer.Option("--junit-xml", help="Also write a JUnit XML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Replay fixtures through the real engine with their recorded model outputs.

    Exit 0 when all pass, 1 when one fails, 2 on a config or fixture format error.
    """
    run = asyncio.run(replay_paths(paths))
    if as_json:
        passed = len(run.results) - len(run.failed)
        report = {
            "passed": passed,
            "failed": len(run.failed),
            "problems": [str(p) for p in run.problems],
            "results": [r.as_dict() for r in run.results],
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        for result in run.results:
            _print_result(result)
        out.print(f"{len(run.results) - len(run.failed)} passed, {len(run.failed)} failed", markup=False)
    if junit:
        junit_xml(run.results, junit)
    if run.problems:
        print_problems(run.problems, "those fixtures did not run")
        raise typer.Exit(EXIT_CONFIG)
    if not run.results:
        err.print("no fixtures found (fixture files end with .transcript.yaml)", markup=False)
        raise typer.Exit(EXIT_CONFIG)
    if run.failed:
        raise typer.Exit(EXIT_FAILURE)


def record(
    fixtures: Annotated[list[Path] | None, typer.Argument(help="Fixtures to re-record in place.")] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", help="Record with this provider instead of the fixture's or bot's."),
    ] = None,
    update_expectations: Annotated[
        bool, typer.Option("--update-expectations", help="Also rewrite each turn's expect from the new decisions.")
    ] = False,
    new: Annotated[
        str | None,
        typer.Option("--new", help="Make a new fixture for this bot from stdin, one customer message per line."),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="With --new: the fixture file to write.")] = None,
) -> None:
    """Run fixtures' customer turns against a live provider and write back outputs and fingerprints.

    Comments and expectations are kept; scripted fixtures keep their hand-written outputs.
    """
    try:
        if new is not None:
            _record_new(new, out_file, provider)
        elif fixtures:
            _record_existing(fixtures, provider, update_expectations)
        else:
            err.print("give fixtures to record, or --new BOT --out FILE", markup=False)
            raise typer.Exit(EXIT_CONFIG)
    except ProviderError as exc:
        err.print(f"supportbot: {exc}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None


def _record_existing(paths: list[Path], provider: str | None, update: bool) -> None:
    loaded, problems = load_fixtures(paths, BotCache())
    if problems:
        print_problems(problems, "nothing was recorded")
        raise typer.Exit(EXIT_CONFIG)
    for fixture, bot in loaded:
        result = asyncio.run(record_fixture(fixture, bot, os.environ, provider=provider, update_expectations=update))
        calls = sum(len(t.requests) for t in result.turns)
        out.print(f"recorded {escape(fixture.source)} ({len(result.turns)} turns, {calls} model calls)")
        for warning in result.warnings:
            err.print(
                f"  warning: {warning} (fix the expectation, or re-record with --update-expectations)", markup=False
            )


def _record_new(bot_name: str, out_file: Path | None, provider: str | None) -> None:
    if out_file is None:
        err.print("--new needs --out FILE (a *.transcript.yaml file)", markup=False)
        raise typer.Exit(EXIT_CONFIG)
    bot = load_for_cli(bot_name, None)
    users = []
    for number, line in enumerate(sys.stdin, 1):
        said = line.rstrip("\r\n")
        command = said.strip()
        if command in ("/quit", "/exit"):  # as in chat: the conversation ends here
            break
        if command == "/reset":  # a chat script of several conversations, piped here whole
            err.print(
                f"stdin line {number}: /reset starts a new conversation, and a fixture holds one; "
                "record each conversation with its own --new ... --out",
                markup=False,
            )
            raise typer.Exit(EXIT_CONFIG)
        if command:
            users.append(said)
    if not users:
        err.print("no customer messages on stdin (one per line)", markup=False)
        raise typer.Exit(EXIT_CONFIG)
    try:
        result = asyncio.run(record_new(bot, Path(bot.source), users, out_file, os.environ, provider=provider))
    except (ValueError, FileExistsError) as exc:
        err.print(f"supportbot record: {exc}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    out.print(
        f"wrote {escape(display_path(out_file))} ({len(result.turns)} turns); check its expectations, then replay it"
    )


def coverage(
    paths: PathsArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the coverage as JSON.")] = False,
    fail_under: Annotated[
        float | None, typer.Option("--fail-under", help="Exit 1 when a bot's coverage is below this percentage.")
    ] = None,
) -> None:
    """Which snippets and escalation rules of each bot the fixtures exercise, and which never."""
    run = asyncio.run(replay_paths(paths))
    report = compute_coverage(run.bots.values(), run.results)
    if as_json:
        sys.stdout.write(json.dumps({"bots": [c.as_dict() for c in report]}, indent=2) + "\n")
    else:
        table = Table(title="Fixture coverage")
        for column in ("bot", "snippets", "rules", "coverage", "never exercised"):
            table.add_column(column)
        for item in report:
            snippets = f"{len(item.snippets) - len(item.missing_snippets())}/{len(item.snippets)}"
            rules = f"{len(item.rules) - len(item.missing_rules())}/{len(item.rules)}"
            missing = ", ".join([*item.missing_snippets(), *(f"rule {r}" for r in item.missing_rules())]) or "-"
            table.add_row(item.bot_id, snippets, rules, f"{item.percent:.0f}%", missing)
        out.print(table)
    if run.failed:
        err.print(
            f"note: {len(run.failed)} fixture(s) failed; their turns after the failure are not counted", markup=False
        )
    if run.problems:
        print_problems(run.problems, "those fixtures were not counted")
        raise typer.Exit(EXIT_CONFIG)
    if fail_under is not None and any(item.percent < fail_under for item in report):
        low = ", ".join(f"{i.bot_id} {i.percent:.0f}%" for i in report if i.percent < fail_under)
        err.print(f"coverage below {fail_under:g}%: {low}", markup=False)
        raise typer.Exit(EXIT_FAILURE)
