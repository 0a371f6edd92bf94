"""A fast stand-in for the sentence encoder: the mean of per-token vectors, fitted to it.

A transformer pass costs about 7 ms per message here; a lookup and a mean cost 0.1 ms.
The token vectors are fitted on the bot's own probes, whose sentence vectors the index
holds anyway, so that averaging a probe's token vectors comes as close as it can to the
transformer's vector for it:

1. One linear map W from the model's input word embeddings to sentence-vector space,
   fitted by ridge regression over all probes. It gives every token of the vocabulary a
   vector, including words no probe uses.
2. A correction per token that the probes use, fitted by ridge regression on what W
   leaves unexplained, pulled towards zero so that rare tokens stay close to step 1.
3. In a bot of a thousand probes or more, the vectors are then projected on their 128
   principal directions: a search compares a message with every probe, and a third of the
   numbers cost a third of the time. On the banking bot no figure moved by more than 0.5
   points (ood-oos rose by 0.5).

The result is about as good as the transformer where the message is clear, and the
semantic index asks the transformer only when it is not (see semantic.py). Pure NumPy;
fitting ten thousand probes takes about a second, and the bot's cache keeps the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["FittedTokens", "TokenVectors", "fit_key", "fit_token_vectors"]

_VERSION = "token-vectors-2"  # change with the method or its constants: cached fits are then redone

_MAP_RIDGE = 0.1  # for W: the 384 x 384 map is fitted on thousands of probes and needs little
_TOKEN_RIDGE = 0.03  # for the corrections: a token seen in a few probes moves only a little
_MAX_CORRECTED = 4096  # most frequent probe tokens given a correction; bounds the solve
_DIMENSIONS = 128  # principal directions kept...
_PROJECT_FROM = 1000  # ...when the bot has this many probes

TokenIds = Callable[[Sequence[str]], list[list[int]]]


class TokenVectors:
    """Text -> unit vector, as the mean of its tokens' vectors."""

    def __init__(
        self,
        token_ids: TokenIds,
        words: NDArray[np.float32],
        mapping: NDArray[np.float32],
        corrected: NDArray[np.int64],
        corrections: NDArray[np.float32],
        basis: NDArray[np.float32],
    ) -> None:
        import numpy as np

        self.token_ids = token_ids
        self.words = words
        self.mapping = mapping
        self.corrected = corrected
        # Row of each token's correction; tokens without one point at a final zero row.
        self.row = np.full(len(words), len(corrected), dtype=np.int64)
        self.row[corrected] = np.arange(len(corrected))
        self.corrections = np.vstack([corrections, np.zeros((1, mapping.shape[1]), dtype=np.float32)])
        self.basis = basis

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._vectors(self.token_ids(texts))

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "mapping": self.mapping,
            "corrected": self.corrected,
            "corrections": self.corrections[:-1],
            "basis": self.basis,
        }

    def _vectors(self, ids: list[list[int]], mean_words: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        import numpy as np

        return np.asarray(self._unit_vectors(ids, mean_words) @ self.basis, dtype=np.float32)

    def _unit_vectors(self, ids: list[list[int]], mean_words: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        import numpy as np

        out = np.zeros((len(ids), self.mapping.shape[1]), dtype=np.float32)
        flat, starts, lengths, present = _segments(ids)
        if not len(flat):
            return out
        if mean_words is None:
            mean_words = _segment_means(self.words, flat, starts, lengths)
        vectors = mean_words @ self.mapping + _segment_means(self.corrections, self.row[flat], starts, lengths)
        out[present] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out


class FittedTokens(NamedTuple):
    vectors: TokenVectors
    probe_vectors: NDArray[np.float32]  # the fitted texts' own fast vectors, for the index

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Everything, as arrays for a cache file (`from_arrays` reads them back)."""
        return {**self.vectors.arrays(), "probe_vectors": self.probe_vectors}

    @classmethod
    def from_arrays(
        cls, token_ids: TokenIds, words: NDArray[np.float32], arrays: Mapping[str, NDArray[Any]]
    ) -> FittedTokens:
        vectors = TokenVectors(
            token_ids, words, arrays["mapping"], arrays["corrected"], arrays["corrections"], arrays["basis"]
        )
        return cls(vectors, arrays["probe_vectors"])


def fit_key(texts: Sequence[str]) -> str:
    """Identifies a fit for a cache: the texts, in order, and the fitting method's version."""
    digest = hashlib.sha1(_VERSION.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def fit_token_vectors(
    token_ids: TokenIds, words: NDArray[np.float32], texts: Sequence[str], targets: NDArray[np.float32]
) -> FittedTokens:
    """Token vectors whose means come closest to `targets`, the sentence vectors of `texts`."""
    import numpy as np

    ids = token_ids(texts)
    flat, starts, lengths, present = _segments(ids)
    dimension = targets.shape[1]
    if not len(flat):
        identity = TokenVectors(
            token_ids,
            words,
            np.eye(words.shape[1], dimension, dtype=np.float32),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, dimension), dtype=np.float32),
            np.eye(dimension, dtype=np.float32),
        )
        return FittedTokens(identity, identity._vectors(ids))
    y = targets[present].astype(np.float64)

    # Step 1: the global map from a text's mean input embedding to its sentence vector.
    mean_words = _segment_means(words, flat, starts, lengths)
    x = mean_words.astype(np.float64)
    mapping = _ridge(x.T @ x, x.T @ y, _MAP_RIDGE)

    # Step 2: per-token corrections for what the map leaves. The targets are unit vectors;
    # the map's outputs are shorter, and the corrections are fitted at their scale.
    mapped = x @ mapping
    tokens, corrections = _corrections(flat, starts, lengths, y * np.linalg.norm(mapped, axis=1).mean() - mapped)
    parts = (token_ids, words, mapping.astype(np.float32), tokens, corrections.astype(np.float32))
    unit = TokenVectors(*parts, np.eye(dimension, dtype=np.float32))._unit_vectors(ids, mean_words)

    # Step 3: the principal directions of the probes' vectors, where there are enough probes
    # to find them and enough for the time to matter.
    basis = _principal_directions(unit) if len(unit) >= _PROJECT_FROM else np.eye(dimension, dtype=np.float32)
    return FittedTokens(TokenVectors(*parts, basis), unit @ basis)


def _corrections(
    flat: NDArray[np.int64], starts: NDArray[np.int64], lengths: NDArray[np.int64], residual: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The tokens given a correction (the most frequent), and the ridge fit of `residual`
    on the texts' mean pooling over them."""
    import numpy as np

    tokens, column, count = np.unique(flat, return_inverse=True, return_counts=True)
    if len(tokens) > _MAX_CORRECTED:
        keep = np.zeros(len(tokens), dtype=bool)
        keep[np.argsort(-count, kind="stable")[:_MAX_CORRECTED]] = True
        renumber = np.cumsum(keep) - 1
        tokens, column = tokens[keep], np.where(keep[column], renumber[column], -1)
    # Mean pooling as a sparse matrix X: each occurrence of a token weighs 1 / text length.
    text = np.repeat(np.arange(len(lengths)), lengths)
    weight = 1.0 / lengths[text]
    counted = column >= 0
    xty = np.zeros((len(tokens), residual.shape[1]))
    np.add.at(xty, column[counted], weight[counted, None] * residual[text[counted]])
    return tokens, _ridge(_gram(column, weight, starts, lengths, len(tokens)), xty, _TOKEN_RIDGE)


def _principal_directions(unit: NDArray[np.float32]) -> NDArray[np.float32]:
    import numpy as np

    _, _, directions = np.linalg.svd(unit - unit.mean(0), full_matrices=False)
    return np.ascontiguousarray(directions[:_DIMENSIONS].T, dtype=np.float32)


def _segments(
    ids: list[list[int]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """All ids in one array; where each non-empty text starts, its length; which texts have ids."""
    import numpy as np

    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    present = lengths > 0
    flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
    kept = lengths[present]
    return flat, np.concatenate([[0], np.cumsum(kept)[:-1]]).astype(np.int64), kept, present


def _segment_means(
    table: NDArray[np.float32], rows: NDArray[np.int64], starts: NDArray[np.int64], lengths: NDArray[np.int64]
) -> NDArray[np.float32]:
    import numpy as np

    sums = np.add.reduceat(table[rows], starts)
    return np.asarray(sums / lengths[:, None], dtype=np.float32)


def _gram(
    column: NDArray[np.int64],
    weight: NDArray[np.float64],
    starts: NDArray[np.int64],
    lengths: NDArray[np.int64],
    size: int,
) -> NDArray[np.float64]:
    """X^T X, from every (token, token) pair within each text; texts of one length at a time."""
    import numpy as np

    total = np.zeros(size * size)
    for length in np.unique(lengths):
        first = starts[lengths == length]
        at = first[:, None] + np.arange(length)  # texts x positions
        c = column[at]
        w = np.where(c >= 0, weight[at], 0.0)  # tokens without a correction take no part
        c = np.maximum(c, 0)
        pairs = (c[:, :, None] * size + c[:, None, :]).ravel()
        total += np.bincount(pairs, (w[:, :, None] * w[:, None, :]).ravel(), minlength=size * size)
    return total.reshape(size, size)


def _ridge(gram: NDArray[np.float64], xty: NDArray[np.float64], penalty: float) -> NDArray[np.float64]:
    import numpy as np

    return np.asarray(np.linalg.solve(gram + penalty * np.eye(len(gram)), xty), dtype=np.float64)
