"""`supportbot report`, `gaps` and `export`: what production teaches, read from a store."""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.measure import Measurement
from rich.table import Table

from ..ages import iso_utc
from ..bot import Bot
from ..config.loader import display_path, find_bot_files, load_bot
from ..errors import ConfigError
from ..insights.export import confirmed_outcomes, eval_lines, fixture_document
from ..insights.gaps import DEFAULT_THRESHOLD, Embed, drafts_yaml, find_gaps, gaps_json
from ..insights.html import render_html
from ..insights.prices import load_prices
from ..insights.report import build_report
from ..insights.sources import answers_of, bot_facts, embedder, parse_since, read_activity
from ..insights.turns import Turn, turns_of
from ..server.settings import ServerSettings
from ..store import ConversationActivity, StoreError
from .common import EXIT_CONFIG, EXIT_FAILURE, err, out, print_problems

__all__ = ["export", "gaps", "report"]

Db = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL, as for serve (default: SUPPORTBOT_DATABASE_URL, else sqlite:///supportbot.db)."
    ),
]
Since = Annotated[str, typer.Option("--since", help="Window: an age (7d, 12h, 30m), a date (2026-11-30), or all.")]
Bots = Annotated[
    list[str] | None,
    typer.Option("--bots", help="Bot files or folders, for titles, models and answers (default: bots/)."),
]


def _fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    err.print(message, markup=False)
    return typer.Exit(code)


def _window(since: str) -> str | None:
    try:
        return parse_since(since)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _activity(db: str | None, bot_id: str | None, since: str | None) -> list[ConversationActivity]:
    settings = ServerSettings.from_env(os.environ, database_url=db)
    try:
        return asyncio.run(read_activity(settings.database_url, bot_id, since))
    except StoreError as exc:
        raise _fail(f"cannot read {settings.database_display()}: {exc}", EXIT_FAILURE) from None


def _bots(paths: list[str] | None, *, required: str | None = None) -> dict[str, tuple[Bot, Path]]:
    """The bots found under `paths` by id (those that do not load are skipped, with a
    warning); `required`: this bot must be among them."""
    files, _ = find_bot_files(paths or ["bots"])
    found: dict[str, tuple[Bot, Path]] = {}
    for file in files:
        try:
            bot = load_bot(file)
        except ConfigError as exc:
            if required is None:
                err.print(f"warning: skipped {display_path(file)} ({len(exc.problems)} problems)", markup=False)
                continue
            print_problems(exc.problems)
            raise typer.Exit(EXIT_CONFIG) from None
        found[bot.id] = (bot, file)
    if required and required not in found:
        where = ", ".join(paths or ["bots"])
        raise _fail(f"no bot file for '{required}' under {where} (give its file or folder with --bots)")
    return found


def report(
    db: Db = None,
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot (default: every bot in the store).")] = None,
    since: Since = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page here.")] = None,
    bots: Bots = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="YAML/JSON: model -> {input, cached_input, output} USD per 1M tokens."),
    ] = None,
) -> None:
    """Per bot and day: conversations, containment, hand-offs, clarifications, feedback,
    latency, tokens and cost, and the most and least cited snippets."""
    start = _window(since)
    try:
        table = load_prices(prices)
    except ConfigError as exc:
        print_problems(exc.problems, "the report was not made")
        raise typer.Exit(EXIT_CONFIG) from None
    facts = bot_facts(b for b, _ in _bots(bots).values())
    data = build_report(_activity(db, bot, start), start, iso_utc(datetime.now(UTC)), facts, table)
    if html:
        html.write_text(render_html(data), encoding="utf-8")
    if as_json:
        out.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False, soft_wrap=True)
        return
    _print_report(data)
    if html:
        out.print(f"wrote {display_path(html)}", markup=False)


def _print_report(data: dict[str, Any]) -> None:
    if not data["bots"]:
        out.print("No conversations in this window.", markup=False)
    for bot in data["bots"]:
        out.print(f"\n[bold]{bot['bot']}[/bold]  model: {bot['model'] or 'none (offline)'}")
        rows = [*bot["days"], {"day": "total", **bot["totals"]}]
        table = Table(*_COLUMNS)
        for row in rows:
            table.add_row(*_cells(row), end_section=row["day"] == bot["days"][-1]["day"] if bot["days"] else False)
        if Measurement.get(out, out.options.update(max_width=10_000), table).maximum <= out.width:
            out.print(table)
        else:  # squeezed into a narrow terminal its headers read "co…", "tu…": a line a day instead
            for row in rows:
                out.print(_day_line(row), markup=False, soft_wrap=False)
        reasons = ", ".join(f"{h['rule']} {h['count']}" for h in bot["handoffs"]) or "none"
        out.print(f"hand-offs by rule: {reasons}", markup=False)
        most = ", ".join(f"{c['snippet']} {c['answers']}" for c in bot["most_cited"]) or "none"
        least = ", ".join(f"{c['snippet']} {c['answers']}" for c in bot["least_cited"]) or "none"
        out.print(f"most cited: {most}\nleast cited: {least}", markup=False)
        missed = ", ".join(
            f"{c['snippet']} {c['not_helped'] + c['rated_down']} of {c['answers']}" for c in bot["did_not_help"]
        )
        out.print(f"answers that did not help ('that didn't help', rated down): {missed or 'none'}", markup=False)


_COLUMNS = (
    "day", "conv", "contained", "turns", "hand-offs", "unanswered", "clarified/picked", "small talk", "up/down",
    "p50 ms", "p95 ms", "tokens in/out", "cost $",
)  # fmt: skip


def _day_line(row: dict[str, Any]) -> str:
    """One day of the report as words: "2026-12-06: 15 conversations, 33% contained, ..."."""
    day, conv, contained, turns, handoffs, unanswered, clarified, small, rated, p50, p95, tokens, cost = _cells(row)
    return (
        f"{day}: {conv} conversations, {contained} contained, {turns} turns, {handoffs} hand-offs "
        f"({unanswered} unanswered), clarified/picked {clarified}, small talk {small}, rated up/down {rated}, "
        f"p50 {p50} ms, p95 {p95} ms, tokens in/out {tokens}, cost ${cost}"
    )


def _cells(row: dict[str, Any]) -> list[str]:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    return [
        row["day"], str(row["conversations"]), pct(row["containment"]), str(row["turns"]), str(row["handoffs"]),
        str(row["unanswered"]), f"{row['clarifications_offered']}/{row['clarifications_picked']}",
        pct(row["small_talk_share"]), f"{row['feedback_up']}/{row['feedback_down']}", num(row["latency_p50_ms"]),
        num(row["latency_p95_ms"]), f"{row['prompt_tokens']:,}/{row['completion_tokens']:,}",
        "-" if row["cost_usd"] is None else f"{row['cost_usd']:.4f}",
    ]  # fmt: skip


def _embed_or_exit() -> Embed:
    try:
        return embedder()
    except ConfigError as exc:
        print_problems(exc.problems, "messages cannot be grouped by meaning without it")
        raise typer.Exit(EXIT_CONFIG) from None


def gaps(
    bot: Annotated[str, typer.Option("--bot", help="The bot whose unanswered questions to group.")],
    db: Db = None,
    since: Since = "30d",
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
    draft_file: Annotated[
        Path | None, typer.Option("--out", help="Write draft snippets (a knowledge file) for the groups here.")
    ] = None,
    bots: Bots = None,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="How alike a group's messages must be (cosine).")
    ] = DEFAULT_THRESHOLD,
) -> None:
    """Group the messages the bot did not answer by meaning, biggest group first, with the
    agents' replies as draft answers; list hand-offs an existing snippet would have avoided."""
    start = _window(since)
    known = _bots(bots).get(bot)
    turns = turns_of(_activity(db, bot, start))
    clusters, avoidable = find_gaps(turns, answers_of(known[0] if known else None), _embed_or_exit(), threshold)
    if draft_file:
        draft_file.write_text(drafts_yaml(clusters), encoding="utf-8")
    data = gaps_json(clusters, avoidable)
    if as_json:
        out.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False, soft_wrap=True)
        return
    if not data["clusters"] and not avoidable:
        out.print(f"No unanswered messages for '{bot}' in this window.", markup=False)
    for group in data["clusters"]:
        answer = "agents answered" if group["draft_answer"] else "no agent answer"
        out.print(f"\n[bold]{group['size']}[/bold]  {group['title']}  ({answer})", highlight=False)
        for message in group["messages"][:5]:
            out.print(f"    - {message}", markup=False)
    for item in data["avoidable"]:
        out.print(
            f"\navoidable: {item['handoffs']} hand-offs that '{item['snippet']}' answers; "
            f"add as example questions: {'; '.join(item['add_questions'][:5])}",
            markup=False,
        )
    if draft_file:
        out.print(f"\nwrote draft snippets to {display_path(draft_file)}", markup=False)


def export(
    bot: Annotated[str, typer.Option("--bot", help="The bot whose conversations to export.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into (created if missing).")],
    export_format: Annotated[
        str, typer.Option("--format", help="eval: a `supportbot eval` dataset; fixtures: transcript fixtures.")
    ] = "eval",
    db: Db = None,
    since: Since = "30d",
    bots: Bots = None,
) -> None:
    """Real conversations as tests: the outcome a person confirmed (a rating, an agent's
    reply) is the expected one; emails, phone and card numbers are masked."""
    if export_format not in ("eval", "fixtures"):
        raise _fail(f"--format {export_format!r}: use eval or fixtures")
    loaded, bot_file = _bots(bots, required=bot)[bot]
    activity = _activity(db, bot, _window(since))
    turns = turns_of(activity)
    confirmed = confirmed_outcomes(turns, answers_of(loaded), _embed_or_exit())
    out_dir.mkdir(parents=True, exist_ok=True)
    if export_format == "eval":
        lines = eval_lines([confirmed[id(t)] for t in turns if id(t) in confirmed])
        target = out_dir / f"{bot}.jsonl"
        target.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        written = f"{len(lines)} labelled messages to {display_path(target)}"
    else:
        written = _write_fixtures(out_dir, bot_file, turns, confirmed)
    out.print(f"wrote {written} ({len(confirmed)} of {len(turns)} turns confirmed by a person)", markup=False)


def _write_fixtures(out_dir: Path, bot_file: Path, turns: list[Turn], confirmed: dict[int, Any]) -> str:
    by_conversation: dict[str, list[Turn]] = defaultdict(list)
    for turn in turns:
        by_conversation[turn.conversation_id].append(turn)
    bot_path = os.path.relpath(bot_file.resolve(), out_dir.resolve())
    count = 0
    for conversation_id, conversation in by_conversation.items():
        document = fixture_document(bot_path, conversation, confirmed)
        if document is None:
            continue
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
        (out_dir / f"{conversation_id}.transcript.yaml").write_text(text, encoding="utf-8")
        count += 1
    return (
        f"{count} transcript fixtures to {display_path(out_dir)}; record the bot's replies before replaying them:"
        f" supportbot record {display_path(out_dir)}/*.transcript.yaml"
    )
