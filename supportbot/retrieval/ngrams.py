"""TF-IDF n-gram similarity for the semantic engine: word 1-2-grams carry the exact words,
character 2-5-grams within words survive misspellings ("recieve", "acount"). Pure NumPy."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["NgramIndex"]

_COMMON_CHAR_GRAMS = 0.2  # share of texts above which a character gram is not indexed...
_COMMON_MIN = 1000  # ...when that is this many texts: small bots keep them all
_SPELLED_MAX = 50_000  # words whose character-gram columns are remembered
_WORD = re.compile(r"(?u)\b\w\w+\b")


def _word_grams(text: str) -> list[str]:
    # The leading NUL keeps word grams apart from character grams, which never hold one.
    words = _WORD.findall(text.lower())
    return [f"\0{w}" for w in words] + [f"\0{a} {b}" for a, b in pairwise(words)]


def _word_char_grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + n] for n in range(2, min(5, len(padded)) + 1) for i in range(len(padded) - n + 1)]


def _count_grams(texts: Sequence[str]) -> tuple[dict[str, int], list[int], list[int], list[int]]:
    """The vocabulary, and a (gram, count, block) triple per distinct gram of each text's
    word block (2 * row) and character block (2 * row + 1)."""
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__  # a new gram gets the next number
    grams: list[int] = []
    counts: list[int] = []
    blocks: list[int] = []
    # Words repeat across texts far more than they vary: their character grams are
    # numbered once per distinct word.
    spelled: dict[str, list[int]] = {}
    for row, text in enumerate(texts):
        words = Counter(map(vocabulary.__getitem__, _word_grams(text)))
        chars: Counter[int] = Counter()
        for word in text.lower().split():
            ids = spelled.get(word)
            if ids is None:
                ids = spelled[word] = list(map(vocabulary.__getitem__, _word_char_grams(word)))
            chars.update(ids)
        for block, found in enumerate((words, chars)):
            grams += found.keys()
            counts += found.values()
            blocks += [2 * row + block] * len(found)
    return dict(vocabulary), grams, counts, blocks


class NgramIndex:
    """TF-IDF cosine over word 1-2-grams and character 2-5-grams (within words), each
    block normalised on its own and averaged, searched through postings arrays.

    Weights and norms are computed with NumPy over (text, gram, count) triples, and each
    distinct word is cut into character grams once: ten thousand example questions index
    in under a second.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        import numpy as np

        self.size = len(texts)
        self.vocabulary, grams, counts, blocks = _count_grams(texts)
        gram = np.array(grams, dtype=np.int64)
        block_of = np.array(blocks, dtype=np.int64)
        df = np.bincount(gram, minlength=len(self.vocabulary))
        is_word = np.array([g.startswith("\0") for g in self.vocabulary], dtype=bool)
        self.idf = np.log((1 + self.size) / (1 + df)) + 1
        # A character n-gram seen in one text only names that text's spelling: noise, and
        # half the vocabulary.
        self.idf[(df < 2) & ~is_word] = 0.0
        # In a large bot, one found in over a fifth of them ("ca", "the") says little and has
        # the longest postings: dropping them takes a third off a search on the banking bot
        # and moves no figure by half a point.
        self.idf[(df > max(_COMMON_CHAR_GRAMS * self.size, _COMMON_MIN)) & ~is_word] = 0.0
        weight = (1 + np.log(np.array(counts, dtype=np.float64))) * self.idf[gram]
        norms = np.sqrt(np.bincount(block_of, weight * weight, minlength=2 * self.size))
        weight = 0.5 * weight / np.maximum(norms[block_of], 1e-12)
        kept = weight > 0
        gram, rows, weight = gram[kept], (block_of // 2)[kept], weight[kept]
        order = np.argsort(gram, kind="stable")
        self.rows = rows[order].astype(np.int32)
        self.values = weight[order].astype(np.float32)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(gram, minlength=len(self.vocabulary)))])
        self._spelled: dict[str, list[int]] = {}

    def _columns(self, word: str) -> list[int]:
        """The indexed columns (idf above 0) of one word's character grams, remembered: a
        customer's words repeat far more than they vary."""
        columns = self._spelled.get(word)
        if columns is None:
            if len(self._spelled) >= _SPELLED_MAX:
                self._spelled.clear()
            get, idf = self.vocabulary.get, self.idf
            found = (get(gram, -1) for gram in _word_char_grams(word))
            columns = self._spelled[word] = [c for c in found if c >= 0 and idf[c] > 0]
        return columns

    def _query(self, found: Counter[int]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """One block of the query (indexed columns and their counts) as unit-normalised weights."""
        import numpy as np

        columns = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
        counts = np.fromiter(found.values(), dtype=np.float64, count=len(found))
        weights = (1 + np.log(counts)) * self.idf[columns]
        norm = np.sqrt(weights @ weights)
        return columns, weights / norm if norm > 0 else weights

    def similarities(self, text: str) -> NDArray[np.float32]:
        """Cosine (0..1) of `text` with every indexed text."""
        import numpy as np

        get = self.vocabulary.get
        words = Counter(c for c in (get(g, -1) for g in _word_grams(text)) if c >= 0)
        chars = Counter(c for word in text.lower().split() for c in self._columns(word))
        blocks = [self._query(words), self._query(chars)]
        columns = np.concatenate([c for c, _ in blocks])
        weights = np.concatenate([w for _, w in blocks])
        # The postings of all the query's grams, gathered in one go.
        starts = self.starts[columns]
        lengths = self.starts[columns + 1] - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        scores: NDArray[np.float32] = np.bincount(
            self.rows[offsets], self.values[offsets] * np.repeat(weights, lengths), minlength=self.size
        ).astype(np.float32)
        return scores
