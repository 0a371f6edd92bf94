"""Load and crash: 10,000 turns over 500 concurrent conversations through `supportbot serve`.

Each conversation sends its turns one after another; every customer text is unique, so the
store can be checked exactly afterwards: every acknowledged turn stored once (none lost, none
duplicated), no 5xx. With --crash the server is killed with SIGKILL half way through and
restarted on the same database; turns that got no response may or may not be stored, but
every turn that got one must be, exactly once.

    python bench/load_crash.py [--db sqlite|postgresql] [--crash] [--turns 10000] [--conversations 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_throughput import REPO, database_url, drop_schema, free_port, start, stop, wait_http

from supportbot.store import open_store


class Load:
    def __init__(self, url: str, conversations: int, turns: int) -> None:
        self.url = url
        self.conversations = conversations
        self.per_conversation = turns // conversations
        self.acknowledged: list[str] = []
        self.latencies: list[float] = []
        self.status: Counter[int] = Counter()
        self.unanswered = 0

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.conversations)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._customer(session, c) for c in range(self.conversations)))

    async def _customer(self, session: aiohttp.ClientSession, number: int) -> None:
        conversation: str | None = None
        for turn in range(self.per_conversation):
            text = f"Where is my order? [c{number} t{turn}]"
            body = {"text": text} | ({"conversation_id": conversation} if conversation else {})
            started = time.perf_counter()
            try:
                async with session.post(f"{self.url}/v1/bots/bean-there/messages", json=body) as response:
                    self.status[response.status] += 1
                    data = await response.json() if response.status == 200 else None
            except (TimeoutError, aiohttp.ClientError):
                self.unanswered += 1  # the server died under this request: not acknowledged
                await asyncio.sleep(0.5)
                continue
            if data is not None:
                self.latencies.append(time.perf_counter() - started)
                self.acknowledged.append(text)
                conversation = data["conversation_id"]


async def stored_texts(db: str) -> Counter[str]:
    store = open_store(db)
    await store.open()
    try:
        return await store.customer_texts()
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--crash", action="store_true", help="SIGKILL the server half way and restart it")
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--model-delay-ms", type=float, default=20)
    args = parser.parse_args()
    model_port, serve_port = free_port(), free_port()
    model = start(["-m", "supportbot.testing", "--port", str(model_port), "--delay-ms", str(args.model_delay_ms)])
    # One load generator opens every conversation: no per-address limit on new ones.
    env = {
        "SUPPORTBOT_PROVIDER": "openai",
        "SUPPORTBOT_MODEL_URL": f"http://127.0.0.1:{model_port}/v1",
        "SUPPORTBOT_NEW_CONVERSATIONS_PER_MINUTE": "0",
    }
    serve_args = ["-m", "supportbot", "serve", str(REPO / "bots" / "bean-there.yaml"), "--port", str(serve_port)]
    with tempfile.TemporaryDirectory() as folder:
        db, schema = database_url(args.db, Path(folder))
        serve = start([*serve_args, "--db", db], env=env)
        try:
            wait_http(f"http://127.0.0.1:{serve_port}/readyz")
            load = Load(f"http://127.0.0.1:{serve_port}", args.conversations, args.turns)
            started = time.monotonic()

            async def drive() -> None:
                nonlocal serve
                task = asyncio.create_task(load.run())
                if args.crash:
                    while len(load.acknowledged) < args.turns // 2:
                        await asyncio.sleep(0.05)
                    serve.send_signal(signal.SIGKILL)
                    serve.wait()
                    serve = start([*serve_args, "--db", db], env=env)
                    await asyncio.to_thread(wait_http, f"http://127.0.0.1:{serve_port}/readyz", 60)
                await task

            asyncio.run(drive())
            seconds = time.monotonic() - started
            stored = asyncio.run(stored_texts(db))
        finally:
            stop(serve)
            stop(model)
            drop_schema(schema)
    result = report(args, load, stored, seconds)
    print(json.dumps(result, indent=2))
    if result["lost"] or result["duplicated"] or result["server_errors_5xx"]:
        sys.exit(1)


def report(args: argparse.Namespace, load: Load, stored: Counter[str], seconds: float) -> dict[str, object]:
    """The run's figures: what was acknowledged against what the store holds, and timings."""
    lost = [t for t in Counter(load.acknowledged) if stored[t] == 0]
    duplicated = [t for t, n in stored.items() if n > 1]
    ordered = sorted(load.latencies)
    return {
        "db": args.db,
        "crash": args.crash,
        "turns_sent": sum(load.status.values()) + load.unanswered,
        "acknowledged": len(load.acknowledged),
        "unanswered_during_crash": load.unanswered,
        "stored_customer_messages": sum(stored.values()),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "status_counts": dict(sorted(load.status.items())),
        "server_errors_5xx": sum(n for s, n in load.status.items() if s >= 500),
        "seconds": round(seconds, 1),
        "turns_per_s": round(len(load.latencies) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
    }


if __name__ == "__main__":
    main()
