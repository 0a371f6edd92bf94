"""A loaded bot: its validated config plus every snippet, inline and included.

Plain data: what is built from a bot (its retriever, its compiled rules) is built by those
who use it (retrieval.retriever_for, the engine)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from .config import BotConfig, SnippetConfig
from .errors import Problem

__all__ = ["Bot"]


@dataclass(frozen=True, eq=False)
class Bot:
    config: BotConfig
    snippets: tuple[SnippetConfig, ...]
    source: str = "<string>"
    snippet_origins: Mapping[str, str] = field(default_factory=dict)
    #: What `supportbot validate` warns about: the bot runs, but maybe not as meant.
    warnings: tuple[Problem, ...] = ()

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def snippets_by_id(self) -> dict[str, SnippetConfig]:
        return {s.id: s for s in self.snippets}

    def with_provider(self, provider: str) -> Bot:
        """The same bot answered by another provider (`--provider offline`)."""
        model = self.config.model.model_copy(update={"provider": provider})
        config = self.config.model_copy(update={"model": model})
        return Bot(config, self.snippets, self.source, self.snippet_origins, self.warnings)
