"""Per-message cost of the sentence encoder, the semantic engine's largest cost on a small bot.

Each customer message is encoded alone, on one thread, as the engine does: "today" is the
message path (int8, ONNX Runtime: Encoder.encode_message), "today-float" the float32 NumPy
pass that encodes probes (Encoder.encode). With --against REV, the encoder of an earlier
commit (its supportbot/retrieval/encoder.py, read with git) runs beside them. They take turns
in blocks of 50 messages, so all see the same machine; with --load N, N other processes keep
the cores busy meanwhile.

    python bench/encoder.py [--messages 300] [--against REV] [--load 2]

Messages: the first --messages texts of BANKING77-OOS valid.jsonl (../shared/datasets).
Prints p50 and p95 per message for each, the ratios to today's, and how far each one's vectors
are from the float pass's (1 - cosine: median and worst message).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supportbot.retrieval.blas import one_thread
from supportbot.retrieval.encoder import DEFAULT_MODEL, load_encoder, model_directory

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
BLOCK = 50


def encoder_at(revision: str) -> Any:
    """The message encoder of supportbot/retrieval/encoder.py at `revision`, imported under
    another name beside today's (its relative imports resolve in today's package)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:supportbot/retrieval/encoder.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "encoder_then.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("supportbot.retrieval.encoder_then", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        encoder = module.Encoder(model_directory(DEFAULT_MODEL), Path(tempfile.mkdtemp()))
    except TypeError:  # before 2026-12-04 an Encoder took no cache folder, and had no int8 path
        encoder = module.Encoder(model_directory(DEFAULT_MODEL))
    return getattr(encoder, "encode_message", encoder.encode)


def busy() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--against", metavar="REV", help="an earlier commit whose encoder runs beside today's")
    parser.add_argument("--load", type=int, default=0, metavar="N", help="busy processes beside the measurement")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    args = parser.parse_args()
    valid = args.datasets / "banking77_oos" / "valid.jsonl"
    if not valid.exists():
        sys.exit(f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo)")
    lines = valid.read_text(encoding="utf-8").splitlines()[: args.messages]
    texts = [str(json.loads(line)["text"]) for line in lines]
    today = load_encoder(DEFAULT_MODEL)
    encoders: dict[str, Callable[[list[str]], Any]] = {"today": today.encode_message, "today-float": today.encode}
    if args.against:
        encoders[args.against] = encoder_at(args.against)
    times: dict[str, list[float]] = {name: [] for name in encoders}
    vectors: dict[str, list[Any]] = {name: [] for name in encoders}
    load = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for process in load:
        process.start()
    try:
        with one_thread():
            for encode in encoders.values():  # warm up: first calls allocate
                encode(texts[:5])
            for start in range(0, len(texts), BLOCK):
                for name, encode in encoders.items():
                    for text in texts[start : start + BLOCK]:
                        began = time.perf_counter()
                        vector = encode([text])[0]
                        times[name].append(time.perf_counter() - began)
                        vectors[name].append(vector)
    finally:
        for process in load:
            process.terminate()
    print(f"{len(texts)} messages, one BLAS thread, {args.load} busy processes beside")
    for name, spent in times.items():
        print(
            f"{name}: p50 {statistics.median(spent) * 1000:.2f} ms, p95 {statistics.quantiles(spent, n=20)[-1] * 1000:.2f} ms"
        )
    for name in encoders:
        if name == "today":
            continue
        ratio = statistics.median(times[name]) / statistics.median(times["today"])
        print(f"p50 {name} / today: {ratio:.2f}")
    for name in encoders:
        apart = [1 - float(a @ b) for a, b in zip(vectors[name], vectors["today-float"], strict=True)]
        print(f"{name}: 1 - cosine with the float pass: median {statistics.median(apart):.1e}, worst {max(apart):.1e}")


if __name__ == "__main__":
    main()
