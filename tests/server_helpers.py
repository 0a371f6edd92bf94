"""Starting supportbot servers for tests: in process (TestClient) and as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import REPO
from fastapi.testclient import TestClient

from supportbot import load_bot
from supportbot.server import ServerSettings, create_app

EXAMPLE_BOTS = [str(REPO / "bots")]


@contextmanager
def client_for(
    tmp_path: Path, bots: list[str] | None = None, env: dict[str, str] | None = None, **settings: object
) -> Iterator[TestClient]:
    config = ServerSettings(
        bot_paths=bots or EXAMPLE_BOTS, database_url=f"sqlite:///{tmp_path / 'serve.db'}", **settings
    )  # type: ignore[arg-type]
    loaded = [
        load_bot(p)
        for path in config.bot_paths
        for p in (sorted(Path(path).glob("*.yaml")) if Path(path).is_dir() else [Path(path)])
    ]
    with TestClient(create_app(config, loaded, env=env or {})) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`supportbot serve` in its own process, as an operator would run it."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supportbot", "serve", *args, "--port", str(self.port)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stdout.read() if self.process.stdout else ''}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.stdout.read() if self.process.stdout else ""


def sse_events(chunks: Iterable[str]) -> Iterator[tuple[str, object]]:
    """(event name, data) of each named server-sent event, as the chunks arrive."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            name = next((line[7:] for line in block.splitlines() if line.startswith("event: ")), None)
            data = "".join(line[6:] for line in block.splitlines() if line.startswith("data: "))
            if name:
                yield name, json.loads(data)


def stream_turn(client: TestClient, text: str, bot: str = "test-shop") -> list[tuple[str, object]]:
    """One customer message sent asking for a stream: every event the server sent."""
    with client.stream(
        "POST", f"/v1/bots/{bot}/messages", json={"text": text}, headers={"Accept": "text/event-stream"}
    ) as response:
        return list(sse_events(response.iter_text()))
