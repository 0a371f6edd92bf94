"""A fake OpenAI-compatible server speaking real HTTP on 127.0.0.1, for tests and benchmarks.

It serves `POST /v1/chat/completions`, plain and streaming (SSE), with keep-alive, and
replays a script of steps; when the script is empty it answers with its default
responder. Every request it receives is recorded.

    with FakeOpenAI() as server:
        server.script(Status(429), Reply('{"action": ...}'))
        client = AsyncOpenAI(base_url=server.url, api_key="test")

Run it alone (for benchmarks or trying a bot by hand):

    python -m supportbot.testing --port 8765 [--delay-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Body",
    "Drop",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "Status",
    "Step",
    "answer_from_prompt",
]


@dataclass(frozen=True)
class Reply:
    """A chat completion with this content. `cut_stream` stops a stream half way;
    `cut_body` resets the connection half way through a plain response's body."""

    content: str
    finish_reason: str = "stop"
    delay_s: float = 0.0
    cut_stream: bool = False
    cut_body: bool = False


@dataclass(frozen=True)
class Status:
    """An HTTP error response, as OpenAI shapes them."""

    code: int
    message: str = "fake error"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (a reset), after an optional delay."""

    delay_s: float = 0.0


@dataclass(frozen=True)
class Body:
    """HTTP 200 with this JSON as the body, whatever it is: a proxy or a half-compatible
    server answering with something that is not a chat completion."""

    payload: Any
    delay_s: float = 0.0


Step = Reply | Status | Drop | Body


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


# A snippet in the system message: "[id] title", then its answer up to a blank line.
_SNIPPET = re.compile(r"^\[([^\]\n]+)\] [^\n]*\n(.*?)(?:\n\n|\Z)", re.M | re.S)


def answer_from_prompt(request: RecordedRequest) -> Step:
    """Default responder: the first snippet in the system message, its answer as the reply
    (a faithful model: what it says, the snippet says)."""
    system = next((m.get("content", "") for m in request.messages if m.get("role") == "system"), "")
    found = _SNIPPET.search(str(system))
    if not found:
        reply = {"action": "handoff", "citations": [], "confidence": 0.2, "reply": "", "handoff_reason": "no snippet"}
    else:
        reply = {
            "action": "answer",
            "citations": [found.group(1)],
            "confidence": 0.9,
            "reply": found.group(2).strip(),
            "handoff_reason": None,
        }
    return Reply(json.dumps(reply))


def response_form(body: object) -> str | None:
    """How a request sends its reply schema: json_schema, json_object_schema (json_object
    with a schema inside), json_object, or None."""
    sent = body.get("response_format") if isinstance(body, dict) else None
    if not isinstance(sent, dict):
        return None
    kind = sent.get("type")
    return "json_object_schema" if kind == "json_object" and "schema" in sent else str(kind)


class FakeOpenAI:
    """The server. Use as a context manager; it runs in a thread with its own event loop."""

    def __init__(
        self,
        default: Callable[[RecordedRequest], Step] = answer_from_prompt,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_s: float = 0.0,
        refuses: Mapping[str, int] | None = None,
    ) -> None:
        """`refuses`: response formats this server does not take, each with the HTTP status
        it answers them with (as a real one would, before any scripted step): "json_schema",
        "json_object_schema" (json_object with a schema inside) or "json_object"."""
        self.default = default
        self.refuses = dict(refuses or {})
        self._last_prompt = ""
        self.host = host
        self.port = port
        self.delay_s = delay_s
        self.requests: list[RecordedRequest] = []
        self._steps: collections.deque[Step] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *steps: Step) -> None:
        """Queue steps; each request consumes one, in order."""
        self._steps.extend(steps)

    @property
    def unused_steps(self) -> list[Step]:
        return list(self._steps)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")

    def stop(self) -> None:
        if self._loop and self._server:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def serve_forever(self) -> None:
        """Serve in the current event loop (the command-line mode)."""
        server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            await server.serve_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request_line = await reader.readline()
        if not request_line:
            return False
        method, path, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(method, path, headers, body)
        self.requests.append(request)
        if not path.rstrip("/").endswith("/chat/completions"):
            await _send_json(writer, 404, {"error": {"message": f"no route {path}", "type": "not_found"}})
            return True
        form = response_form(request.body)
        refused = self.refuses.get(form) if form else None
        if refused:
            message = f"response_format: Input should be 'text' or 'json_object', got {form!r}"
            await _send_json(writer, refused, {"error": {"message": message, "type": "invalid_request_error"}})
            return True
        step = self._steps.popleft() if self._steps else self.default(request)
        return await self._respond(step, request, writer)

    async def _respond(self, step: Step, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(self.delay_s + step.delay_s)
        if isinstance(step, Drop):
            transport = writer.transport
            transport.abort()  # a reset, not an orderly close
            return False
        if isinstance(step, Status):
            error = {"error": {"message": step.message, "type": "fake_error", "code": step.code}}
            await _send_json(writer, step.code, error, step.headers)
            return True
        if isinstance(step, Body):
            await _send_json(writer, 200, step.payload)
            return True
        body = request.body if isinstance(request.body, dict) else {}
        cached = self._cached_tokens(body)
        if body.get("stream"):
            await _send_stream(writer, step, body, cached)
            return not step.cut_stream
        if step.cut_body:
            await _send_json(writer, 200, _completion(step, body, cached), cut=True)
            return False
        await _send_json(writer, 200, _completion(step, body, cached))
        return True

    def _cached_tokens(self, body: dict[str, Any]) -> int:
        """Like a server with a prefix cache (llama-server, vLLM): the head of the prompt
        that the previous request shared, in tokens."""
        text = _prompt_text(body)
        last = self._last_prompt
        shared = next(
            (i for i, (a, b) in enumerate(zip(text, last, strict=False)) if a != b), min(len(text), len(last))
        )
        self._last_prompt = text
        return shared // 4


def _prompt_text(body: dict[str, Any]) -> str:
    return "".join(f"{m.get('role')}:{m.get('content', '')}" for m in body.get("messages", []))


def _usage(body: dict[str, Any], content: str, cached: int) -> dict[str, Any]:
    """Four characters a token; `cached` of them served from the prompt cache."""
    prompt = len(_prompt_text(body)) // 4 + 1
    completion = len(content) // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _completion(step: Reply, body: dict[str, Any], cached: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": step.content},
                "finish_reason": step.finish_reason,
            }
        ],
        "usage": _usage(body, step.content, cached),
    }


async def _send_json(
    writer: asyncio.StreamWriter, code: int, payload: Any, headers: dict[str, str] | None = None, *, cut: bool = False
) -> None:
    data = json.dumps(payload).encode()
    head = [
        f"HTTP/1.1 {code} {_REASONS.get(code, 'Status')}",
        "content-type: application/json",
        f"content-length: {len(data)}",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (data[: len(data) // 2] if cut else data))
    await writer.drain()
    if cut:
        writer.transport.abort()


async def _send_stream(writer: asyncio.StreamWriter, step: Reply, body: dict[str, Any], cached: int) -> None:
    head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    writer.write(head.encode())
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
    }
    pieces = [step.content[i : i + 8] for i in range(0, len(step.content), 8)] or [""]
    if step.cut_stream:
        pieces = pieces[: max(1, len(pieces) // 2)]
    events = [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    if step.cut_stream:
        for event in events:
            _write_chunk(writer, f"data: {json.dumps(event)}\n\n")
        await writer.drain()
        writer.transport.abort()
        return
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": step.finish_reason}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**base, "choices": [], "usage": _usage(body, step.content, cached)})
    for event in events:
        _write_chunk(writer, f"data: {json.dumps(event)}\n\n")
        await writer.drain()
    _write_chunk(writer, "data: [DONE]\n\n")
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def _write_chunk(writer: asyncio.StreamWriter, text: str) -> None:
    data = text.encode()
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait this long before each answer")
    args = parser.parse_args()
    server = FakeOpenAI(port=args.port, delay_s=args.delay_ms / 1000)

    async def run() -> None:
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.05)
        print(f"fake OpenAI server on {server.url}", flush=True)
        await task

    try:
        import uvloop  # a benchmark's fake model should cost as little CPU as it can

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
