"""The `lexical` retrieval engine: which FAQ entries go into the prompt, and how well they match.

Ranking is BM25 over weighted fields (title and questions count more than the answer),
served from an inverted index so a query touches only the snippets that share a term
with it. Each candidate also gets a `match` in 0..1, comparable across queries: the
IDF-weighted cosine between the query and the snippet's closest question or title. The
offline provider thresholds on it; the model path only needs the ranking.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import chain

from ..config import SnippetConfig
from .base import Candidate

__all__ = ["ExampleIndex", "KnowledgeIndex", "terms"]


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "hello",
        "hi",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "hey",
        "thanks",
        "thank",
    ]
)
_FIELD_WEIGHTS = {"title": 2.0, "questions": 2.0, "tags": 1.0, "answer": 0.5}
_K1 = 1.2
_B = 0.75
_HISTORY_WEIGHT = 0.3


def _stem(word: str) -> str:
    """A light suffix stripper: enough to meet 'ships', 'shipped' and 'shipping' at 'ship'."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Normalised content terms of a text: lower case, accents folded, stop words dropped."""
    folded = text.lower()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    folded = folded.replace("'", "")
    words = _WORD.findall(folded)
    found = list(map(_TERMS.get, words))  # C-speed lookups; misses come back as None
    if None in found:
        if len(_TERMS) >= _TERMS_MAX:  # customers' typos must not grow it without bound
            _TERMS.clear()
        for i, word in enumerate(words):
            if found[i] is None:
                found[i] = _TERMS[word] = "" if word in _STOPWORDS else _stem(word)
    return [term for term in found if term]


# word -> its term ("" for a stop word). Words repeat: a 100,000-snippet bot splits 4.6
# million words, 20,000 of them distinct.
_TERMS: dict[str, str] = {}
_TERMS_MAX = 500_000


class KnowledgeIndex:
    """An immutable search index over a bot's snippets."""

    def __init__(self, snippets: Sequence[SnippetConfig], handoff_examples: Sequence[str] = ()) -> None:
        self.snippets = tuple(snippets)
        # Each text is split into terms once: for BM25 and for the probes below.
        probe_terms = [[terms(text) for text in (s.title, *s.questions)] for s in self.snippets]
        weighted = [self._weighted_terms(s, p) for s, p in zip(self.snippets, probe_terms, strict=True)]
        lengths = [sum(tf.values()) for tf in weighted]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        df: Counter[str] = Counter()
        for tf in weighted:
            df.update(tf.keys())
        n = len(self.snippets)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self._weights = {t: v * v for t, v in self.idf.items()}
        self._unknown_weight = self._unknown_idf**2
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        postings, idf, k1_plus_1 = self._postings, self.idf, _K1 + 1
        for doc, tf in enumerate(weighted):
            norm = _K1 * (1 - _B + _B * lengths[doc] / (average or 1.0))
            for term, freq in tf.items():
                postings[term].append((doc, idf[term] * freq * k1_plus_1 / (freq + norm)))
        # Probes: the short texts a customer's message resembles when it asks for a snippet.
        # Vectors are made on a snippet's first match: a query matches only its top k, and
        # making all of them up front was a fifth of a large bot's index build.
        self._probe_terms = probe_terms
        self._probes: list[list[tuple[frozenset[str], float]] | None] = [None] * len(probe_terms)
        self._handoff = (
            ExampleIndex(handoff_examples, self._weights, self._unknown_weight) if handoff_examples else None
        )

    @staticmethod
    def _weighted_terms(snippet: SnippetConfig, probe_terms: list[list[str]]) -> dict[str, float]:
        """Term frequencies weighted by field; `probe_terms` holds the title's and questions' terms."""
        fields = {
            "title": probe_terms[:1],
            "questions": probe_terms[1:],
            "tags": [terms(t) for t in snippet.tags],
            "answer": [terms(snippet.answer)],
        }
        tf: dict[str, float] = {}
        for name, term_lists in fields.items():
            if not term_lists:
                continue
            weight = _FIELD_WEIGHTS[name]
            counts = Counter(term_lists[0]) if len(term_lists) == 1 else Counter(chain.from_iterable(term_lists))
            for term, count in counts.items():
                tf[term] = tf.get(term, 0.0) + weight * count
        return tf

    def _probe_vectors(self, probe_terms: list[list[str]]) -> list[tuple[frozenset[str], float]]:
        probes = []
        for term_list in probe_terms:
            words = frozenset(term_list)
            if words:
                probes.append((words, math.sqrt(math.fsum(self._weight(t) for t in words))))
        return probes

    def _weight(self, term: str) -> float:
        return self._weights.get(term, self._unknown_weight)

    def scores(
        self, query: Iterable[str], weight: float = 1.0, into: dict[int, float] | None = None
    ) -> dict[int, float]:
        """BM25 score of every snippet sharing a term with `query` (a term list)."""
        totals: dict[int, float] = {} if into is None else into
        # Each distinct term once, in the message's order: a set's order changes from one
        # process to the next (string hashing is randomised), and with it the order of the
        # sums and of ties, and so, now and then, the answer.
        for term in dict.fromkeys(query):
            for doc, value in self._postings.get(term, ()):
                totals[doc] = totals.get(doc, 0.0) + weight * value
        return totals

    def match(self, doc: int, query_terms: frozenset[str]) -> float:
        """0..1: IDF-weighted cosine of the query and the snippet's closest question or title."""
        if not query_terms:
            return 0.0
        # fsum: exact whatever the order in which a set yields its terms.
        query_norm = math.sqrt(math.fsum(self._weight(t) for t in query_terms))
        best = 0.0
        probes = self._probes[doc]
        if probes is None:
            probes = self._probes[doc] = self._probe_vectors(self._probe_terms[doc])
        for words, norm in probes:
            shared = query_terms & words
            if shared:
                best = max(best, math.fsum(self._weight(t) for t in shared) / (query_norm * norm))
        return best

    def handoff_match(self, text: str) -> float:
        """0..1: the match of the closest hand-off example (0 with none)."""
        return self._handoff.best(frozenset(terms(text))) if self._handoff else 0.0

    def small_talk_similarities(self, text: str) -> list[float]:
        """None: words shared with "thanks a lot" say little of meaning ("a lot of charges")."""
        return []

    def closeness(self, text: str, snippets: Sequence[SnippetConfig]) -> float:
        """The share of the reply's distinct content words that the snippets use (1 for a
        reply with none: nothing in it can stray)."""
        words = set(terms(text))
        if not words:
            return 1.0
        known = {t for s in snippets for part in (s.title, s.answer, *s.questions, *s.tags) for t in terms(part)}
        return len(words & known) / len(words)

    def search(self, text: str, k: int, history: Sequence[str] = ()) -> list[Candidate]:
        """The `k` best snippets for a message, recent customer messages weighing less."""
        query = terms(text)
        totals = self.scores(query)
        for previous in history:
            self.scores(terms(previous), _HISTORY_WEIGHT, totals)
        # Ties go to the snippet first in the file.
        best = heapq.nsmallest(k, totals.items(), key=lambda item: (-item[1], item[0]))
        query_set = frozenset(query)
        return [Candidate(self.snippets[doc], score, m, m) for doc, score in best for m in [self.match(doc, query_set)]]


class ExampleIndex:
    """Short example texts (hand-off examples) and how closely a message matches the
    nearest one, with the same IDF-weighted cosine as snippet questions."""

    def __init__(self, examples: Sequence[str], weights: dict[str, float], unknown_weight: float) -> None:
        """`weights`: each known term's squared IDF, as the snippet index has them."""
        self._weights, self._unknown = weights, unknown_weight
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._norms: list[float] = []
        for number, text in enumerate(examples):
            words = set(terms(text))
            for word in words:
                self._postings[word].append(number)
            self._norms.append(math.sqrt(math.fsum(self._weight(w) for w in words)) or 1.0)

    def _weight(self, term: str) -> float:
        return self._weights.get(term, self._unknown)

    def best(self, query_terms: frozenset[str]) -> float:
        """0..1: the match of the closest example."""
        if not query_terms or not self._norms:
            return 0.0
        shared: defaultdict[int, list[float]] = defaultdict(list)
        for term in query_terms:
            weight = self._weight(term)
            for number in self._postings.get(term, ()):
                shared[number].append(weight)
        if not shared:
            return 0.0
        query_norm = math.sqrt(math.fsum(self._weight(t) for t in query_terms))
        return max(math.fsum(weights) / (query_norm * self._norms[n]) for n, weights in shared.items())
