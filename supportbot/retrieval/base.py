"""What every retrieval engine is: a Retriever, and the Candidates it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..config import SnippetConfig

__all__ = ["Candidate", "Retriever"]


@dataclass(frozen=True)
class Candidate:
    """A snippet put in the prompt, with how well it matched the customer's message.

    `score` ranks candidates for one query (the semantic engine puts its best match first
    whatever its score); `match` (0..1) is how closely the message resembles the snippet,
    comparable across queries and with the hand-off examples' match. `evidence` is the
    match as the bot's thresholds read it (`offline.min_score`, `clarify_score`): the
    semantic engine calibrates it per snippet (calibration.py), the lexical engine takes
    the match as it is. `clear` is False on a best match that does not lead the runner-up
    by as much as the bot needs to answer without asking.
    """

    snippet: SnippetConfig
    score: float
    match: float
    evidence: float
    clear: bool = True


class Retriever(Protocol):
    """What the engine and the offline provider need of a retrieval engine."""

    def search(self, text: str, k: int, history: Sequence[str] = ()) -> list[Candidate]:
        """The `k` snippets most relevant to `text`, best first; `history` (earlier
        customer messages) steers the ranking a little."""
        ...

    def handoff_match(self, text: str) -> float:
        """0..1: how closely `text` resembles the bot's hand-off examples (0 with none)."""
        ...

    def small_talk_similarities(self, text: str) -> list[float]:
        """How close in meaning `text` is to each of smalltalk.examples(), in order (empty
        for an engine that cannot tell meaning: small talk is then recognised by phrase only)."""
        ...

    def closeness(self, text: str, snippets: Sequence[SnippetConfig]) -> float:
        """0..1: how close in meaning `text` (a model's reply) is to the closest of
        `snippets` (the grounding check's second half, grounding.py)."""
        ...
