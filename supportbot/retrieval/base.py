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
    whatever its score); `match` (0..1) is comparable across queries, which is what the
    offline provider thresholds on.
    """

    snippet: SnippetConfig
    score: float
    match: float


class Retriever(Protocol):
    """What the engine and the offline provider need of a retrieval engine."""

    def search(self, text: str, k: int, history: Sequence[str] = ()) -> list[Candidate]:
        """The `k` snippets most relevant to `text`, best first; `history` (earlier
        customer messages) steers the ranking a little."""
        ...

    def handoff_match(self, text: str) -> float:
        """0..1: how closely `text` resembles the bot's hand-off examples (0 with none)."""
        ...
