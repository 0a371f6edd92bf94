"""The orchestrator: one customer message in, one Decision out.

    pre-model rules -> select snippets -> build messages -> provider.complete
    -> parse + validate (one repair re-ask) -> post-model rules -> Decision

Everything the engine calls is pure except the provider. Whatever the provider does,
the engine returns a Decision: failures become hand-offs, never exceptions, so a
customer never meets a traceback. Only a message the bot refuses outright (empty, too
long) raises MessageRejected, before anything else happens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .bot import Bot
from .conversation import Conversation, TurnRecord
from .decision import Decision, Handoff, Usage
from .errors import InvalidReply, MessageRejected, ModelUnavailable
from .knowledge import select_snippets
from .policy import decide_post_model, decide_pre_model
from .prompt import HistoryTurn, build_messages, build_repair_messages
from .providers.base import Candidate, DeltaCallback, ModelRequest, Provider
from .providers.registry import create_provider
from .reply import ModelReply, parse_reply, strict_reply_schema
from .tokens import TokenCounter, encoding_for, token_counter

__all__ = ["MAX_ATTEMPTS", "Engine", "check_message"]

log = logging.getLogger("supportbot.engine")

#: The first request plus one repair request.
MAX_ATTEMPTS = 2
#: Earlier customer messages that also steer snippet selection.
_HISTORY_QUERIES = 1


def check_message(text: str, max_chars: int) -> str:
    """The customer's message, or MessageRejected saying what is allowed."""
    if not isinstance(text, str) or not text.strip():
        raise MessageRejected("the message is empty (send some text)")
    if len(text) > max_chars:
        raise MessageRejected(f"the message is {len(text)} characters long (at most {max_chars} are allowed)")
    return text


@dataclass(frozen=True)
class _Outcome:
    reply: ModelReply | None
    attempts: int
    usage: Usage
    failure: Handoff | None


class Engine:
    """Runs turns of one bot. Create once per bot; it holds the provider's connections."""

    def __init__(self, bot: Bot, provider: Provider, counter: TokenCounter | None = None) -> None:
        self.bot = bot
        self.provider = provider
        model = bot.config.model
        self.counter = counter or token_counter(encoding_for(model.name, model.encoding))
        self._schema = strict_reply_schema()
        bot.index  # build the retrieval index now, not during the first customer's turn

    @classmethod
    def for_bot(cls, bot: Bot, env: Mapping[str, str] | None = None, *, provider: str | None = None) -> Engine:
        """An engine with the bot's own provider (or `provider`); may raise MissingApiKey."""
        return cls(bot, create_provider(bot, env, name=provider))

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def turn(
        self, conversation: Conversation, text: str, *, on_model_delta: DeltaCallback | None = None
    ) -> Decision:
        """Handle one customer message. `on_model_delta` receives raw model text as it streams."""
        started = time.perf_counter()
        config = self.bot.config
        check_message(text, config.limits.max_message_chars)
        facts = conversation.facts()
        handoff = decide_pre_model(self.bot.rules, facts, text)
        if handoff:
            decision = self._handoff(conversation, handoff, started)
            self._record(conversation, text, decision, unsure=False)
            return decision
        candidates = select_snippets(
            self.bot.index, text, config.knowledge.top_k, conversation.recent_user_texts(_HISTORY_QUERIES)
        )
        request = self._request(conversation, text, candidates)
        outcome = await self._ask(request, on_model_delta)
        if outcome.reply is None:
            assert outcome.failure is not None
            decision = self._handoff(conversation, outcome.failure, started, outcome.attempts, outcome.usage)
            self._record(conversation, text, decision, unsure=False)
            return decision
        offered = frozenset(c.snippet.id for c in candidates)
        post = decide_post_model(self.bot.rules, facts, outcome.reply, offered)
        if post.handoff:
            decision = self._handoff(
                conversation, post.handoff, started, outcome.attempts, outcome.usage, outcome.reply.confidence
            )
        else:
            decision = Decision(
                conversation_id=conversation.id,
                action="answer",
                reply=outcome.reply.reply,
                citations=post.citations,
                confidence=outcome.reply.confidence,
                attempts=outcome.attempts,
                usage=outcome.usage,
                latency_ms=_ms_since(started),
            )
        self._record(conversation, text, decision, unsure=post.unsure)
        return decision

    def _request(self, conversation: Conversation, text: str, candidates: list[Candidate]) -> ModelRequest:
        config = self.bot.config
        return ModelRequest(
            messages=build_messages(
                config.system_prompt, candidates, conversation.history(), text, config.limits.history_tokens
            ),
            model=config.model.name,
            temperature=config.model.temperature,
            max_tokens=config.model.max_tokens,
            response_format=config.model.response_format,
            reply_schema=self._schema,
            timeout_s=config.model.timeout_s,
            max_retries=config.model.max_retries,
            user_text=text,
            candidates=tuple(candidates),
        )

    async def _ask(self, request: ModelRequest, on_delta: DeltaCallback | None) -> _Outcome:
        """Call the model, re-asking once with the validation error; never raises."""
        usage = Usage()
        messages = request.messages
        error = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = await self.provider.complete(
                    replace(request, messages=messages), on_delta if attempt == 1 else None
                )
            except ModelUnavailable as exc:
                return _Outcome(None, attempt, usage, Handoff(rule="model_unavailable", reason=str(exc)))
            except Exception as exc:  # a provider plugin's bug must not reach the customer
                log.exception("provider %s failed", type(self.provider).__name__)
                reason = f"the provider failed: {type(exc).__name__}"
                return _Outcome(None, attempt, usage, Handoff(rule="model_unavailable", reason=reason))
            usage = usage + response.usage
            try:
                return _Outcome(parse_reply(response.text, response.finish_reason), attempt, usage, None)
            except InvalidReply as exc:
                error = str(exc)
                log.info("invalid model output on attempt %d: %s", attempt, error)
                messages = build_repair_messages(request.messages, response.text, error)
        reason = f"no valid reply after {MAX_ATTEMPTS} attempts: {error}"
        return _Outcome(None, MAX_ATTEMPTS, usage, Handoff(rule="invalid_model_output", reason=reason))

    def _handoff(
        self,
        conversation: Conversation,
        handoff: Handoff,
        started: float,
        attempts: int = 0,
        usage: Usage | None = None,
        confidence: float | None = None,
    ) -> Decision:
        return Decision(
            conversation_id=conversation.id,
            action="handoff",
            reply=self.bot.config.escalation.handoff_message.strip(),
            citations=[],
            confidence=confidence,
            handoff=handoff,
            attempts=attempts,
            usage=usage or Usage(),
            latency_ms=_ms_since(started),
        )

    def _record(self, conversation: Conversation, text: str, decision: Decision, *, unsure: bool) -> None:
        messages = ({"role": "user", "content": text}, {"role": "assistant", "content": decision.reply})
        tokens = sum(self.counter.count_message(m) for m in messages)
        conversation.record(TurnRecord(text, decision, HistoryTurn(messages, tokens)), unsure=unsure)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
