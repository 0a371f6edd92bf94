"""`supportbot chat`: a terminal conversation with one bot."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

from rich.console import Console
from rich.text import Text

from ..bot import Bot
from ..conversation import Conversation
from ..decision import Decision
from ..engine import Engine
from ..errors import MessageRejected

__all__ = ["render_decision", "run_chat"]

_HELP = "Type a message. /reset starts a new conversation, /quit (or Ctrl-D) ends."


def _interactive_lines(out: Console) -> Iterator[str]:
    while True:
        try:
            yield out.input("[bold cyan]you ›[/bold cyan] ")
        except EOFError:
            out.print()
            return


def _piped_lines() -> Iterator[str]:
    for line in sys.stdin:
        yield line.rstrip("\r\n")


def render_decision(decision: Decision) -> Text:
    """How a decision looks to a person at a terminal."""
    text = Text()
    if decision.with_person_already:  # as in the web chat: the hand-off message once is enough
        text.append("⇢ with a person already: the bot stays silent", style="yellow")
        text.append(" (rule already_handed_off)", style="dim")
        return text
    if decision.handoff:
        text.append("⇢ handed off to a person", style="bold yellow")
        detail = f" — {decision.handoff.detail}" if decision.handoff.detail else ""
        text.append(f" (rule {decision.handoff.rule}: {decision.handoff.reason}{detail})\n", style="yellow")
    text.append("bot › ", style="bold green")
    text.append(decision.reply)
    for number, option in enumerate(decision.options, 1):
        text.append(f"\n      {number}. {option.title}", style="cyan")
    details = []
    if decision.citations:
        details.append("sources: " + ", ".join(decision.citations))
    if decision.confidence is not None:
        details.append(f"confidence {decision.confidence:.2f}")
    if decision.small_talk:
        details.append(f"small talk ({decision.small_talk})")
    details.append(f"{decision.latency_ms:.0f} ms")
    text.append("\n      " + " · ".join(details), style="dim")
    return text


async def run_chat(
    bot: Bot, out: Console, err: Console, *, as_json: bool, interactive: bool, env: Mapping[str, str]
) -> int:
    """Run the conversation until input ends; returns the exit status."""
    async with Engine.for_bot(bot, env) as engine:
        conversation = Conversation(bot.id)
        if interactive:
            out.print(f"[bold]{bot.name}[/bold] ({bot.config.model.provider} provider). {_HELP}")
        seen = 0
        for line in _interactive_lines(out) if interactive else _piped_lines():
            command = line.strip()
            if not command:
                continue
            # The same commands piped as typed: a script of several conversations resets
            # between them rather than sending "/reset" to the bot as a customer message.
            if command in ("/quit", "/exit"):
                break
            if command == "/reset":
                conversation = Conversation(bot.id)
                if not as_json:  # stdout stays one Decision per line
                    out.print("[dim]new conversation[/dim]")
                continue
            seen += 1
            try:
                decision = await engine.turn(conversation, line)
            except MessageRejected as exc:
                err.print(f"message {seen} refused: {exc}", markup=False)
                continue
            if as_json:
                sys.stdout.write(decision.model_dump_json() + "\n")
                sys.stdout.flush()
            else:
                if not interactive:  # piped: show what the customer said, as a terminal would
                    out.print(Text.assemble(("you › ", "bold cyan"), line))
                out.print(render_decision(decision), soft_wrap=False)
        if not interactive and not seen:
            err.print("no messages on stdin (pipe one customer message per line, or run in a terminal)", markup=False)
    return 0
