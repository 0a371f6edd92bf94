"""The Decision contract: what the runtime returns for a turn (CLI `--json`, HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BUILTIN_RULES", "Decision", "Handoff", "Usage"]

#: Hand-off reasons that are not rules of the bot file.
BUILTIN_RULES = (
    "model_requested",
    "low_confidence",
    "invalid_model_output",
    "model_unavailable",
    "max_bot_turns",
    "already_handed_off",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Usage(_Strict):
    """Tokens used by the model calls of one turn (all attempts added up)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class Handoff(_Strict):
    rule: str = Field(
        description="Id of the escalation rule that fired, or a built-in reason: "
        + ", ".join(BUILTIN_RULES)
    )
    reason: str


class Decision(_Strict):
    conversation_id: str
    action: Literal["answer", "handoff"]
    reply: str
    citations: list[str] = Field(default_factory=list)
    confidence: float | None = Field(None, description="The model's confidence; null when no model answered.")
    handoff: Handoff | None = None
    attempts: int = Field(0, description="Model calls made for this turn (0 when a rule fired first).")
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
