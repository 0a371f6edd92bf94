"""Per-turn latency: supportbot's engine (openai provider) versus a bare AsyncOpenAI call.

Both run in this process against the same fake OpenAI-compatible server, started in its
own process on 127.0.0.1, interleaved turn by turn so machine noise hits both alike. The
bot has 1,000 generated snippets; conversations run a few turns, so history is in play.
The bare call sends exactly the messages the engine sends for that turn (built beforehand,
outside the timing), so the difference is what the engine adds: rules, retrieval, prompt
building, token counting, validation, policy and bookkeeping.

    python bench/engine_overhead.py [--turns 400] [--snippets 1000]

Target: median ratio engine / bare <= 1.25. The bare call uses the SDK's default transport;
the same call on the aiohttp transport (which supportbot uses) is measured too, so the part
of the difference that is the transport can be told from the part that is the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openai import AsyncOpenAI, DefaultAioHttpClient

from supportbot import Conversation, Engine, load_bot
from supportbot.prompt import build_messages
from supportbot.retrieval import retriever_for

TOPICS = [
    "order",
    "delivery",
    "refund",
    "invoice",
    "password",
    "subscription",
    "warranty",
    "voucher",
    "account",
    "payment",
    "shipping",
    "return",
    "exchange",
    "size",
    "colour",
    "battery",
    "charger",
    "login",
    "email",
    "address",
    "discount",
    "gift",
    "card",
    "store",
    "pickup",
    "tracking",
    "damage",
]
VERBS = ["change", "cancel", "track", "update", "find", "use", "pay", "get", "reset", "check"]


def generate_bot(folder: Path, n: int) -> Path:
    rng = random.Random(7)
    # Each snippet on its own verb and pair of topics: two on the same ("cancel your exchange
    # battery", "cancel your battery exchange") are the near duplicates `validate` warns
    # about, and the engine rightly asks which one is meant instead of asking the model.
    combos = [(verb, pair) for verb in VERBS for pair in itertools.combinations(TOPICS, 2)]
    if n > len(combos):
        sys.exit(f"--snippets: at most {len(combos)} distinct snippets can be generated")
    snippets = []
    for i, (verb, pair) in enumerate(rng.sample(combos, n)):
        a, b = rng.sample(pair, 2)
        snippets.append(
            {
                "id": f"faq-{i:04d}",
                "title": f"How to {verb} your {a} {b} ({i})",
                "questions": [
                    f"How do I {verb} my {a} {b}?",
                    f"Can I {verb} the {b} of my {a}?",
                    f"{a} {b} {verb} {i}",
                ],
                "answer": f"To {verb} your {a} {b}, open your account, choose {a} and then {b}. Reference {i}.",
            }
        )
    (folder / "knowledge").mkdir()
    (folder / "knowledge" / "faq.yaml").write_text(json.dumps({"snippets": snippets}))  # JSON is YAML
    bot = {
        "version": 1,
        "id": "bench",
        "name": "Bench",
        "model": {"provider": "openai", "name": "gpt-4o-mini", "timeout_s": 10, "max_retries": 0},
        "system_prompt": "You are the support assistant of a large shop. Answer from the snippets only.",
        "knowledge": {"include": ["knowledge/*.yaml"], "top_k": 4},
        "escalation": {
            "confidence_threshold": 0.5,
            "max_bot_turns": 1000,
            "rules": [
                {"id": "human", "if_user_says": ["human", "agent"]},
                {"id": "legal", "if_user_matches": r"(?i)\b(lawyer|sue)\b"},
            ],
        },
        "limits": {"history_tokens": 1500},
    }
    path = folder / "bench.yaml"
    path.write_text(json.dumps(bot))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "supportbot.testing", "--port", str(port)], stdout=subprocess.PIPE)
    assert server.stdout is not None
    server.stdout.readline()  # "fake OpenAI server on ..." once it listens
    return server


async def measure(bot_path: Path, url: str, turns: int) -> tuple[list[float], list[float], list[float]]:
    bot = load_bot(bot_path, env={})
    rng = random.Random(11)
    questions = [q for s in bot.snippets[:200] for q in s.questions[:2]]
    engine = Engine.for_bot(bot, {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "bench"})
    bare = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0, timeout=10)
    # The same call on the aiohttp transport supportbot itself uses, for a like-for-like ratio.
    bare_aio = AsyncOpenAI(
        base_url=url, api_key="bench", max_retries=0, timeout=10, http_client=DefaultAioHttpClient(timeout=10)
    )
    model = bot.config.model
    engine_ms: list[float] = []
    bare_ms: list[float] = []
    bare_aio_ms: list[float] = []
    not_answered: list[str] = []
    conversation = Conversation(bot.id)
    for i in range(turns + 20):
        question = rng.choice(questions)
        if len(conversation.turns) >= 6:  # conversations of a few turns, so history is trimmed and counted
            conversation = Conversation(bot.id)
        # The bare call's payload: the messages the engine is about to send, built untimed.
        candidates = retriever_for(bot).search(question, bot.config.knowledge.top_k, conversation.recent_questions(1))
        messages = build_messages(
            bot.config.system_prompt, candidates, conversation.history(), question, bot.config.limits.history_tokens
        )

        started = time.perf_counter()
        decision = await engine.turn(conversation, question)
        engine_time = (time.perf_counter() - started) * 1000
        if decision.action != "answer":  # no model call to compare with; counted apart
            not_answered.append(decision.action)
            conversation = Conversation(bot.id)
            continue

        times = []
        for client in (bare, bare_aio):
            started = time.perf_counter()
            await client.chat.completions.create(
                model=model.name,
                messages=messages,
                temperature=model.temperature,  # type: ignore[arg-type]
                max_tokens=model.max_tokens,
                response_format={"type": "json_object"},
            )
            times.append((time.perf_counter() - started) * 1000)
        if i >= 20:  # warm-up turns are not counted
            engine_ms.append(engine_time)
            bare_ms.append(times[0])
            bare_aio_ms.append(times[1])
    await engine.aclose()
    await bare.close()
    await bare_aio.close()
    if not_answered:
        print(
            f"{len(not_answered)} turns not answered ({', '.join(sorted(set(not_answered)))}), not timed",
            file=sys.stderr,
        )
    return engine_ms, bare_ms, bare_aio_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--snippets", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    try:
        with tempfile.TemporaryDirectory() as folder:
            # The generated bot's vectors are cached beside it and go with it, not into ~/.cache.
            os.environ.setdefault("SUPPORTBOT_CACHE_DIR", str(Path(folder) / "cache"))
            started = time.perf_counter()
            bot_path = generate_bot(Path(folder), args.snippets)
            retriever_for(load_bot(bot_path, env={}))
            load_s = time.perf_counter() - started
            engine_ms, bare_ms, bare_aio_ms = asyncio.run(measure(bot_path, f"http://127.0.0.1:{port}/v1", args.turns))
    finally:
        server.terminate()
        server.wait()
    med_engine, med_bare = statistics.median(engine_ms), statistics.median(bare_ms)
    ratios = [e / b for e, b in zip(engine_ms, bare_ms, strict=True)]
    result = {
        "snippets": args.snippets,
        "turns": len(engine_ms),  # timed: answered turns after the warm-up
        "bot_load_and_index_s": round(load_s, 3),
        "engine_median_ms": round(med_engine, 3),
        "bare_median_ms": round(med_bare, 3),
        "engine_p90_ms": round(statistics.quantiles(engine_ms, n=10)[-1], 3),
        "bare_p90_ms": round(statistics.quantiles(bare_ms, n=10)[-1], 3),
        "ratio_of_medians": round(med_engine / med_bare, 3),
        "median_of_paired_ratios": round(statistics.median(ratios), 3),
        "bare_aiohttp_median_ms": round(statistics.median(bare_aio_ms), 3),
        "ratio_to_bare_aiohttp": round(med_engine / statistics.median(bare_aio_ms), 3),
        "target": "ratio_of_medians <= 1.25 (bare = AsyncOpenAI with its default transport)",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
