"""How the near-tie rule's gap was chosen (retrieval/calibration.py, `TIE`): on train rows the
few-shot bots do not hold, never on valid.jsonl.

For each k, the few-shot banking bot with hand-off examples and the 0.05 band
(bench/few_shot.py) judges a fixed random sample of 3,000 tuning rows: the in-scope train
rows past the first k of each intent, and the id-oos rows past the first 81. For each gap, a
best match whose lead in the match itself (before any shift) is under the gap is asked about
instead of answered; the rest of the decision is the engine's own (clarify.judge_retrieval).

    python bench/tie_sweep.py [--k 3 5 10] [--gaps 0 0.01 0.02 0.03 0.04]

Prints, per k and gap: in-scope answered right, resolved by clarifying, their sum, answered
wrongly (in-scope and id-oos together), id-oos handed off. The bot's own `TIE` is set to 0
first, so that gap 0 is the decision without the rule.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_bots import DEFAULT_DATASETS, read_jsonl
from few_shot import HANDOFF_EXAMPLES, build

from supportbot import load_bot
from supportbot.clarify import Evidence, judge_retrieval
from supportbot.retrieval import Candidate, retriever_for

REPO = Path(__file__).resolve().parent.parent
SAMPLE = 3000


def tuning_rows(datasets: Path, k: int) -> list[dict[str, object]]:
    seen: dict[str, int] = {}
    rows, handoffs = [], 0
    for row in read_jsonl(datasets / "banking77_oos" / "train.jsonl"):
        if row["kind"] == "in-scope":
            seen[str(row["expect"])] = seen.get(str(row["expect"]), 0) + 1
            if seen[str(row["expect"])] > k:
                rows.append(row)
        else:
            handoffs += 1
            if handoffs > HANDOFF_EXAMPLES:
                rows.append(row)
    return random.Random(1).sample(rows, SAMPLE)


def asked_below(candidates: list[Candidate], gap: float) -> list[Candidate]:
    """The candidates, the best no longer clear when its match leads the next by under `gap`."""
    ranked = sorted(candidates, key=lambda c: -c.match)
    if len(ranked) > 1 and ranked[0].match - ranked[1].match < gap:
        ranked[0] = replace(ranked[0], clear=False)
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "few-shot")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--gaps", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.03, 0.04])
    args = parser.parse_args()
    if not (args.datasets / "banking77_oos" / "train.jsonl").exists():
        sys.exit(f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo)")
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        "| k | gap | in-scope right | + resolved by clarifying | right or resolved | answered wrongly | id-oos handed off |"
    )
    print("| --- " * 7 + "|")
    for k in args.k:
        bot = load_bot(build(args.datasets, args.out, k, True, "semantic", 0.05), env={})
        retriever = retriever_for(bot)
        retriever.calibration = replace(retriever.calibration, tie=0.0)  # type: ignore[attr-defined]
        offline = bot.config.offline
        judged = [
            (row, retriever.search(str(row["text"]), 4), retriever.handoff_match(str(row["text"])))
            for row in tuning_rows(args.datasets, k)
        ]
        in_scope = sum(row["kind"] == "in-scope" for row, _, _ in judged)
        for gap in args.gaps:
            right = resolved = wrong = handed = 0
            for row, candidates, handoff_match in judged:
                verdict = judge_retrieval(
                    asked_below(candidates, gap), handoff_match, offline.min_score, offline.clarify_floor
                )
                offered = [c.snippet.id for c in verdict.options]
                if row["kind"] != "in-scope":
                    handed += verdict.evidence in (Evidence.NO_MATCH, Evidence.HANDOFF_EXAMPLE)
                    wrong += verdict.evidence == Evidence.MATCH
                elif verdict.evidence == Evidence.MATCH:
                    right += offered[0] == row["expect"]
                    wrong += offered[0] != row["expect"]
                elif verdict.evidence == Evidence.UNSURE:
                    resolved += row["expect"] in offered
            print(
                f"| {k} | {gap:g} | {right / in_scope:.3f} | {resolved / in_scope:.3f} | "
                f"{(right + resolved) / in_scope:.3f} | {wrong} | {handed / (len(judged) - in_scope):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
