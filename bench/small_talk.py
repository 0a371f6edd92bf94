"""Small talk: how much of it the bean-there bot recognises, and how far the public queries
stay from it.

The message sets under bench/small_talk/ are our own, written one after another while small talk
was extended on 2026-12-05; the number in a file's name is the order, and the name says what had
been tuned when it was written (README, "Small talk"). questions.txt holds questions that carry
small-talk words ("that's great but where is my order"): none may be taken for small talk.

    python bench/small_talk.py [--datasets ../shared/datasets]

Per set: messages recognised by the phrases alone (smalltalk.split_small_talk), and answered
as small talk by the engine (phrases, then meaning where nothing in the bot is close). Then the
closest any query of banking77_oos train and valid and faq_covid dev comes to the examples of
small talk, against smalltalk.MEANING_FLOOR.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_bots import DEFAULT_DATASETS, read_jsonl

from supportbot import Conversation, Engine, load_bot
from supportbot.smalltalk import MEANING_FLOOR, examples, split_small_talk

REPO = Path(__file__).resolve().parent.parent
SETS = REPO / "bench" / "small_talk"
PUBLIC = ("banking77_oos/train.jsonl", "banking77_oos/valid.jsonl", "faq_covid/queries-dev.jsonl")


async def answered_as_small_talk(engine: Engine, messages: list[str]) -> int:
    found = 0
    for message in messages:
        decision = await engine.turn(Conversation(engine.bot.id), message)
        found += decision.small_talk is not None
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = parser.parse_args()
    bot = load_bot(REPO / "bots" / "bean-there.yaml", env={})
    async with Engine.for_bot(bot, {}, provider="offline") as engine:
        print("| set | messages | small talk by phrases | answered as small talk |")
        print("| --- | --- | --- | --- |")
        for path in sorted(SETS.glob("*.txt")):
            messages = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            phrases = sum(split_small_talk(m).small_talk is not None for m in messages)
            engine_found = await answered_as_small_talk(engine, messages)
            print(f"| {path.stem} | {len(messages)} | {phrases} | {engine_found} |")
        queries = [str(row["text"]) for name in PUBLIC for row in read_jsonl(args.datasets / name)]
        texts = [text for text, _ in examples()]
        closest = max(
            ((max(engine.retriever.small_talk_similarities(q)), q) for q in queries),
            key=lambda pair: pair[0],
        )
        print(
            f"\n{len(queries)} public queries: the closest comes {closest[0]:.3f} to one of {len(texts)} examples "
            f"({closest[1]!r}); MEANING_FLOOR is {MEANING_FLOOR}"
        )


if __name__ == "__main__":
    asyncio.run(main())
