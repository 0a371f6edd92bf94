"""A loaded bot: its validated config plus every snippet, inline and included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .config import BotConfig, SnippetConfig

if TYPE_CHECKING:
    from .knowledge import KnowledgeIndex
    from .policy import CompiledRules

__all__ = ["Bot"]


@dataclass(frozen=True, eq=False)
class Bot:
    config: BotConfig
    snippets: tuple[SnippetConfig, ...]
    source: str = "<string>"
    snippet_origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def snippets_by_id(self) -> dict[str, SnippetConfig]:
        return {s.id: s for s in self.snippets}

    @cached_property
    def index(self) -> KnowledgeIndex:
        """Retrieval index over the snippets, built once on first use."""
        from .knowledge import KnowledgeIndex

        return KnowledgeIndex(self.snippets)

    @cached_property
    def rules(self) -> CompiledRules:
        from .policy import compile_rules

        return compile_rules(self.config.escalation)

    def with_provider(self, provider: str) -> Bot:
        """The same bot answered by another provider (`--provider offline`)."""
        model = self.config.model.model_copy(update={"provider": provider})
        config = self.config.model_copy(update={"model": model})
        return Bot(config, self.snippets, self.source, self.snippet_origins)
