"""`supportbot eval`: measure a bot on labelled customer messages."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ..bot import Bot
from ..engine import Engine
from ..errors import ConfigError, ProviderError
from ..evaluation import Example, Outcome, calibrate, load_dataset, misses, run_eval, summarize
from .common import EXIT_CONFIG, err, load_for_cli, out, print_problems

__all__ = ["evaluate"]


def evaluate(
    bot: Annotated[str, typer.Argument(help="A bot file, or the id of a bot in ./bots/.")],
    dataset: Annotated[Path, typer.Argument(help='JSON Lines: {"text", "expect": <snippet id> | "handoff", "kind"?}.')],
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="Use this provider instead of the bot's.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    do_calibrate: Annotated[
        bool, typer.Option("--calibrate", help="Search offline.min_score on this set and print the trade-off.")
    ] = False,
    show_misses: Annotated[
        bool,
        typer.Option("--misses", help="Also list every message not handled as labelled, wrong answers first."),
    ] = False,
) -> None:
    """Run each line as a fresh one-turn conversation through the real engine and report:
    in-scope accuracy, hand-off recall per kind and precision, wrong answers, retrieval
    recall@k, latency, and the snippets answered worst."""
    loaded = load_for_cli(bot, provider)
    try:
        examples = load_dataset(dataset, loaded.snippets_by_id)
    except ConfigError as exc:
        print_problems(exc.problems, "nothing was evaluated")
        raise typer.Exit(EXIT_CONFIG) from None
    if do_calibrate:
        _print_calibration(calibrate(loaded, examples), as_json)
        return
    outcomes = _evaluate(loaded, examples, show_progress=not as_json and err.is_terminal and len(examples) > 100)
    figures = {
        "bot": loaded.id,
        "dataset": str(dataset),
        "provider": loaded.config.model.provider,
        "top_k": loaded.config.knowledge.top_k,
        **summarize(outcomes),
    }
    if show_misses:
        figures["misses"] = misses(outcomes)
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    _print_figures(figures)
    if show_misses:
        _print_misses(figures["misses"])


def _evaluate(bot: Bot, examples: Sequence[Example], *, show_progress: bool) -> list[Outcome]:
    try:
        engine = Engine.for_bot(bot, os.environ)
    except ProviderError as exc:
        err.print(f"supportbot: {exc}", markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    with Progress(console=err, transient=True, disable=not show_progress) as progress:
        task = progress.add_task(f"evaluating {bot.id}", total=len(examples))
        return asyncio.run(_run(engine, examples, lambda n: progress.advance(task, n)))


async def _run(engine: Engine, examples: Sequence[Example], progress: Callable[[int], None]) -> list[Outcome]:
    async with engine:
        return await run_eval(engine, examples, progress)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_figures(figures: dict[str, Any]) -> None:
    table = Table(
        title=f"{figures['bot']} on {escape(figures['dataset'])} ({figures['examples']} messages, {figures['provider']})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("in-scope answered correctly", _fmt(figures["in_scope_accuracy"]))
    table.add_row("in-scope resolved by clarifying", _fmt(figures["in_scope_clarified_right"]))
    for kind, value in figures["handoff_recall"].items():
        table.add_row(f"{kind} handed off", _fmt(value))
    table.add_row("hand-off precision", _fmt(figures["handoff_precision"]))
    table.add_row("answered wrongly (count)", str(figures["answered_wrongly"]))
    for kind, value in figures["clarified"].items():
        table.add_row(f"{kind} clarified (asked which)", _fmt(value))
    table.add_row(f"retrieval recall@{figures['top_k']}", _fmt(figures["retrieval_recall_at_k"]))
    table.add_row("latency p50 / p95 (ms)", f"{figures['latency_ms']['p50']:.2f} / {figures['latency_ms']['p95']:.2f}")
    tokens = figures["tokens"]
    if tokens["prompt"]:
        table.add_row("model tokens: prompt / completion", f"{tokens['prompt']} / {tokens['completion']}")
        table.add_row("prompt tokens from the server's cache", f"{tokens['cached']} ({_fmt(tokens['cached_share'])})")
    if figures["response_cache_hits"]:
        table.add_row("answered from the response cache", str(figures["response_cache_hits"]))
    out.print(table)
    worst = Table(title="Snippets answered worst")
    for column in ("snippet", "accuracy", "examples", "most often instead"):
        worst.add_column(column)
    for row in figures["worst_snippets"]:
        instead = ", ".join(f"{name} ({count})" for name, count in row["most_often_instead"]) or "-"
        worst.add_row(escape(row["snippet"]), f"{row['accuracy']:.3f}", str(row["examples"]), escape(instead))
    out.print(worst)


def _print_misses(rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print("Every message was handled as labelled.")
        return
    table = Table(title=f"Messages not handled as labelled ({len(rows)}, wrong answers first)")
    for column in ("line", "message", "expected", "what went wrong", "the bot"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["line"]), escape(row["text"]), escape(row["expect"]), row["miss"], escape(row["did"]))
    out.print(table)


def _print_calibration(rows: list[dict[str, Any]], as_json: bool) -> None:
    best = max(rows, key=lambda r: (r["lowest"], r.get("in-scope", 0)))
    if as_json:
        sys.stdout.write(
            json.dumps({"recommended": {"offline": {"min_score": best["min_score"]}}, "table": rows}, indent=2) + "\n"
        )
        return
    kinds = [k for k in rows[0] if k not in ("min_score", "lowest")]
    table = Table(title="offline.min_score trade-off (the row with the best lowest figure is marked)")
    table.add_column("min_score", justify="right")
    for kind in kinds:
        table.add_column(kind, justify="right")
    for row in rows:
        mark = " ←" if row is best else ""
        table.add_row(f"{row['min_score']:.3f}{mark}", *(f"{row[k]:.3f}" for k in kinds))
    out.print(table)
    out.print(f"put in the bot file:\n\noffline:\n  min_score: {best['min_score']}", markup=False)
