"""The Decision contract: what the runtime returns for a turn (CLI `--json`, HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BUILTIN_RULES", "Decision", "Handoff", "Option", "Usage", "builtin_handoff"]

#: Hand-off reasons that are not rules of the bot file, each with the reason a customer's
#: client may show. What happened in detail (a model server's address and error, the
#: model's note for the team) goes in `Handoff.detail`: to logs and agents, never to customers.
PUBLIC_REASONS = {
    "model_requested": "The assistant passed the conversation to a person.",
    "no_match": "None of our help articles answers this question.",
    "handoff_example": "This is something a person from our team handles.",
    "unsure_twice": "The assistant could not find the right answer.",
    "asked_for_person": "You asked for a person.",
    "not_helped": "You said the answer did not help.",
    "low_confidence": "The assistant was not sure enough of its answer.",
    "unknown_citations": "The assistant's answer was not backed by our help articles.",
    "no_citations": "The assistant's answer was not backed by our help articles.",
    "invalid_model_output": "The assistant could not produce a usable answer.",
    "ungrounded": "The assistant's answer was not backed by our help articles.",
    "model_unavailable": "The assistant is not available right now.",
    "max_bot_turns": "The conversation needs a person to go on.",
    "already_handed_off": "The conversation is with our support team.",
}
BUILTIN_RULES = tuple(PUBLIC_REASONS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Usage(_Strict):
    """Tokens used by the model calls of one turn (all attempts added up)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = Field(0, description="Prompt tokens the server took from its prompt cache.")

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class Handoff(_Strict):
    rule: str = Field(
        description="Id of the escalation rule that fired, or a built-in reason: " + ", ".join(BUILTIN_RULES)
    )
    reason: str = Field(description="Why, in words fit for the customer's client.")
    #: What happened, for logs and agents; never serialised, so never sent to a customer.
    detail: str | None = Field(None, exclude=True)


def builtin_handoff(rule: str, detail: str | None = None) -> Handoff:
    """A hand-off for a built-in reason: the public reason, and the details apart."""
    return Handoff(rule=rule, reason=PUBLIC_REASONS[rule], detail=detail)


class Option(_Strict):
    """A snippet a clarification offers: the customer picks it by number, by its title's
    words, or (through the API) by its id."""

    id: str
    title: str


class Decision(_Strict):
    conversation_id: str
    action: Literal["answer", "handoff", "clarify"] = Field(
        description="answer; handoff (to a person); clarify (the bot asks which of `options` the customer means)."
    )
    reply: str
    citations: list[str] = Field(default_factory=list)
    options: list[Option] = Field(default_factory=list, description="With clarify: the snippets offered, in order.")
    small_talk: str | None = Field(
        None,
        description="The kind of small talk answered: greeting, thanks, goodbye, acknowledgement, bot_question, hesitation.",
    )
    confidence: float | None = Field(None, description="The model's confidence; null when no model answered.")
    handoff: Handoff | None = None
    attempts: int = Field(0, description="Model calls made for this turn (0 when a rule fired first).")
    cached: bool = Field(False, description="Served from the response cache: the same first message, no model call.")
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0

    @property
    def with_person_already(self) -> bool:
        """A message written while the team has the conversation: no new hand-off, and
        nothing new for the bot to say, so clients show no bot reply for it."""
        return self.handoff is not None and self.handoff.rule == "already_handed_off"
