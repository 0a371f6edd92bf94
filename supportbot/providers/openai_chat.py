"""The `openai` provider: Chat Completions through the official SDK, against any
OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp's server...).

Timeouts and retries: each request is bounded twice, by the server's silence (first byte:
`first_byte_timeout_s`) and by the whole reply (`timeout_s`), with defaults that a CPU model
on this machine can meet (config/timeouts.py). 429, 5xx and connection failures
are retried up to `max_retries` times with exponential backoff and jitter, honouring
Retry-After, as the SDK would; a request that timed out is not: a local server keeps
writing an abandoned reply, and a retry would only queue behind it. The whole call, retries
included, is bounded too, so a turn never hangs.

Structured output (`model.structured_output`): the reply schema of the turn (its citations
limited to the snippets offered) goes to the server in the strongest form it takes, so that
it can only write valid replies. Servers differ: OpenAI, vLLM, Ollama and upstream
llama-server take `response_format: {"type": "json_schema", ...}`; llama-cpp-python's server
refuses that (HTTP 500) but constrains decoding by `{"type": "json_object", "schema": ...}`;
others know only plain `json_object`. `auto` tries them in that order; a form the server
refuses (HTTP 400, 422 or 500) is followed by the next, and the form that worked is
remembered per base URL for the rest of the process, logged once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk

from .._version import USER_AGENT
from ..config.timeouts import model_timeouts
from ..decision import Usage
from ..errors import MissingApiKey, ModelUnavailable
from ..reply import grammar_reply_schema
from .base import DeltaCallback, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from ..bot import Bot

__all__ = ["OpenAIProvider", "resolve_base_url"]

log = logging.getLogger("supportbot.providers.openai")

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local OpenAI-compatible servers need no key, but the SDK insists on one.
_NO_KEY = "no-key-needed"
# Seconds of backoff allowed per retry on top of the request timeouts.
_BACKOFF_PER_RETRY_S = 8.0
# What is retried, as by the SDK's own policy; a timeout is not.
_RETRIED_STATUS = (408, 409, 429, 500, 502, 503, 504)
_CONNECT_S = 10.0

#: Each way of sending the turn's reply schema, as the `response_format` it becomes.
_FORMS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "json_schema": lambda schema: {
        "type": "json_schema",
        "json_schema": {"name": "support_reply", "strict": True, "schema": dict(schema)},
    },
    "json_object_schema": lambda schema: {"type": "json_object", "schema": grammar_reply_schema(schema)},
    "json_object": lambda schema: {"type": "json_object"},
}
#: The forms tried, in order, for each `structured_output` setting (off: `response_format`).
_ORDER = {
    "auto": ("json_schema", "json_object_schema", "json_object"),
    "json_schema": ("json_schema", "json_object"),
    "json_object_schema": ("json_object_schema", "json_object"),
}
# What a server refuses a form it does not know with.
_REFUSALS = (400, 422, 500)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def resolve_base_url(bot_base_url: str | None, env: Mapping[str, str]) -> str:
    """The bot's base_url, else OPENAI_BASE_URL, else OpenAI's own API."""
    return bot_base_url or env.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL


class OpenAIProvider:
    def __init__(self, bot: Bot, env: Mapping[str, str]) -> None:
        settings = bot.config.model
        self.base_url = resolve_base_url(settings.base_url, env)
        key = env.get(settings.api_key_env, "").strip()
        if not key:
            if self.base_url == OPENAI_DEFAULT_BASE_URL:
                raise MissingApiKey(
                    f"{settings.api_key_env} is not set: bot '{bot.id}' uses provider openai "
                    "(set it, point OPENAI_BASE_URL at a compatible server, or use --provider offline)"
                )
            key = _NO_KEY
        self.timeouts = model_timeouts(settings, self.base_url)
        self.client = AsyncOpenAI(
            api_key=key,
            base_url=self.base_url,
            max_retries=0,  # retried here (_attempts): never after a timeout
            timeout=self.timeouts[1],
            default_headers={"User-Agent": USER_AGENT},
            http_client=_http_client(self.timeouts[1]),
        )
        # The form the server at base_url took: one provider per bot, each with one base URL.
        self.accepted: str | None = None

    async def aclose(self) -> None:
        await self.client.close()

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        setting = request.response_format if request.structured_output == "off" else request.structured_output
        forms = _ORDER.get(setting, ("json_object",))
        if self.accepted in forms:  # skip what this server refused before
            forms = forms[forms.index(self.accepted) :]
        for form in forms[:-1]:
            try:
                response = await self._complete_once(request, form, on_delta, refusable=True)
            except _Refused as exc:
                log.warning(
                    "%s refused response_format %s (HTTP %d: %s); trying the next form",
                    self.base_url, form, exc.status, exc,
                )  # fmt: skip
                continue
            self._accepted(form, forms)
            return response
        response = await self._complete_once(request, forms[-1], on_delta, refusable=False)
        self._accepted(forms[-1], forms)
        return response

    def _accepted(self, form: str, forms: tuple[str, ...]) -> None:
        if form not in (self.accepted, forms[0]):
            log.warning("%s takes structured output only as %s: used from now on", self.base_url, form)
        self.accepted = form

    async def _complete_once(
        self, request: ModelRequest, form: str, on_delta: DeltaCallback | None, *, refusable: bool
    ) -> ModelResponse:
        """One request (retried where that helps) with the reply schema in `form`; _Refused
        when `refusable` and the server refuses it."""
        total = request.timeout_s or self.timeouts[1]
        first_byte = min(request.first_byte_timeout_s or total, total)
        budget = total * (request.max_retries + 1) + _BACKOFF_PER_RETRY_S * request.max_retries
        try:
            async with asyncio.timeout(budget):
                return await self._attempts(request, self._arguments(request, form), on_delta, first_byte, total)
        except TimeoutError:
            raise ModelUnavailable(
                f"{self.base_url} did not finish the reply within {total:g}s (not retried: it may still be writing it)"
            ) from None
        except openai.APITimeoutError as exc:
            refused = _connection_error(exc)
            if refused:  # some transports report a refused connection as a connect timeout
                raise ModelUnavailable(f"cannot connect to {self.base_url}: {refused}") from None
            raise ModelUnavailable(f"{self.base_url} sent nothing for {first_byte:g}s (not retried)") from None
        except openai.APIConnectionError as exc:
            raise ModelUnavailable(f"cannot connect to {self.base_url}: {_cause(exc)}") from None
        except openai.APIStatusError as exc:
            if refusable and exc.status_code in _REFUSALS:
                raise _Refused(exc.status_code, _short(exc.message)) from None
            raise ModelUnavailable(f"{self.base_url} answered HTTP {exc.status_code}: {_short(exc.message)}") from None
        except openai.OpenAIError as exc:
            raise ModelUnavailable(f"the model call failed: {_short(str(exc))}") from None

    async def _attempts(
        self,
        request: ModelRequest,
        body: dict[str, Any],
        on_delta: DeltaCallback | None,
        first_byte: float,
        total: float,
    ) -> ModelResponse:
        """The request, each attempt within `total` seconds and `first_byte` of silence;
        429, 5xx and connection failures tried again after a backoff, timeouts not."""
        timeout = httpx2.Timeout(total, connect=min(_CONNECT_S, first_byte), read=first_byte)
        for attempt in itertools.count():
            started = time.monotonic()
            try:
                async with asyncio.timeout(total):
                    if on_delta is None:
                        return await self._complete(body, timeout)
                    return await self._stream(request, body, timeout, on_delta)
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                # Some transports report a reset connection as a timeout: only one that took
                # its time is a timeout.
                timed_out = isinstance(exc, openai.APITimeoutError) and time.monotonic() - started >= 0.9 * first_byte
                status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
                if timed_out or attempt >= request.max_retries or status not in (None, *_RETRIED_STATUS):
                    raise
                await asyncio.sleep(_backoff(attempt, exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def _arguments(self, request: ModelRequest, form: str) -> dict[str, Any]:
        return {
            "model": request.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "response_format": _FORMS[form](request.reply_schema),
        }

    async def _post(self, body: dict[str, Any], timeout: httpx2.Timeout, *, stream: bool) -> Any:
        # The SDK's documented lower-level call: `chat.completions.create` first walks every
        # message through the union of message TypedDicts, which costs a busy server a fifth
        # of its CPU; our messages are already wire format. Auth, retries, typed errors and
        # response parsing are the SDK's own either way, except that a plain reply comes back
        # as its JSON (`cast_to=object`): building the typed ChatCompletion for the four
        # fields we read cost a busy server another twentieth (completion_response reads them).
        return await self.client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            options={"timeout": timeout},
            stream=stream,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )

    async def _complete(self, body: dict[str, Any], timeout: httpx2.Timeout) -> ModelResponse:
        return completion_response(await self._post(body, timeout, stream=False), self.base_url)

    async def _stream(
        self, request: ModelRequest, body: dict[str, Any], timeout: httpx2.Timeout, on_delta: DeltaCallback
    ) -> ModelResponse:
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        stream: AsyncStream[ChatCompletionChunk] = await self._post(body, timeout, stream=True)
        parts: list[str] = []
        finish: str | None = None
        usage = Usage()
        model = request.model
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices[:1]:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        await on_delta(choice.delta.content)
                    finish = choice.finish_reason or finish
        except openai.OpenAIError:
            raise
        except Exception as exc:  # the transport broke mid-body (reset, truncated chunk)
            raise ModelUnavailable(f"the stream from {self.base_url} broke off: {_short(repr(exc))}") from None
        finally:
            await stream.close()
        if finish is None:
            raise ModelUnavailable(f"the stream from {self.base_url} ended before the reply was complete")
        return ModelResponse("".join(parts), finish, usage, model)


def _http_client(timeout_s: float) -> Any:
    """aiohttp under the SDK when installed (`openai[aiohttp]`), which the SDK recommends
    for concurrency: httpx's pool checks every idle connection on every request, which
    costs a busy server a sixth of its CPU at 50 connections. Else the SDK's default."""
    try:
        from openai import DefaultAioHttpClient
    except ImportError:
        return None
    try:
        return DefaultAioHttpClient(timeout=timeout_s)
    except RuntimeError:  # the class exists but aiohttp is not installed
        return None


def _backoff(attempt: int, exc: Exception) -> float:
    """Seconds before the next try: a short Retry-After the server gave, else exponential
    with jitter, as the SDK's own."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        wait = float(str(header)) if header is not None else -1.0
    except ValueError:
        wait = -1.0
    if 0 <= wait <= 60:
        return wait
    return min(0.5 * 2.0**attempt, _BACKOFF_PER_RETRY_S) * (1 - 0.25 * random.random())


def completion_response(data: object, base_url: str = "the model server") -> ModelResponse:
    """A chat completion as the server sent it (JSON) read into a ModelResponse. A body
    that is not one (a proxy's page, an error object with status 200) is ModelUnavailable."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(choices, list):
        kind = "an object without a 'choices' list" if isinstance(data, dict) else type(data).__name__
        raise ModelUnavailable(f"{base_url} answered with {kind}, not a chat completion")
    model = data.get("model")
    response = ModelResponse("", None, _usage(data.get("usage")), model if isinstance(model, str) else "")
    choice = choices[0] if choices and isinstance(choices[0], dict) else None
    if choice is None:
        return response
    raw = choice.get("message")
    message: dict[str, Any] = raw if isinstance(raw, dict) else {}
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    finish = choice.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    if not text and message.get("refusal"):
        finish = "content_filter"  # a refusal is no reply; treat it like a filtered one
    return replace(response, text=text, finish_reason=finish)


def _usage(usage: Any) -> Usage:
    """Token usage from a typed chunk's `usage` or a completion's JSON."""
    if not usage:
        return Usage()
    prompt = _count(usage, "prompt_tokens")
    completion = _count(usage, "completion_tokens")
    total = _count(usage, "total_tokens") or prompt + completion
    # OpenAI, vLLM and llama-server report the prompt tokens served from their prefix cache.
    cached = _count(_field(usage, "prompt_tokens_details"), "cached_tokens")
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, cached_tokens=cached)


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _count(value: Any, name: str) -> int:
    number = _field(value, name)
    return int(number) if isinstance(number, int | float) and number > 0 else 0


def _connection_error(exc: BaseException) -> str | None:
    """The OS-level connection failure behind an exception, if there is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError):
            return _short(str(seen) or type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return None


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return _short(str(cause) or type(cause).__name__) if cause else "connection error"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
