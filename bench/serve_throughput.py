"""Throughput and latency through `supportbot serve`, beside a bare AsyncOpenAI loop.

For each fake-model delay (0 ms and 200 ms): a fake OpenAI-compatible server (its own
process), `supportbot serve` (its own process, SQLite or PostgreSQL) with the bean-there
example bot on the openai provider, and this process as the load: `--concurrency`
customers, each in its own conversation of `--turns-per-conversation` turns. In the same
run, a bare AsyncOpenAI loop with the same concurrency sends the same kind of request
straight to the fake model: with the SDK's default transport (the baseline the targets
use), and with the aiohttp transport supportbot itself uses. Everything runs on loopback.

    python bench/serve_throughput.py [--db sqlite|postgresql] [--concurrency 50] [--seconds 10]

Targets: at 200 ms, serve throughput >= 0.95 x concurrency / 0.2 s (the server is never
the bottleneck); at 0 ms, serve throughput >= 0.5 x the bare loop (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
from openai import AsyncOpenAI, DefaultAioHttpClient

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Where is my order?",
    "How long does delivery take?",
    "How do I pause my subscription?",
    "Can I get my coffee ground?",
    "How should I store my coffee?",
    "Can I return my order?",
]
POSTGRES = os.environ.get("SUPPORTBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "turns": len(ordered),
        "turns_per_s": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


async def drive_serve(url: str, concurrency: int, seconds: float, per_conversation: int) -> tuple[list[float], int]:
    """The customers. aiohttp, so that the load generator is not what limits the run."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def customer(index: int) -> None:
            nonlocal errors
            conversation: str | None = None
            turn = 0
            while time.monotonic() < deadline:
                if turn % per_conversation == 0:
                    conversation = None
                body = {"text": QUESTIONS[(index + turn) % len(QUESTIONS)]}
                if conversation:
                    body["conversation_id"] = conversation
                started = time.perf_counter()
                async with client.post("/v1/bots/bean-there/messages", json=body) as response:
                    data = await response.json() if response.status == 200 else None
                if data is None:
                    errors += 1
                    conversation = None
                    continue
                latencies.append(time.perf_counter() - started)
                conversation = data["conversation_id"]
                turn += 1

        await asyncio.gather(*(customer(i) for i in range(concurrency)))
    return latencies, errors


async def drive_bare(url: str, concurrency: int, seconds: float, *, aiohttp_transport: bool = False) -> list[float]:
    """Plain AsyncOpenAI calls: the SDK's default transport, or aiohttp (as supportbot uses)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    http_client = DefaultAioHttpClient(timeout=60) if aiohttp_transport else None
    client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0, timeout=60, http_client=http_client)
    system = "You are a support assistant.\n\n[track-order] Tracking an order\nWe roast on Monday..." * 3

    async def caller(index: int) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await client.chat.completions.create(
                model="gpt-4o-mini",
                temperature=0.2,
                max_tokens=400,
                response_format={"type": "json_object"},
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]},
                ],
            )
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    await client.close()
    return latencies


def database_url(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", None
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str | None) -> None:
    if schema:
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def run_case(delay_ms: float, args: argparse.Namespace) -> dict[str, object]:
    model_port, serve_port = free_port(), free_port()
    model = start(["-m", "supportbot.testing", "--port", str(model_port), "--delay-ms", str(delay_ms)])
    model_url = f"http://127.0.0.1:{model_port}/v1"
    with tempfile.TemporaryDirectory() as folder:
        db, schema = database_url(args.db, Path(folder))
        serve = start(
            [
                "-m",
                "supportbot",
                "serve",
                str(REPO / "bots" / "bean-there.yaml"),
                "--port",
                str(serve_port),
                "--db",
                db,
            ],
            # One load generator opens every conversation: no per-address limit on new ones.
            env={
                "SUPPORTBOT_PROVIDER": "openai",
                "SUPPORTBOT_MODEL_URL": model_url,
                "SUPPORTBOT_NEW_CONVERSATIONS_PER_MINUTE": "0",
            },
        )
        try:
            wait_http(f"http://127.0.0.1:{serve_port}/readyz")
            asyncio.run(
                drive_serve(f"http://127.0.0.1:{serve_port}", args.concurrency, 2, args.turns_per_conversation)
            )  # warm-up
            serve_lat, errors = asyncio.run(
                drive_serve(
                    f"http://127.0.0.1:{serve_port}", args.concurrency, args.seconds, args.turns_per_conversation
                )
            )
            bare_lat = asyncio.run(drive_bare(model_url, args.concurrency, args.seconds))
            bare_aiohttp_lat = asyncio.run(
                drive_bare(model_url, args.concurrency, args.seconds, aiohttp_transport=True)
            )
        finally:
            stop(serve)
            stop(model)
            drop_schema(schema)
    serve_stats, bare_stats = summary(serve_lat, args.seconds), summary(bare_lat, args.seconds)
    result: dict[str, object] = {
        "model_delay_ms": delay_ms,
        "db": args.db,
        "concurrency": args.concurrency,
        "serve": serve_stats,
        "serve_errors": errors,
        "bare_openai_loop": bare_stats,
        "bare_openai_loop_aiohttp": summary(bare_aiohttp_lat, args.seconds),
    }
    if delay_ms > 0:
        ideal = args.concurrency / (delay_ms / 1000)
        result["serve_vs_ideal"] = round(float(serve_stats["turns_per_s"]) / ideal, 3)
        result["target"] = "serve_vs_ideal >= 0.95"
    else:
        result["serve_vs_bare"] = round(float(serve_stats["turns_per_s"]) / float(bare_stats["turns_per_s"]), 3)
        result["target"] = "serve_vs_bare >= 0.5 (sqlite)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--turns-per-conversation", type=int, default=5)
    parser.add_argument("--delays-ms", default="0,200", help="comma-separated fake model delays")
    args = parser.parse_args()
    results = [run_case(float(d), args) for d in args.delays_ms.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
