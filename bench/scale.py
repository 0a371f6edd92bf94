"""A bot with 100,000 generated snippets: load time, retrieval latency and peak memory.

    python bench/scale.py [--snippets 100000] [--queries 300] [--engine lexical|semantic]

Generates the bot under a temporary folder (one knowledge file of every snippet, as a large
FAQ export would be), then measures in a fresh Python process so that the memory figure is
that of loading and searching this bot alone:
- load: load_bot plus building the retrieval index (the YAML is parsed once);
- retrieval: the bot's retriever searching for messages phrased like the snippets' questions, p50 / p95;
- peak memory: the process's maximum resident set size.
With --engine semantic the probe vectors are encoded on the first run (minutes for 100,000
snippets) and read from the cache afterwards; the figures printed are of a warm cache.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "pe", "da", "zu", "fo", "gri", "bel", "tor", "an"]
COMMON = ["order", "refund", "card", "account", "delivery", "password", "invoice", "plan", "fee", "limit"]
TEMPLATES = ["How do I {v} my {n}?", "Can I {v} the {n} {a}?", "Why is my {n} {a}?", "What does {v} {n} cost?"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def generate(folder: Path, count: int, engine: str, seed: int = 7) -> tuple[Path, list[str]]:
    rng = random.Random(seed)
    vocabulary = [word(rng) for _ in range(20_000)]
    answer_words = vocabulary + COMMON
    questions: list[str] = []
    lines = ["snippets:"]
    for i in range(count):
        n, v, a = rng.choice(vocabulary), rng.choice(vocabulary), rng.choice(vocabulary)
        qs = [t.format(n=n, v=v, a=a) for t in rng.sample(TEMPLATES, 2)]
        answer = " ".join(rng.choice(answer_words) for _ in range(30)) + "."
        snippet = {
            "id": f"s{i:06d}",
            "title": f"{v.title()} {n} ({rng.choice(COMMON)})",
            "questions": qs,
            "answer": answer,
        }
        lines.append(f"  - {json.dumps(snippet)}")
        questions.append(qs[0])
    (folder / "knowledge").mkdir(parents=True, exist_ok=True)
    (folder / "knowledge" / "all.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bot = folder / "big.yaml"
    bot.write_text(
        "version: 1\nid: big\nname: Big FAQ\nmodel:\n  provider: offline\nsystem_prompt: Answer from the FAQ.\n"
        f"knowledge:\n  engine: {engine}\n  include: [knowledge/*.yaml]\n",
        encoding="utf-8",
    )
    return bot, questions


MEASURE = r"""
import json, resource, statistics, sys, time
started = time.perf_counter()
from supportbot import load_bot
from supportbot.retrieval import retriever_for
bot = load_bot(sys.argv[1], env={})
loaded = time.perf_counter()
retriever = retriever_for(bot)
indexed = time.perf_counter()
queries = json.loads(sys.argv[2])
hits, times = 0, []
for expected, text in queries:
    t = time.perf_counter()
    found = retriever.search(text, bot.config.knowledge.top_k)
    times.append(time.perf_counter() - t)
    hits += expected in [c.snippet.id for c in found]
times.sort()
print(json.dumps({
    "load_s": round(indexed - started, 2), "parse_s": round(loaded - started, 2), "index_s": round(indexed - loaded, 2),
    "p50_ms": round(1000 * statistics.median(times), 2), "p95_ms": round(1000 * times[int(0.95 * len(times))], 2),
    "recall_at_k": round(hits / len(queries), 3),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--engine", choices=["lexical", "semantic"], default="lexical")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes; medians are reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        bot, questions = generate(Path(tmp), args.snippets, args.engine)
        size = (Path(tmp) / "knowledge" / "all.yaml").stat().st_size
        print(
            f"generated {args.snippets:,} snippets ({size / 1e6:.1f} MB of YAML) in {time.perf_counter() - started:.1f} s"
        )
        rng = random.Random(1)
        picks = rng.sample(range(len(questions)), args.queries)
        # Messages phrased like a snippet's question, lower-cased and without the question mark.
        queries = [(f"s{i:06d}", questions[i].lower().rstrip("?")) for i in picks]
        results = []
        # The generated bot's vectors (hundreds of MB for 100,000 snippets) are cached beside
        # it for the runs after the first, and go with it, not into ~/.cache.
        env = {"SUPPORTBOT_CACHE_DIR": str(Path(tmp) / "cache"), **os.environ}
        for run in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", MEASURE, str(bot), json.dumps(queries)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            results.append(json.loads(out.stdout))
            print(f"run {run + 1}: {results[-1]}")
        summary = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(f"median of {args.runs}: {summary}")


if __name__ == "__main__":
    main()
