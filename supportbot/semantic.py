"""The `semantic` retrieval engine: sentence vectors plus character and word n-grams.

Each snippet is represented by its probes (title and example questions), and the bot's
hand-off examples form one more class. A message scores against a class by the mean of
its two closest probes, once by sentence-vector cosine and once by TF-IDF n-gram cosine;
the two are blended. The vectors carry meaning ("my card hasn't come" ~ "card not
delivered"), the n-grams carry the exact words and survive misspellings. The nearest
probes rather than a trained classifier: a new example question works at the next load,
with no training step and nothing to tune per bot but `offline.min_score`.

Pure apart from the encoder and the embedding cache, which the caller passes in.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from .config import SnippetConfig
from .providers.base import Candidate

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["NgramIndex", "SemanticIndex"]

_NEAREST = 2  # probes averaged per class: one stray example question cannot carry a class
_NGRAM_WEIGHT = 0.5  # n-gram cosine counts half as much as sentence-vector cosine
_HISTORY_WEIGHT = 0.3  # earlier customer messages steer the ranking, never the match
_RECENT = 256  # messages whose class scores are kept...
_RECENT_FLOATS = 4_000_000  # ...within 32 MB
_WORD = re.compile(r"(?u)\b\w\w+\b")

Encode = Callable[[Sequence[str]], "NDArray[np.float32]"]


def _word_grams(text: str) -> list[str]:
    # The leading NUL keeps word grams apart from character grams, which never hold one.
    words = _WORD.findall(text.lower())
    return [f"\0{w}" for w in words] + [f"\0{a} {b}" for a, b in pairwise(words)]


def _word_char_grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + n] for n in range(2, min(5, len(padded)) + 1) for i in range(len(padded) - n + 1)]


def _char_grams(text: str) -> list[str]:
    return [g for word in text.lower().split() for g in _word_char_grams(word)]


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
        weight = (1 + np.log(np.array(counts, dtype=np.float64))) * self.idf[gram]
        norms = np.sqrt(np.bincount(block_of, weight * weight, minlength=2 * self.size))
        weight = 0.5 * weight / np.maximum(norms[block_of], 1e-12)
        kept = weight > 0
        gram, rows, weight = gram[kept], (block_of // 2)[kept], weight[kept]
        order = np.argsort(gram, kind="stable")
        self.rows = rows[order].astype(np.int32)
        self.values = weight[order].astype(np.float32)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(gram, minlength=len(self.vocabulary)))])

    def _query(self, found: Counter[str]) -> dict[int, float]:
        weights = {}
        for g, count in found.items():
            column = self.vocabulary.get(g)
            if column is not None and self.idf[column] > 0:
                weights[column] = (1 + math.log(count)) * float(self.idf[column])
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {c: 0.5 * w / norm for c, w in weights.items()}

    def similarities(self, text: str) -> NDArray[np.float32]:
        """Cosine (0..1) of `text` with every indexed text."""
        import numpy as np

        rows, values = [], []
        for found in (Counter(_word_grams(text)), Counter(_char_grams(text))):
            for column, weight in self._query(found).items():
                start, end = self.starts[column], self.starts[column + 1]
                rows.append(self.rows[start:end])
                values.append(self.values[start:end] * (2 * weight))
        if not rows:
            return np.zeros(self.size, dtype=np.float32)
        scores: NDArray[np.float32] = np.bincount(
            np.concatenate(rows), np.concatenate(values), minlength=self.size
        ).astype(np.float32)
        return scores


class SemanticIndex:
    """Snippet search and hand-off matching by nearest probes (see the module docstring)."""

    def __init__(
        self,
        snippets: Sequence[SnippetConfig],
        handoff_examples: Sequence[str],
        encode: Encode,
        embed_probes: Encode | None = None,
    ) -> None:
        """`encode` embeds messages; `embed_probes` (default: `encode`) the snippets'
        probes, typically through a cache, since a large bot has thousands."""
        import numpy as np

        self.snippets = tuple(snippets)
        owners: list[int] = []
        texts: list[str] = []
        handoff = len(self.snippets)  # the hand-off examples are one more class
        for number, snippet in enumerate(self.snippets):
            for text in dict.fromkeys((snippet.title, *snippet.questions)):
                owners.append(number)
                texts.append(text)
        for text in dict.fromkeys(handoff_examples):
            owners.append(handoff)
            texts.append(text)
        # Probes sorted by class, so that per-class maxima are one reduceat each.
        order = np.argsort(np.array(owners, dtype=np.int64), kind="stable")
        self.texts = [texts[i] for i in order]
        owner_array = np.array(owners, dtype=np.int64)[order]
        self.classes, self.starts = np.unique(owner_array, return_index=True)
        self.counts = np.diff(np.append(self.starts, len(owners)))
        self.handoff_class = handoff
        self.has_handoff_examples = bool(handoff_examples)
        self.encode = encode
        self.vectors = (embed_probes or encode)(self.texts) if self.texts else np.zeros((0, 1), dtype=np.float32)
        # Recent messages' scores: a turn's search and its hand-off check ask for the same
        # message, and the next turns ask again for it as history. Bounded in bytes, since a
        # row is one float per snippet.
        self._recent: OrderedDict[str, NDArray[np.float64]] = OrderedDict()
        self._recent_size = max(2, min(_RECENT, _RECENT_FLOATS // (handoff + 1)))
        self.ngrams = NgramIndex(self.texts)

    def class_scores(self, text: str) -> NDArray[np.float64]:
        """0..1 per class (one per snippet, then hand-off; absent classes score 0)."""
        import numpy as np

        if text in self._recent:
            self._recent.move_to_end(text)
            return self._recent[text]
        scores = np.zeros(self.handoff_class + 1)
        if not self.texts:
            return scores
        dense = self._nearest(self.vectors @ self.encode([text])[0])
        lexical = self._nearest(self.ngrams.similarities(text))
        scores[self.classes] = (dense + _NGRAM_WEIGHT * lexical) / (1 + _NGRAM_WEIGHT)
        self._recent[text] = scores
        if len(self._recent) > self._recent_size:
            self._recent.popitem(last=False)
        return scores

    def _nearest(self, similarities: NDArray[np.float32]) -> NDArray[np.float64]:
        """Per class, the mean of its `_NEAREST` (two) most similar probes."""
        import numpy as np

        s = similarities.astype(np.float64)
        best = np.maximum.reduceat(s, self.starts)
        # The runner-up: the class maximum again, with the best probe set aside.
        rest = np.where(s >= np.repeat(best, self.counts), -np.inf, s)
        second = np.maximum.reduceat(rest, self.starts)
        second = np.where(np.isfinite(second), second, best)
        result: NDArray[np.float64] = (best + second) / _NEAREST
        return result

    def search(self, text: str, k: int, history: Sequence[str] = ()) -> list[Candidate]:
        """The `k` best snippets; `match` is the message's own class score."""
        import numpy as np

        if not self.snippets:
            return []
        rank = np.zeros(self.handoff_class)
        for previous in history:
            rank += _HISTORY_WEIGHT * self.class_scores(previous)[: self.handoff_class]
        # The message itself last: its scores stay memoised for the hand-off check that follows.
        match = self.class_scores(text)[: self.handoff_class]
        rank += match
        # Stable: ties keep file order, as in the lexical engine.
        best = np.argsort(-rank, kind="stable")[:k]
        return [Candidate(self.snippets[i], float(rank[i]), float(match[i])) for i in best]

    def handoff_match(self, text: str) -> float:
        """0..1: how closely the message resembles the bot's hand-off examples."""
        if not self.has_handoff_examples:
            return 0.0
        return float(self.class_scores(text)[self.handoff_class])

