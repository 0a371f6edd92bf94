"""Bots as authors write them: a few example questions per snippet. BANKING77-OOS, read from
../shared/datasets (never copied into the repo).

For each k (example questions per intent: the first k train rows of each in-scope intent)
and with or without hand-off examples (the first 81 id-oos train rows, about three per
uncovered intent), a bot is built under bench/results/few-shot/ and every line of
valid.jsonl runs through the real engine as a one-turn conversation (offline provider).

    python bench/few_shot.py [--k 3 5 10] [--engine semantic] [--clarify-band 0 0.05]
                             [--model DIR] [--min-score 0.55]

--model puts another sentence encoder (a BERT model directory) under the semantic engine,
such as one fine-tuned by bench/encoder_finetune.py; with another encoder the scores sit
elsewhere, so --min-score (the answer floor; the clarification floor is --clarify-band below
it) moves with it.

Prints one row per bot: in-scope answered right, resolved by clarifying, id-oos and ood-oos
handed off, wrong answers (count and share of in-scope queries), the right snippet ranked
first, p50 per query. Targets (issue 14, k = 5 with hand-off examples): answered right +
resolved by clarifying >= 0.85, wrong answers <= 5% of in-scope queries, id-oos >= 0.85,
ood-oos >= 0.95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_bots import BANKING_ANSWERS, DEFAULT_DATASETS, MIN_SCORE, read_jsonl, title_of

from supportbot import Engine, load_bot
from supportbot.evaluation import load_dataset, run_eval, summarize

REPO = Path(__file__).resolve().parent.parent
HANDOFF_EXAMPLES = 81


def build(
    datasets: Path,
    out: Path,
    k: int,
    handoffs: bool,
    engine: str,
    band: float,
    model: str | None = None,
    min_score: float | None = None,
) -> Path:
    rows = read_jsonl(datasets / "banking77_oos" / "train.jsonl")
    questions: dict[str, list[str]] = {}
    for row in rows:
        if row["kind"] == "in-scope" and len(questions.setdefault(str(row["expect"]), [])) < k:
            questions[str(row["expect"])].append(str(row["text"]))
    examples = [str(r["text"]) for r in rows if r["kind"] != "in-scope"][:HANDOFF_EXAMPLES] if handoffs else []
    snippets = [
        {"id": intent, "title": title_of(intent), "questions": qs, "answer": BANKING_ANSWERS[intent]}
        for intent, qs in sorted(questions.items())
    ]
    name = f"banking-k{k}{'-handoff' if handoffs else ''}-{engine}-band{band:g}"
    if model is not None or min_score is not None:  # beside the standard bots, not over them
        name += f"-{Path(model).name if model else 'packaged'}-min{min_score if min_score is not None else 'default'}"
    (out / "knowledge").mkdir(parents=True, exist_ok=True)
    (out / "knowledge" / f"{name}.yaml").write_text(json.dumps({"snippets": snippets}), encoding="utf-8")
    if min_score is None:
        min_score = MIN_SCORE[engine]
    knowledge: dict[str, object] = {"include": [f"knowledge/{name}.yaml"], "top_k": 4, "engine": engine}
    if model is not None:
        knowledge["model"] = str(Path(model).resolve())
    bot = {
        "version": 1,
        "id": name,
        "name": "Few-shot banking bot",
        "model": {"provider": "offline"},
        "system_prompt": "You are the support assistant of a bank.",
        "knowledge": knowledge,
        "escalation": {"confidence_threshold": 0.55, "handoff_examples": examples},
        "offline": {"min_score": min_score, "clarify_score": round(min_score - band, 4)},
    }
    path = out / f"{name}.yaml"
    path.write_text(json.dumps(bot), encoding="utf-8")
    return path


async def measure(path: Path, dataset: Path) -> dict[str, object]:
    bot = load_bot(path, env={})
    examples = load_dataset(dataset, bot.snippets_by_id)
    async with Engine.for_bot(bot, {}) as engine:
        outcomes = await run_eval(engine, examples)
    figures = summarize(outcomes)
    in_scope = [o for o in outcomes if o.example.expect != "handoff"]
    figures["first"] = round(
        sum(bool(o.offered) and o.offered[0] == o.example.expect for o in in_scope) / len(in_scope), 4
    )
    figures["wrong_share"] = round(figures["answered_wrongly"] / len(in_scope), 4)  # type: ignore[operator]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "few-shot")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--engine", choices=sorted(MIN_SCORE), default="semantic")
    parser.add_argument("--clarify-band", type=float, nargs="+", default=[0.0], help="widths below min_score")
    parser.add_argument("--model", help="a BERT model directory to use as the semantic engine's encoder")
    parser.add_argument("--min-score", type=float, help="the answer floor (default: the engine's, as eval_bots.py)")
    args = parser.parse_args()
    dataset = args.datasets / "banking77_oos" / "valid.jsonl"
    if not dataset.exists():
        sys.exit(f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo)")
    args.out.mkdir(parents=True, exist_ok=True)
    header = "| k | hand-off examples | band | in-scope right | + clarified right | id-oos handed off | ood-oos handed off | wrong answers (share of in-scope) | right snippet first | p50 ms |"
    print(header)
    print("| --- " * 10 + "|")
    for k in args.k:
        for handoffs in (True, False):
            for band in args.clarify_band:
                f = asyncio.run(
                    measure(
                        build(args.datasets, args.out, k, handoffs, args.engine, band, args.model, args.min_score),
                        dataset,
                    )
                )
                recall = f["handoff_recall"]
                print(
                    f"| {k} | {HANDOFF_EXAMPLES if handoffs else 0} | {band:g} | {f['in_scope_accuracy']:.3f} | "
                    f"{f['in_scope_clarified_right']:.3f} | {recall.get('id-oos', 0):.3f} | {recall.get('ood-oos', 0):.3f} | "  # type: ignore[union-attr]
                    f"{f['answered_wrongly']} ({f['wrong_share']:.3f}) | {f['first']:.3f} | {f['latency_ms']['p50']:.2f} |",  # type: ignore[index]
                    flush=True,
                )


if __name__ == "__main__":
    main()
