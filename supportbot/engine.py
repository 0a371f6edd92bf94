"""The orchestrator: one customer message in, one Decision out.

    pre-model rules -> select snippets -> build messages -> provider.complete
    -> parse + validate (one repair re-ask) -> post-model rules -> Decision

Everything the engine calls is pure except the provider. Whatever the provider does,
the engine returns a Decision: failures become hand-offs, never exceptions, so a
customer never meets a traceback. Only a message the bot refuses outright (empty, too
long) raises MessageRejected, before anything else happens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from . import textnorm
from .bot import Bot
from .clarify import (
    NEARBY,
    NONE_MEANT,
    PERSON,
    Evidence,
    Verdict,
    asked_again_text,
    clarification_text,
    continued,
    judge_retrieval,
    missed_option,
    points_without_naming,
    read_pick,
    read_several,
    says_too_little,
    says_which_not,
    which_ones_text,
)
from .conversation import Conversation, TurnRecord
from .decision import Decision, Handoff, Option, Usage, builtin_handoff
from .errors import InvalidReply, MessageRejected, ModelUnavailable, UngroundedReply
from .grounding import CLOSENESS_FLOOR, check_grounding
from .policy import (
    TIMED_OUT,
    CompiledRules,
    ConversationFacts,
    RuleTimedOut,
    compile_rules,
    decide_post_model,
    decide_pre_model,
)
from .prompt import HistoryTurn, build_grounding_repair_messages, build_messages, build_repair_messages
from .providers.base import DeltaCallback, ModelRequest, ModelResponse, Provider
from .providers.registry import create_provider
from .reply import MAX_REPLY_CHARS, ModelReply, parse_reply, strict_reply_schema
from .response_cache import ResponseCache, cache_key, content_hash
from .retrieval import Candidate, retriever_for
from .smalltalk import SmallTalk, Split, by_meaning, declines, offered_more, split_small_talk
from .streaming import ReplyStream
from .tokens import TokenCounter, encoding_for, token_counter

__all__ = ["MAX_ATTEMPTS", "Engine", "check_message"]

log = logging.getLogger("supportbot.engine")

#: The first request plus one repair request.
MAX_ATTEMPTS = 2
#: Earlier customer messages that also steer snippet selection.
_HISTORY_QUERIES = 1
_PICK_WORDS = 3  # an answer to a clarification this short may pick an option by meaning


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
        self.rules: CompiledRules = compile_rules(bot.config.escalation)
        # Built now, not during the first customer's turn.
        self.retriever = retriever_for(bot)
        caching = bot.config.response_cache
        self._cache = ResponseCache(caching.ttl_s, caching.max_entries) if caching.ttl_s else None
        self._bot_hash = content_hash(bot)

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
        self,
        conversation: Conversation,
        text: str,
        *,
        on_reply_delta: DeltaCallback | None = None,
        option: str | None = None,
    ) -> Decision:
        """Handle one customer message. `on_reply_delta` receives the reply's text as the
        model writes it, only where it will stand (see streaming.py); `option` is the id of
        a clarification option the customer picked (a button)."""
        started = time.perf_counter()
        check_message(text, self.bot.config.limits.max_message_chars)
        facts = conversation.facts()
        handoff = await self._pre_model(facts, text)
        if handoff:
            withhold = handoff.rule in self.rules.text_rule_ids
            return self._record(conversation, text, self._handoff(conversation, handoff, started), withhold=withhold)
        # What the rules judged is what retrieval and the model read (SECURITY.md, g15).
        text = textnorm.clean(text)
        smalltalk = self.bot.config.small_talk
        split = split_small_talk(text) if smalltalk.enabled else Split(None, text)
        # Before small talk: "sure" or "ok" to "Did you mean ...? Say yes" picks the option.
        replied = self._reply_to_clarification(conversation, split.question or text, option, started)
        if replied is not None:
            return self._record(conversation, text, replied)
        if split.small_talk is None and declines(text) and offered_more(conversation.last_reply(), smalltalk):
            split = Split(SmallTalk.GOODBYE, "")
        if split.small_talk is not None:
            return self._record(conversation, text, self._small_talk(conversation, split.small_talk, started))
        return await self._answer(conversation, facts, text, split.question, on_reply_delta, started)

    def _reply_to_clarification(
        self, conversation: Conversation, said: str, option: str | None, started: float
    ) -> Decision | None:
        """What an answer to an open clarification gets: the options it picks, a person, or
        the question again when it names an option that is not there; None when it is not
        an answer to it (small talk, or a question of its own)."""
        options = list(conversation.clarifying)
        if not options:
            return None
        pick = read_pick(said, options, option)
        if pick is PERSON:
            return self._handoff(conversation, builtin_handoff("asked_for_person"), started)
        if pick is NONE_MEANT:  # the bot has no better guess
            offered = ", ".join(f'"{o.title}"' for o in options)
            detail = f"the customer said none of the options offered was what they meant ({offered})"
            return self._handoff(conversation, builtin_handoff("unsure_twice", detail), started)
        if isinstance(pick, Option):
            return self._picked(conversation, (pick,), started)
        picked = read_several(said, options) if option is None else ()
        if picked:  # "both": each answer, as a person would give them
            return self._picked(conversation, picked, started)
        if missed_option(said, options) or points_without_naming(said, options):  # "2" to one; "that one" to two
            return self._clarification(conversation, options, asked_again_text(options), started)
        if says_which_not(said, options):  # "both" to three options
            return self._clarification(conversation, options, which_ones_text(options), started)
        return None

    async def _answer(
        self, conversation: Conversation, facts: ConversationFacts, text: str, question: str,
        on_reply_delta: DeltaCallback | None, started: float,
    ) -> Decision:  # fmt: skip
        """Retrieval decides whether the knowledge can answer at all (nothing close: hand
        off; only plausible snippets: clarify); then the provider answers."""
        candidates, verdict = self._retrieve(question, conversation.recent_questions(_HISTORY_QUERIES))
        if conversation.clarifying and verdict.evidence != Evidence.MATCH:
            nearest = self._nearest_option(conversation.clarifying, question)
            if nearest is not None:
                return self._record(conversation, text, self._picked(conversation, (nearest,), started))
        if verdict.evidence == Evidence.NO_MATCH and self.bot.config.small_talk.enabled:
            # Nothing in the bot is close: small talk in words the phrases do not list ("thanks a ton").
            kind = by_meaning(self.retriever.small_talk_similarities(question), question)
            if kind is not None:
                return self._record(conversation, text, self._small_talk(conversation, kind, started))
        if verdict.evidence != Evidence.MATCH:
            return self._record(conversation, text, self._unsure(conversation, verdict, started))
        # The model answers from the snippet retrieval matched, clearly ahead of the rest: given
        # the near neighbours as well, a 1.5B model cited a neighbour in 19 of its 21 wrong
        # answers on banking77 where the match was right (README, "A real model").
        candidates = list(verdict.options[:1])
        key = self._cache_key(conversation, text, candidates)
        kept = self._cache.get(key) if key and self._cache else None
        if kept:
            served = {"conversation_id": conversation.id, "cached": True, "attempts": 0, "usage": Usage()}
            decision = kept[0].model_copy(update={**served, "latency_ms": _ms_since(started)})
            return self._record(conversation, text, decision, unsure=kept[1])
        request = self._request(conversation, text, candidates)  # the model reads the whole message
        checked = self.bot.config.escalation.grounding != "off"  # shown once checked, so not streamed as written
        outcome = await self._ask(request, None if checked else self._reply_stream(candidates, on_reply_delta))
        decision, unsure = self._decide(conversation, facts, outcome, candidates, started)
        if key and self._cache:
            self._cache.put(key, decision, unsure)
        return self._record(conversation, text, decision, unsure=unsure)

    def _nearest_option(self, options: Sequence[Option], said: str) -> Option | None:
        """The option a short answer to a clarification comes nearest, if it comes nearer one
        of them than any other snippet: "cancle" or "pasue" (misspelt past what read_pick
        reads), "holiday stop". A longer message is a question of its own."""
        if len(said.split()) > _PICK_WORDS:
            return None
        best = max(self.retriever.search(said, self.bot.config.knowledge.top_k), key=lambda c: c.match, default=None)
        # As near as a clarification's own options must come, and clearly nearest: "asdf" or
        # "stop" (cancel, or pause?) picks nothing.
        if best is None or not best.clear or best.evidence < self.bot.config.offline.clarify_floor - NEARBY:
            return None
        return next((option for option in options if option.id == best.snippet.id), None)

    def _cache_key(self, conversation: Conversation, text: str, candidates: list[Candidate]) -> str | None:
        """The response cache's key for a first message (response_cache.py); None for a
        later one, whose history the model also reads, or when the bot keeps no cache."""
        if self._cache is None or conversation.history():
            return None
        return cache_key(text, [c.snippet.id for c in candidates], self._bot_hash)

    def _retrieve(self, question: str, earlier: list[str]) -> tuple[list[Candidate], Verdict]:
        """The snippets for the prompt, and whether the knowledge answers the question. A
        follow-up ("and for a whole year?") may only match with the message before it: when
        the question alone does not, the two together are judged once more, and count when
        they point at the snippet the question alone ranks first, or, for a message of one
        word that says what it is about ("and for how long?"), are offered as a clarification."""
        config = self.bot.config
        k, min_score, floor = config.knowledge.top_k, config.offline.min_score, config.offline.clarify_floor
        candidates = self.retriever.search(question, k, earlier)
        verdict = judge_retrieval(candidates, self.retriever.handoff_match(question), min_score, floor)
        if verdict.evidence in (Evidence.NO_MATCH, Evidence.UNSURE) and earlier:
            together = f"{earlier[-1]} {question}"
            joined = self.retriever.search(together, k)
            follow_up = judge_retrieval(joined, self.retriever.handoff_match(together), min_score, floor)
            own_best = max(candidates, key=lambda c: c.match, default=None)
            # Only where the message itself leans the same way: "and can I skip one?" after
            # a delivery question is about skipping, not about delivery times.
            if follow_up.evidence == Evidence.MATCH and own_best and follow_up.options[0].snippet == own_best.snippet:
                return joined, follow_up
            if follow_up.evidence == Evidence.MATCH and says_too_little(question):
                return joined, continued(follow_up, verdict)
        return candidates, verdict

    def _small_talk(self, conversation: Conversation, kind: SmallTalk, started: float) -> Decision:
        reply = getattr(self.bot.config.small_talk, kind.value).strip()
        return Decision(
            conversation_id=conversation.id, action="answer", reply=reply, small_talk=kind.value,
            latency_ms=_ms_since(started),
        )  # fmt: skip

    def _picked(self, conversation: Conversation, picked: Sequence[Option], started: float) -> Decision:
        """The answers of the options the customer picked, in the order offered (an option
        the bot no longer has goes to a person)."""
        found = [self.bot.snippets_by_id[o.id] for o in picked if o.id in self.bot.snippets_by_id]
        if not found or len(found) < len(picked):
            return self._handoff(conversation, builtin_handoff("asked_for_person"), started)
        return Decision(
            conversation_id=conversation.id, action="answer",
            reply="\n\n".join(snippet.answer.strip() for snippet in found),
            citations=[snippet.id for snippet in found], latency_ms=_ms_since(started),
        )  # fmt: skip

    def _clarification(self, conversation: Conversation, options: list[Option], reply: str, started: float) -> Decision:
        return Decision(
            conversation_id=conversation.id, action="clarify", reply=reply, options=options,
            latency_ms=_ms_since(started),
        )  # fmt: skip

    def _unsure(self, conversation: Conversation, verdict: Verdict, started: float) -> Decision:
        """No answer from the knowledge: a clarification when some snippets are plausible
        (and the bot clarifies, and did not just ask), else a hand-off saying why."""
        if verdict.evidence == Evidence.HANDOFF_EXAMPLE:
            return self._handoff(conversation, builtin_handoff("handoff_example", verdict.detail), started)
        if not verdict.options or self.bot.config.escalation.when_unsure == "handoff":
            return self._handoff(conversation, builtin_handoff("no_match", verdict.detail), started)
        if conversation.clarifying:
            return self._handoff(conversation, builtin_handoff("unsure_twice", verdict.detail), started)
        options = [Option(id=c.snippet.id, title=c.snippet.title) for c in verdict.options]
        return self._clarification(conversation, options, clarification_text(options), started)

    def _decide(
        self,
        conversation: Conversation,
        facts: ConversationFacts,
        outcome: _Outcome,
        candidates: list[Candidate],
        started: float,
    ) -> tuple[Decision, bool]:
        """The Decision on what the model said (or failed to say), and whether it was unsure."""
        if outcome.reply is None:
            assert outcome.failure is not None
            return self._handoff(conversation, outcome.failure, started, outcome.attempts, outcome.usage), False
        offered = frozenset(c.snippet.id for c in candidates)
        post = decide_post_model(self.rules, facts, outcome.reply, offered)
        if post.handoff:
            confidence = outcome.reply.confidence
            return self._handoff(
                conversation, post.handoff, started, outcome.attempts, outcome.usage, confidence
            ), post.unsure
        decision = Decision(
            conversation_id=conversation.id, action="answer", reply=outcome.reply.reply, citations=post.citations,
            confidence=outcome.reply.confidence, attempts=outcome.attempts, usage=outcome.usage,
            latency_ms=_ms_since(started),
        )  # fmt: skip
        return decision, post.unsure

    async def _pre_model(self, facts: ConversationFacts, text: str) -> Handoff | None:
        """The pre-model rules; a regex that needs more than a moment is re-run off the
        event loop, so no message can stall the other conversations."""
        try:
            return decide_pre_model(self.rules, facts, text)
        except RuleTimedOut as exc:
            log.warning(
                "rule %s is slow on a message; checking the rules in a worker thread",
                exc.rule_id,
                extra={"bot": self.bot.id, "rule": exc.rule_id},
            )
        handoff = await asyncio.to_thread(decide_pre_model, self.rules, facts, text, slow=True)
        if handoff is not None and handoff.detail == TIMED_OUT:
            log.warning(
                "rule %s timed out on a message: handed off",
                handoff.rule,
                extra={"bot": self.bot.id, "rule": handoff.rule},
            )
        return handoff

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
            structured_output=config.model.structured_output,
            reply_schema=strict_reply_schema([c.snippet.id for c in candidates]),
            timeout_s=config.model.timeout_s,
            first_byte_timeout_s=config.model.first_byte_timeout_s,
            max_retries=config.model.max_retries,
            user_text=text,
            candidates=tuple(candidates),
            gated=True,  # only asked when retrieval found a match (_answer)
        )

    def _reply_stream(self, candidates: list[Candidate], on_reply: DeltaCallback | None) -> DeltaCallback | None:
        """A callback for raw model text that passes on the reply text that will stand."""
        if on_reply is None:
            return None
        rules = self.rules
        stream = ReplyStream(
            {c.snippet.id for c in candidates},
            threshold=rules.confidence_threshold,
            require_citations=rules.require_citations,
            max_chars=MAX_REPLY_CHARS,
        )

        async def on_model_text(chunk: str) -> None:
            piece = stream.feed(chunk)
            if piece:
                await on_reply(piece)

        return on_model_text

    async def _ask(self, request: ModelRequest, on_delta: DeltaCallback | None) -> _Outcome:
        """Call the model, re-asking once with what was wrong (an invalid reply, or one its
        snippets do not support); never raises."""
        usage = Usage()
        messages = request.messages
        problem = InvalidReply("no attempt made")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            called = await self._call(replace(request, messages=messages), on_delta if attempt == 1 else None)
            if isinstance(called, Handoff):
                return _Outcome(None, attempt, usage, called)
            usage = usage + called.usage
            try:
                return _Outcome(self._checked(called, request), attempt, usage, None)
            except InvalidReply as exc:
                problem = exc
                log.info("model output rejected on attempt %d: %s", attempt, exc)
                repair = build_grounding_repair_messages if isinstance(exc, UngroundedReply) else build_repair_messages
                messages = repair(request.messages, called.text, str(exc))
        if isinstance(problem, UngroundedReply):
            detail = f"not supported by its snippets after {MAX_ATTEMPTS} attempts: {problem}"
            return _Outcome(None, MAX_ATTEMPTS, usage, builtin_handoff("ungrounded", detail))
        detail = f"no valid reply after {MAX_ATTEMPTS} attempts: {problem}"
        return _Outcome(None, MAX_ATTEMPTS, usage, builtin_handoff("invalid_model_output", detail))

    async def _call(self, request: ModelRequest, on_delta: DeltaCallback | None) -> ModelResponse | Handoff:
        """The provider's response, or the hand-off when there is none."""
        try:
            return await self.provider.complete(request, on_delta)
        except ModelUnavailable as exc:
            log.warning("model unavailable: %s", exc, extra={"bot": self.bot.id})
            return builtin_handoff("model_unavailable", str(exc))
        except Exception as exc:  # a provider plugin's bug must not reach the customer
            log.exception("provider %s failed", type(self.provider).__name__)
            return builtin_handoff("model_unavailable", f"the provider failed: {type(exc).__name__}")

    def _checked(self, response: ModelResponse, request: ModelRequest) -> ModelReply:
        """The reply, if it is valid and its snippets support it; else InvalidReply."""
        reply = parse_reply(response.text, response.finish_reason)
        problems = self._unsupported(reply, request)
        if problems:
            raise UngroundedReply("; ".join(problems))
        return reply

    def _unsupported(self, reply: ModelReply, request: ModelRequest) -> list[str]:
        """What in an answer that would stand its snippets do not support, by the bot's
        grounding mode (grounding.py). An answer that cites none of the offered snippets is
        checked for facts against all of them; its meaning is not checked, since it claims
        no snippet (the policy counts it as unsure)."""
        mode = self.bot.config.escalation.grounding
        if mode == "off" or reply.action != "answer" or reply.confidence < self.rules.confidence_threshold:
            return []  # a hand-off either way: no repair request is worth a model call
        offered = {c.snippet.id: c.snippet for c in request.candidates}
        cited = [offered[i] for i in reply.citations if i in offered]
        if any(reply.reply.strip() == s.answer.strip() for s in cited):
            return []  # a snippet's own answer, word for word
        customer = [m["content"] for m in request.messages if m["role"] == "user"]
        closeness = self.retriever.closeness(reply.reply, cited) if cited else 1.0
        floor = CLOSENESS_FLOOR[self.bot.config.knowledge.engine][mode]
        passages = [f"{s.title}\n{s.answer}" for s in cited or offered.values()]
        own = [self.bot.config.name, self.bot.config.system_prompt]
        return check_grounding(reply.reply, passages, customer, closeness, mode, floor, own)

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

    def _record(
        self, conversation: Conversation, text: str, decision: Decision, *, unsure: bool = False,
        withhold: bool = False,
    ) -> Decision:  # fmt: skip
        """Add the turn to the conversation; returns its decision. A message a text rule
        caught (a card number, say) is `withhold`: it never goes into a later prompt."""
        user = () if withhold else ({"role": "user", "content": text},)
        messages = (*user, {"role": "assistant", "content": decision.reply})
        tokens = sum(self.counter.count_message(m) for m in messages)
        conversation.record(TurnRecord(text, decision, HistoryTurn(messages, tokens)), unsure=unsure)
        return decision


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
