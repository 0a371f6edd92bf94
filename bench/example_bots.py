"""The example bots on customer messages of our own: what a support lead would see.

bench/example_bots/ holds, for each example bot, messages written for it as customers write
(typos, slang, greetings with questions, questions the FAQ does not answer, messages the
escalation rules must catch), labelled like any eval dataset. Each bot's set was written in
one go and split before anything was measured: every second line is held out
(`*.holdout.jsonl`). Look at the tuning half's misses when changing the engine; report both.

    python bench/example_bots.py [--misses]

Prints one row per bot and half: in-scope answered right, resolved by clarifying (the right
snippet among the options), handed off though the FAQ answers it, answered wrongly (in
scope or not), and the hand-offs expected by kind. `--misses` lists every message not
handled as labelled, wrong answers first (the tuning half only, unless `--holdout-misses`).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from supportbot import Engine, load_bot
from supportbot.evaluation import HANDOFF, Outcome, load_dataset, misses, run_eval

REPO = Path(__file__).resolve().parent.parent
SETS = REPO / "bench" / "example_bots"
BOTS = ("bean-there", "ledgerly-billing")
HALVES = ("tune", "holdout")


async def outcomes_of(bot_id: str, half: str) -> list[Outcome]:
    bot = load_bot(REPO / "bots" / f"{bot_id}.yaml", env={})
    examples = load_dataset(SETS / f"{bot_id}.{half}.jsonl", bot.snippets_by_id)
    async with Engine.for_bot(bot, {}) as engine:
        return await run_eval(engine, examples)


def row(bot_id: str, half: str, outcomes: list[Outcome]) -> str:
    in_scope = [o for o in outcomes if o.example.expect != HANDOFF]
    right = sum(o.correct for o in in_scope)
    resolved = sum(o.clarified_right for o in in_scope)
    handed = sum(o.decision.action == "handoff" for o in in_scope)
    wrong = sum(o.decision.action == "answer" and not o.correct for o in outcomes)
    kinds = {}
    for kind in ("id-oos", "ood-oos", "rule"):
        rows = [o for o in outcomes if o.example.expect == HANDOFF and o.example.kind == kind]
        kinds[kind] = f"{sum(o.correct for o in rows)}/{len(rows)}"
    n = len(in_scope)
    return (
        f"| {bot_id} | {half} | {n} | {right} ({right / n:.2f}) | {resolved} ({(right + resolved) / n:.2f}) | "
        f"{handed} | {wrong} | {kinds['id-oos']} | {kinds['ood-oos']} | {kinds['rule']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="list the tuning half's misses")
    parser.add_argument("--holdout-misses", action="store_true", help="list the held-out half's misses too")
    args = parser.parse_args()
    print(
        "| bot | half | in-scope | answered right | + resolved by clarifying (right or resolved) | "
        "handed off with an answer | answered wrongly | id-oos handed off | ood-oos handed off | rule handed off |"
    )
    print("| --- " * 10 + "|")
    listed = []
    for bot_id in BOTS:
        for half in HALVES:
            outcomes = asyncio.run(outcomes_of(bot_id, half))
            print(row(bot_id, half, outcomes), flush=True)
            if (args.misses and half == "tune") or args.holdout_misses:
                listed.append((bot_id, half, misses(outcomes)))
    for bot_id, half, found in listed:
        print(f"\n{bot_id}, {half}: {len(found)} not handled as labelled")
        for miss in found:
            print(
                f"  {miss['line']:>3}  {miss['miss']:<28} {miss['text']!r} (expected {miss['expect']}): {miss['did']}"
            )


if __name__ == "__main__":
    main()
