"""A loaded bot: its validated config plus every snippet, inline and included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .config import BotConfig, SnippetConfig

if TYPE_CHECKING:
    from .knowledge import Retriever
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
    def index(self) -> Retriever:
        """Retrieval index over the snippets and hand-off examples, built once on first use."""
        from .gcpause import gc_paused

        with gc_paused():
            if self.config.knowledge.engine == "semantic":
                return self._semantic_index()
            from .knowledge import KnowledgeIndex

            return KnowledgeIndex(self.snippets, self.config.escalation.handoff_examples)

    def _semantic_index(self) -> Retriever:
        import hashlib
        import os
        from pathlib import Path

        from .embedding_cache import cache_directory, cached
        from .encoder import load_encoder, resolve_model
        from .semantic import SemanticIndex

        encoder = load_encoder(resolve_model(self.config.knowledge.model, Path(self.source).parent), self.source)
        owner = hashlib.sha256(f"{os.path.abspath(self.source)}:{self.id}".encode()).hexdigest()[:16]
        file = cache_directory(os.environ) / f"vectors-{encoder.fingerprint}-{owner}.npz"
        return SemanticIndex(
            self.snippets, self.config.escalation.handoff_examples, encoder.encode, cached(encoder.encode, file)
        )

    @cached_property
    def rules(self) -> CompiledRules:
        from .policy import compile_rules

        return compile_rules(self.config.escalation)

    def with_provider(self, provider: str) -> Bot:
        """The same bot answered by another provider (`--provider offline`)."""
        model = self.config.model.model_copy(update={"provider": provider})
        config = self.config.model_copy(update={"model": model})
        return Bot(config, self.snippets, self.source, self.snippet_origins)
