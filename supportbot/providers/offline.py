"""The `offline` provider: answers from the FAQ by retrieval, with no model and no network.

It returns the same reply JSON a model would, so the whole pipeline (validation, policy,
storage) runs unchanged. It answers with the best-matching snippet's own answer, citing
it, when the match reaches `offline.min_score`, and hands off otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..clarify import Evidence, judge_retrieval
from ..decision import Usage
from ..reply import ModelReply
from ..retrieval import Candidate, retriever_for
from .base import DeltaCallback, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from ..bot import Bot

__all__ = ["OfflineProvider", "offline_reply"]


def offline_reply(
    candidates: tuple[Candidate, ...], min_score: float, threshold: float, handoff_match: float = 0.0
) -> ModelReply:
    """The reply for the best candidate, judged as the engine judges retrieval
    (clarify.judge_retrieval, without a clarification band): an answer, or a hand-off that
    says why. Pure."""
    verdict = judge_retrieval(candidates, handoff_match, min_score, min_score)
    if verdict.evidence == Evidence.MATCH:
        return answer_with(verdict.options[0], min_score, threshold)
    best = max(candidates, key=lambda c: c.match, default=None)
    closeness = handoff_match if verdict.evidence == Evidence.HANDOFF_EXAMPLE else (best.evidence if best else 0.0)
    return ModelReply(
        action="handoff", citations=[], confidence=round(min(max(closeness, 0.0), 1.0), 4), reply="",
        handoff_reason=verdict.detail,
    )  # fmt: skip


def answer_with(best: Candidate, min_score: float, threshold: float) -> ModelReply:
    """The snippet's own answer. Confidence is the match rescaled so that `min_score`
    lands on the bot's confidence `threshold` (a follow-up that matched only together with
    the message before it gets the threshold itself)."""
    span = max(0.0, (min(best.evidence, 1.0) - min_score) / (1 - min_score)) if min_score < 1 else 1.0
    return ModelReply(
        action="answer",
        citations=[best.snippet.id],
        confidence=round(threshold + (1 - threshold) * span, 4),
        reply=best.snippet.answer.strip(),
    )


class OfflineProvider:
    def __init__(self, bot: Bot, env: Mapping[str, str]) -> None:
        self.min_score = bot.config.offline.min_score
        self.threshold = bot.config.escalation.confidence_threshold
        self.retriever = retriever_for(bot)

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        # The engine asks only when retrieval found a match (clarify.judge_retrieval): answer
        # with the best snippet. Called on its own, it judges like the engine would.
        best = max(request.candidates, key=lambda c: c.match, default=None)
        if best is not None and request.gated:
            reply = answer_with(best, self.min_score, self.threshold)
        else:
            handoff_match = self.retriever.handoff_match(request.user_text)
            reply = offline_reply(request.candidates, self.min_score, self.threshold, handoff_match)
        # The text a model would write: the pipeline checks it like any other.
        text = json.dumps(reply.model_dump(), ensure_ascii=False)
        if on_delta is not None:
            await on_delta(text)
        return ModelResponse(text, "stop", Usage(), "offline")

    async def aclose(self) -> None:
        return None
