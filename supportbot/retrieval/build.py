"""The one place a bot's retriever is built from its config: the engine it names, its
snippets, its hand-off examples, and (for the semantic engine) the encoder and the vector
cache. Built once per bot and process, however many callers ask."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from ..gcpause import gc_paused
from ..smalltalk import examples
from .base import Retriever

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..bot import Bot
    from .semantic import Encode

__all__ = ["retriever_for"]

_BUILT: WeakKeyDictionary[Bot, Retriever] = WeakKeyDictionary()
_SMALL_TALK: dict[str, NDArray[np.float32]] = {}  # smalltalk.examples()' vectors, by encoder


def retriever_for(bot: Bot) -> Retriever:
    """The bot's retriever, built on first use (the vector cache's folder comes from the
    environment, SUPPORTBOT_CACHE_DIR)."""
    found = _BUILT.get(bot)
    if found is None:
        with gc_paused():
            found = _BUILT[bot] = _build(bot, os.environ)
    return found


def _build(bot: Bot, env: Mapping[str, str]) -> Retriever:
    if bot.config.knowledge.engine == "semantic":
        return _semantic(bot, env)
    from .lexical import KnowledgeIndex

    return KnowledgeIndex(bot.snippets, bot.config.escalation.handoff_examples)


def _semantic(bot: Bot, env: Mapping[str, str]) -> Retriever:
    from .encoder import load_encoder, resolve_model
    from .semantic import SemanticIndex
    from .token_vectors import FittedTokens, fit_key, fit_token_vectors
    from .vector_cache import cache_directory, cached, cached_arrays

    encoder = load_encoder(resolve_model(bot.config.knowledge.model, Path(bot.source).parent), bot.source)
    owner = hashlib.sha256(f"{os.path.abspath(bot.source)}:{bot.id}".encode()).hexdigest()[:16]
    folder = cache_directory(env)

    def fit_fast(texts: Sequence[str], vectors: NDArray[np.float32]) -> tuple[Encode, NDArray[np.float32]]:
        arrays = cached_arrays(
            folder / f"tokens-{encoder.fingerprint}-{owner}.npz",
            fit_key(texts),
            lambda: fit_token_vectors(encoder.token_ids, encoder.words, texts, vectors).arrays(),
        )
        fitted = FittedTokens.from_arrays(encoder.token_ids, encoder.words, arrays)
        return fitted.vectors.encode, fitted.probe_vectors

    small_talk = _SMALL_TALK.get(encoder.fingerprint)
    if small_talk is None:  # the same for every bot on this encoder: once per process, and cached
        texts = [text for text, _ in examples()]
        small_talk = _SMALL_TALK[encoder.fingerprint] = cached(
            encoder.encode, folder / f"smalltalk-{encoder.fingerprint}.npz"
        )(texts)
    return SemanticIndex(
        bot.snippets,
        bot.config.escalation.handoff_examples,
        encoder.encode_message,
        cached(encoder.encode, folder / f"vectors-{encoder.fingerprint}-{owner}.npz"),
        fit_fast,
        bot.config.offline.min_score,
        encoder.knows,
        small_talk,
    )
