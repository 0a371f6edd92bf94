"""Would fine-tuning the encoder on a bot's own questions reach issue 14's target?

The few-shot literature (SetFit and its kin) adapts the sentence encoder to each task's few
examples before matching. This script does that for the k-shot bot of bench/few_shot.py:
MiniLM-L6 trained contrastively on the bot's texts alone (each snippet's k questions and its
title; the first 81 id-oos train rows, the bot's hand-off examples, as negatives only, since
an author does not group them), then written as a model directory the semantic engine can
load. It prints bench/encoder_ceiling.py's ceiling before and after; the engine's own figures
come from `bench/few_shot.py --model DIR --min-score ...` in the project's environment.

Training: pairs of two questions of one snippet; in each batch of 32, every other pair's
question and 16 hand-off examples are the negatives (cross-entropy over cosines x 20, the
"multiple negatives ranking" loss), 4 passes over the bot's texts, AdamW at 2e-5, seed 0.
Those settings were the best of three tries judged on valid.jsonl (the cosine-regression
loss of SetFit's first version, and 10 passes, did worse), so the figures are if anything
optimistic.

Not part of the project's environment (it needs PyTorch), as encoder_ceiling.py:

    python3 -m venv /tmp/exp && /tmp/exp/bin/pip install torch==2.13.0 transformers numpy
    /tmp/exp/bin/python bench/encoder_finetune.py MODEL_DIR OUT_DIR [--k 5]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_ceiling import HANDOFF_EXAMPLES, ceiling
from eval_bots import DEFAULT_DATASETS, read_jsonl, title_of

BATCH = 32
HANDOFF_NEGATIVES = 16
PASSES = 4
LEARNING_RATE = 2e-5
SCALE = 20.0


def bot_texts(train: list[dict[str, Any]], k: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(text, snippet) for every probe of the k-shot bot, and its hand-off examples."""
    questions: dict[str, list[str]] = {}
    for row in train:
        if row["kind"] == "in-scope" and len(questions.setdefault(row["expect"], [])) < k:
            questions[row["expect"]].append(row["text"])
    probes = [(text, intent) for intent, texts in questions.items() for text in [*texts, title_of(intent)]]
    handoff = [row["text"] for row in train if row["kind"] != "in-scope"][:HANDOFF_EXAMPLES]
    return probes, handoff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the sentence-transformers model directory to start from")
    parser.add_argument("out", type=Path, help="where to write the fine-tuned model directory")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = parser.parse_args()
    folder = args.datasets / "banking77_oos"
    if not folder.exists():
        sys.exit(f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo)")

    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model)

    def embed(texts: list[str]) -> Any:
        batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    def encode(texts: list[str]) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return np.concatenate([embed(texts[s : s + 64]).numpy() for s in range(0, len(texts), 64)])

    train, valid = read_jsonl(folder / "train.jsonl"), read_jsonl(folder / "valid.jsonl")
    print(json.dumps({"k": args.k, "before": ceiling(encode, train, valid, args.k)}), flush=True)
    probes, handoff = bot_texts(train, args.k)
    by_snippet: dict[str, list[str]] = {}
    for text, snippet in probes:
        by_snippet.setdefault(snippet, []).append(text)
    pairs = [
        (text, rng.choice([other for other in by_snippet[snippet] if other != text]), snippet)
        for _ in range(PASSES)
        for text, snippet in probes
    ]
    rng.shuffle(pairs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    started = time.perf_counter()
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start : start + BATCH]
        anchors = embed([anchor for anchor, _, _ in batch])
        others = embed([positive for _, positive, _ in batch] + rng.sample(handoff, HANDOFF_NEGATIVES))
        similarity = anchors @ others.T * SCALE
        # Another pair of the same snippet is not a negative.
        same = [[batch[r][2] == batch[c][2] and r != c for c in range(len(batch))] for r in range(len(batch))]
        mask = torch.tensor([row + [False] * HANDOFF_NEGATIVES for row in same])
        loss = torch.nn.functional.cross_entropy(similarity.masked_fill(mask, -1e4), torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trained_s = round(time.perf_counter() - started)
    print(json.dumps({"k": args.k, "after": ceiling(encode, train, valid, args.k), "train_s": trained_s}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    shutil.copy(Path(args.model) / "tokenizer.json", args.out / "tokenizer.json")
    print(f"wrote {args.out}: python bench/few_shot.py --k {args.k} --model {args.out} --min-score 0.55")


if __name__ == "__main__":
    main()
