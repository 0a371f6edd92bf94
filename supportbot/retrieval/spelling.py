"""Customers' misspellings, mended towards the bot's own words before matching. Pure.

"i need to cancle my subscripton" matched the bean-there bot's cancellation snippet at 0.31,
spelled right at 0.84: the encoder's WordPiece tokenizer cuts an unknown word into pieces
("can", "##cle"), and the sentence vector drifts with them. So a message word that is neither
one of the bot's words (its titles, example questions and answers) nor a whole word of the
encoder's vocabulary is replaced by the bot's word one edit away (a letter left out, added or
changed, or two neighbours swapped), the most frequent in the bot's text where several are;
where two tie, the word is left alone. A word the encoder knows whole is never changed: "bag"
is not a typo of "bay". Words under four letters or over thirty are left alone too. Only
matching sees the mended text; the model and the transcript keep the customer's own.

Candidates are found by deletions (SymSpell, Garbe 2012): every word of the bot is filed under
itself and each form with one letter deleted; a message word looks up the same forms of its
own, and each candidate's distance is then checked ("bread" and "beard" share "bead" but are
two edits apart).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

__all__ = ["Respeller", "distance"]

_WORD = re.compile(r"[a-z]+")
_SHORTEST = 4  # shorter words have too many neighbours one edit away to guess between
# Longer runs of letters are no misspelt word, and a word's deletions cost its length squared:
# a 100,000-letter message must not cost seconds.
_LONGEST = 30

# Chat shorthand for words a support FAQ uses ("cancel my sub", "reset my pw"). The encoder
# reads "sub" as a sandwich or a prefix: "i want to cancel my sub" matched the bean-there
# bot's cancellation snippet at 0.57, "... my subscription" at 0.85. Spelled out only to a
# word the bot itself uses, and never where the bot uses the short form.
_SHORTHAND = {
    "sub": "subscription",
    "subs": "subscriptions",
    "acct": "account",
    "acc": "account",
    "accnt": "account",
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "addr": "address",
    "msg": "message",
    "msgs": "messages",
    "pmt": "payment",
    "pymt": "payment",
    "amt": "amount",
    "txn": "transaction",
    "txns": "transactions",
    "qty": "quantity",
    "pkg": "package",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "wk": "week",
    "wks": "weeks",
    "mth": "month",
    "mths": "months",
    "yr": "year",
    "yrs": "years",
    "hr": "hour",
    "hrs": "hours",
    "mins": "minutes",
    "thru": "through",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "ur": "your",
    "r": "are",
    "cuz": "because",
    "coz": "because",
}


class Respeller:
    """Mends a message's misspellings towards the words of `texts` (see the module docstring)."""

    def __init__(self, texts: Iterable[str], known: Callable[[str], bool]) -> None:
        self.frequency = Counter(word for text in texts for word in _WORD.findall(text.lower()))
        self.known = known
        self.forms: dict[str, set[str]] = {}
        for word in self.frequency:
            if len(word) >= _SHORTEST:
                for form in _deletions(word):
                    self.forms.setdefault(form, set()).add(word)

    def respell(self, text: str) -> str:
        """`text`, lower-cased, with each misspelt word replaced by the bot's word for it."""
        return _WORD.sub(lambda match: self.word(match.group()), text.lower())

    def word(self, word: str) -> str:
        if word in self.frequency:
            return word
        spelled = _SHORTHAND.get(word)
        if spelled is not None and spelled in self.frequency:
            return spelled
        if not _SHORTEST <= len(word) <= _LONGEST or self.known(word):
            return word
        candidates = {c for form in _deletions(word) for c in self.forms.get(form, ())}
        close = sorted((c for c in candidates if distance(word, c) == 1), key=lambda c: -self.frequency[c])
        if not close or (len(close) > 1 and self.frequency[close[0]] == self.frequency[close[1]]):
            return word
        return close[0]


def _deletions(word: str) -> set[str]:
    """The word and every form of it with one letter deleted."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): insertions, deletions,
    substitutions and swaps of neighbouring letters each count one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]
