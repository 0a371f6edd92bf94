"""The `semantic` retrieval engine: sentence vectors plus character and word n-grams.

Each snippet is represented by its probes (title and example questions), and the bot's
hand-off examples form one more class. A message scores against a class by the mean of
its two closest probes, once by sentence-vector cosine and once by TF-IDF n-gram cosine;
the two are blended into the match. The vectors carry meaning ("my card hasn't come" ~
"card not delivered"), the n-grams carry the exact words and survive misspellings. The
nearest probes rather than a trained classifier: a new example question works at the next
load, with no training step and nothing to tune per bot but `offline.min_score`.

The snippets put in the prompt are chosen by two rankings: by that match, and by the
sentence-vector cosine of the message with each snippet's passage (its title and answer,
as the model reads them). The two are merged by reciprocal rank fusion, so neither's
scale matters. A FAQ often has one question per entry, and its answer then says more about
what it covers than the question does: on faq_covid this took recall@4 from 0.876 to
0.920. The best-matching snippet always comes first, as the offline engine answers with it
and the hand-off thresholds are set on its match.

Speed: the transformer costs about 1.6 ms per message (int8, encoder.py). In a bot of a
thousand probes or more, each message is first scored with token vectors fitted to it
(token_vectors.py, 0.1 ms); when one class then leads the runner-up by a clear margin,
that is the answer, and only the other messages (about a fifth of real banking queries)
go through the transformer. Measured on banking77, the
figures are those of the transformer alone to within 0.2 points, but for ood-oos (0.97
against 0.99). Bots with fewer than a thousand probes always use the transformer.

Pure apart from the encoder and the embedding cache, which the caller passes in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..config import SnippetConfig
from .base import Candidate
from .blas import one_thread
from .calibration import Calibration, calibrate, cautious, clear_lead, uncalibrated
from .ngrams import NgramIndex
from .spelling import Respeller

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["SemanticIndex"]

_NEAREST = 2  # probes averaged per class: one stray example question cannot carry a class
_NGRAM_WEIGHT = 0.5  # n-gram cosine counts half as much as sentence-vector cosine
_HISTORY_WEIGHT = 0.3  # earlier customer messages steer the ranking, never the match
_CLEAR_MARGIN = 0.05  # a fast score this far ahead of the runner-up is not revisited
_FUSION = 60  # reciprocal rank fusion's usual constant (Cormack et al., 2009); 10 to 100 move no figure by half a point
# Token vectors fitted on fewer probes generalise poorly (faq_covid, 71 probes: recall@4
# fell from 0.876 to 0.851 with them), and a small bot's search is cheap anyway.
_FAST_FROM = 1000
_RECENT = 256  # messages whose class scores are kept...
_RECENT_FLOATS = 4_000_000  # ...within 32 MB
_CALIBRATION_QUESTIONS = 12  # per snippet, left out one at a time (calibration.py)...
_CALIBRATION_ROWS = 3000  # ...and in all, which bounds the time a large bot takes to load
# With more example questions per snippet than this, the
# nearest probes cover customers' wording on their own: calibrating the banking bot built
# from all ~120 questions per intent took in-scope answered right from 0.914 to 0.905.
_CALIBRATED_UP_TO = 20

Encode = Callable[[Sequence[str]], "NDArray[np.float32]"]


# Given the probes and their sentence vectors: a fast approximation of the encoder, and
# the probes' vectors in its terms.
FitFast = Callable[[Sequence[str], "NDArray[np.float32]"], tuple[Encode, "NDArray[np.float32]"]]


def _probes(snippets: Sequence[SnippetConfig], handoff_examples: Sequence[str]) -> tuple[list[str], list[int]]:
    """Each snippet's distinct title and questions, then the hand-off examples, with the
    number of the class each belongs to (the hand-off class is numbered last)."""
    texts: list[str] = []
    owners: list[int] = []
    for number, group in enumerate([*((s.title, *s.questions) for s in snippets), handoff_examples]):
        distinct = list(dict.fromkeys(group))
        texts += distinct
        owners += [number] * len(distinct)
    return texts, owners


def _passage(snippet: SnippetConfig) -> str:
    """A snippet as the model reads it in the prompt (prompt.py), without its id."""
    return f"{snippet.title}\n{snippet.answer.strip()}"


def _fused(*rankings: NDArray[np.float64]) -> NDArray[np.float64]:
    """Reciprocal rank fusion: what counts is each item's place in each ranking."""
    import numpy as np

    total = np.zeros(len(rankings[0]))
    for scores in rankings:
        places = np.empty(len(scores))
        places[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
        total += 1 / (_FUSION + places)
    return total


def _blend(dense: NDArray[np.float64], lexical: NDArray[np.float64]) -> NDArray[np.float64]:
    blended: NDArray[np.float64] = (dense + _NGRAM_WEIGHT * lexical) / (1 + _NGRAM_WEIGHT)
    return blended


def _clear(scores: NDArray[np.float64]) -> bool:
    """Whether the best class leads the runner-up by `_CLEAR_MARGIN`."""
    import numpy as np

    if len(scores) < 2:
        return True
    runner_up, best = np.partition(scores, len(scores) - 2)[-2:]
    return bool(best - runner_up >= _CLEAR_MARGIN)


class SemanticIndex:
    """Snippet search and hand-off matching by nearest probes (see the module docstring)."""

    def __init__(
        self,
        snippets: Sequence[SnippetConfig],
        handoff_examples: Sequence[str],
        encode: Encode,
        embed_probes: Encode | None = None,
        fit_fast: FitFast | None = None,
        min_score: float = 0.55,
        known: Callable[[str], bool] | None = None,
        small_talk: NDArray[np.float32] | None = None,
    ) -> None:
        """`encode` embeds messages; `embed_probes` (default: `encode`) the snippets' probes,
        typically through a cache, since a large bot has thousands. With `fit_fast`, clear
        messages are scored without `encode` (see the module docstring). `min_score` is the
        bot's: the calibration judges the answers it lets through. With `known` (does the
        encoder know a word whole?), misspellings are mended towards the bot's words.
        `small_talk`: the vectors of smalltalk.examples(), in order."""
        import numpy as np

        self.small_talk = small_talk
        self._last_vector: tuple[str, NDArray[np.float32]] = ("", np.zeros(0, dtype=np.float32))

        self.snippets = tuple(snippets)
        self.handoff_class = len(self.snippets)  # the hand-off examples are one more class
        self.texts, owners = _probes(self.snippets, handoff_examples)
        # Probes come grouped by class, so that per-class maxima are one reduceat each.
        self.classes, self.starts = np.unique(np.array(owners, dtype=np.int64), return_index=True)
        self.counts = np.diff(np.append(self.starts, len(owners)))
        self.has_handoff_examples = bool(handoff_examples)
        self.encode = encode
        passages = [_passage(s) for s in self.snippets]
        # One call for probes and passages: the cache keeps the texts of its last call.
        vectors = (
            (embed_probes or encode)([*self.texts, *passages]) if self.texts else np.zeros((0, 1), dtype=np.float32)
        )
        self.vectors, self.passage_vectors = vectors[: len(self.texts)], vectors[len(self.texts) :]
        # Recent messages' scores: a turn's search and hand-off check ask for the same message,
        # and the next turns for it as history. Bounded in bytes: a row is two floats a snippet.
        self._recent: OrderedDict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = OrderedDict()
        self._recent_size = max(2, min(_RECENT, _RECENT_FLOATS // (2 * self.handoff_class + 1)))
        self.ngrams = NgramIndex(self.texts)
        self.respeller = Respeller([*self.texts, *passages], known) if known is not None else None
        wanted = fit_fast if len(self.texts) >= _FAST_FROM else None
        self.fast = self._fit_fast(wanted, passages) if wanted else None
        self.calibration = self._calibrate(min_score)

    def _fit_fast(self, fit_fast: FitFast, passages: Sequence[str]) -> Encode:
        """The token-vector stand-in for the encoder, and the probes and passages in its terms."""
        fast, self.fast_vectors = fit_fast(self.texts, self.vectors)
        self.fast_passages = fast(passages)
        return fast

    def _calibrate(self, min_score: float) -> Calibration:
        """Each snippet's example questions (up to a dozen, and 3,000 in all), matched with
        the rest of the bot as if they were customer messages, each leaving itself out
        (calibration.py)."""
        import numpy as np

        # Probes of the snippets, less a title each; hand-off examples do not count.
        questions = len(self.texts) - (self.counts[-1] if self.has_handoff_examples else 0) - len(self.snippets)
        if not questions:
            return cautious(len(self.snippets))
        if questions > _CALIBRATED_UP_TO * len(self.snippets):
            return uncalibrated(len(self.snippets))
        each = max(2, min(_CALIBRATION_QUESTIONS, _CALIBRATION_ROWS // len(self.snippets)))
        # A class's first probe is its title (_probes); the hand-off class is not calibrated.
        rows = np.array(
            [
                row
                for start, count in zip(self.starts[: self.handoff_class], self.counts, strict=False)
                for row in range(start + 1, start + min(count, each + 1))
            ][:_CALIBRATION_ROWS]
        )
        scores = np.zeros((len(rows), self.handoff_class + 1))
        for chunk in np.array_split(np.arange(len(rows)), max(1, len(rows) // 256)):
            dense = (self.vectors[rows[chunk]] @ self.vectors.T).astype(np.float64)
            lexical = np.array([self.ngrams.similarities(self.texts[row]) for row in rows[chunk]], dtype=np.float64)
            dense[np.arange(len(chunk)), rows[chunk]] = lexical[np.arange(len(chunk)), rows[chunk]] = -np.inf
            scores[chunk[:, None], self.classes] = _blend(self._nearest(dense), self._nearest(lexical))
        owner = self.classes[np.repeat(np.arange(len(self.classes)), self.counts)[rows]]
        passages = (self.vectors[rows] @ self.passage_vectors.T).astype(np.float64)
        return calibrate(scores[:, : self.handoff_class], owner, passages, min_score)

    def class_scores(self, text: str) -> NDArray[np.float64]:
        """0..1 per class (one per snippet, then hand-off; absent classes score 0)."""
        return self._scores(text)[0]

    def _scores(self, text: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The class scores, and the message's cosine with each snippet's passage."""
        import numpy as np

        if text in self._recent:
            self._recent.move_to_end(text)
            return self._recent[text]
        scores, passages = np.zeros(self.handoff_class + 1), np.zeros(self.handoff_class)
        if self.texts:
            with one_thread():
                scores, passages = self._score(self.respeller.respell(text) if self.respeller else text)
        self._recent[text] = scores, passages
        if len(self._recent) > self._recent_size:
            self._recent.popitem(last=False)
        return scores, passages

    def _score(self, text: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """By the token vectors when they are clear, else by the transformer."""
        lexical = self._nearest(self.ngrams.similarities(text))
        if self.fast is not None:
            scores, passages = self._dense(self.fast([text])[0], self.fast_vectors, self.fast_passages, lexical)
        if self.fast is None or not _clear(scores):
            vector = self.encode([text])[0]
            self._last_vector = text, vector  # small talk by meaning may ask for it next
            scores, passages = self._dense(vector, self.vectors, self.passage_vectors, lexical)
        return scores, passages

    def _dense(
        self,
        vector: NDArray[np.float32],
        probes: NDArray[np.float32],
        passages: NDArray[np.float32],
        lexical: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The class scores and passage cosines of a message vector, in the space of
        `probes` and `passages` (the transformer's or the token vectors')."""
        import numpy as np

        scores = np.zeros(self.handoff_class + 1)
        scores[self.classes] = _blend(self._nearest(probes @ vector), lexical)
        return scores, (passages @ vector).astype(np.float64)

    def _nearest(self, similarities: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Per class, the mean of its `_NEAREST` (two) most similar probes (along the last
        axis; a probe left out is -inf)."""
        import numpy as np

        s = similarities.astype(np.float64)
        best = np.maximum.reduceat(s, self.starts, axis=-1)
        # The runner-up: the class maximum again, with the best probe set aside.
        rest = np.where(s >= np.repeat(best, self.counts, axis=-1), -np.inf, s)
        second = np.maximum.reduceat(rest, self.starts, axis=-1)
        second = np.where(np.isfinite(second), second, best)
        best = np.where(np.isfinite(best), best, 0.0)
        second = np.where(np.isfinite(second), second, best)
        result: NDArray[np.float64] = (best + second) / _NEAREST
        return result

    def search(self, text: str, k: int, history: Sequence[str] = ()) -> list[Candidate]:
        """The `k` best snippets (see the module docstring); `match` is the message's own
        class score, `score` the fused rank."""
        import numpy as np

        if not self.snippets:
            return []
        by_match = np.zeros(self.handoff_class)
        by_passage = np.zeros(self.handoff_class)
        for previous in history:
            scores, passages = self._scores(previous)
            by_match += _HISTORY_WEIGHT * scores[: self.handoff_class]
            by_passage += _HISTORY_WEIGHT * passages
        # The message itself last: its scores stay memoised for the hand-off check that follows.
        scores, passages = self._scores(text)
        match = scores[: self.handoff_class]
        fused = _fused(by_match + match, by_passage + passages)
        # Stable: ties keep file order, as in the lexical engine.
        order = np.argsort(-fused, kind="stable")
        # The best match leads whatever its fused rank: the offline provider answers with it.
        first = int(np.argmax(match))
        best = np.concatenate([[first], order[order != first]])[:k]
        evidence = self.calibration.evidence(match, passages)
        clear = clear_lead(match, evidence, self.calibration)
        return [
            Candidate(self.snippets[i], float(fused[i]), float(match[i]), float(evidence[i]), clear or i != first)
            for i in best
        ]

    def small_talk_similarities(self, text: str) -> list[float]:
        """The message's cosine with each small-talk example (none without them), from the
        vector its search just computed where it can (asked only of a message nothing in the
        bot came close to)."""
        if self.small_talk is None or not text.strip():
            return []
        text = self.respeller.respell(text) if self.respeller else text
        seen, vector = self._last_vector
        if seen != text:
            with one_thread():
                vector = self.encode([text])[0]
        similarities: list[float] = (self.small_talk @ vector).astype(float).tolist()
        return similarities

    def handoff_match(self, text: str) -> float:
        """0..1: how closely the message resembles the bot's hand-off examples."""
        if not self.has_handoff_examples:
            return 0.0
        return float(self.class_scores(text)[self.handoff_class])

    def closeness(self, text: str, snippets: Sequence[SnippetConfig]) -> float:
        """The sentence-vector cosine of `text` with the closest of the snippets' passages
        (title and answer), by the transformer: a reply is no customer message, and this
        is asked once per model answer."""
        wanted = {s.id for s in snippets}
        rows = [i for i, s in enumerate(self.snippets) if s.id in wanted]
        if not rows or not text.strip():
            return 0.0
        with one_thread():
            vector = self.encode([text])[0]
        return max(0.0, float((self.passage_vectors[rows] @ vector).max()))
