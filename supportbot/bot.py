"""A loaded bot: its validated config plus every snippet, inline and included."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .config import BotConfig, SnippetConfig
from .errors import Problem

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .knowledge import Retriever
    from .policy import CompiledRules
    from .semantic import Encode

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

        from .embedding_cache import cache_directory, cached, cached_arrays
        from .encoder import load_encoder, resolve_model
        from .semantic import SemanticIndex
        from .token_vectors import FittedTokens, fit_key, fit_token_vectors

        encoder = load_encoder(resolve_model(self.config.knowledge.model, Path(self.source).parent), self.source)
        owner = hashlib.sha256(f"{os.path.abspath(self.source)}:{self.id}".encode()).hexdigest()[:16]
        folder = cache_directory(os.environ)

        def fit_fast(texts: Sequence[str], vectors: NDArray[np.float32]) -> tuple[Encode, NDArray[np.float32]]:
            arrays = cached_arrays(
                folder / f"tokens-{encoder.fingerprint}-{owner}.npz",
                fit_key(texts),
                lambda: fit_token_vectors(encoder.token_ids, encoder.words, texts, vectors).arrays(),
            )
            fitted = FittedTokens.from_arrays(encoder.token_ids, encoder.words, arrays)
            return fitted.vectors.encode, fitted.probe_vectors

        return SemanticIndex(
            self.snippets,
            self.config.escalation.handoff_examples,
            encoder.encode,
            cached(encoder.encode, folder / f"vectors-{encoder.fingerprint}-{owner}.npz"),
            fit_fast,
        )

    @cached_property
    def rules(self) -> CompiledRules:
        from .policy import compile_rules

        return compile_rules(self.config.escalation)

    def with_provider(self, provider: str) -> Bot:
        """The same bot answered by another provider (`--provider offline`)."""
        model = self.config.model.model_copy(update={"provider": provider})
        config = self.config.model_copy(update={"model": model})
        return Bot(config, self.snippets, self.source, self.snippet_origins, self.warnings)
