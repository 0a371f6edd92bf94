"""The forms of a customer's text that rules and the model see. Pure functions.

A customer can hide a word from a rule without hiding it from a person: a zero-width space
inside "hu\u200bman", a soft hyphen, fullwidth letters ("ｈｕｍａｎ") or a Cyrillic "а" that
looks like a Latin "a". Rules therefore match a normalised form:

- `clean`: Unicode NFKC (fullwidth and other compatibility forms become plain letters and
  digits) with every format character (category Cf: zero-width spaces and joiners, soft
  hyphens, bidi controls) removed. Regex rules match this, and the model reads it.
- `fold`: `clean`, case-folded, with common look-alike letters (Cyrillic and Greek letters
  that are drawn like Latin ones) replaced by their Latin twins. Phrase rules
  (`if_user_says`) match this, and their phrases are folded the same way, so a rule written
  in Cyrillic still matches Cyrillic text.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean", "fold"]

# Look-alikes drawn like Latin letters (after case folding), from Unicode's confusables
# list: the Cyrillic and Greek letters that appear in real evasion attempts.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "һ": "h",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ӏ": "l",
        "ɡ": "g",
        "ո": "n",
        "ս": "u",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ω": "w",
        "ϲ": "c",
        "ϳ": "j",
        # Latin letters that stand in for others
        "ı": "i",
        "ȷ": "j",
        "ℓ": "l",
    }
)


def clean(text: str) -> str:
    """NFKC, without format characters (zero-width, soft hyphen, bidi controls)."""
    if text.isascii():  # the common case: nothing to normalise
        return text
    normal = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")


def fold(text: str) -> str:
    """`clean`, case-folded, look-alike letters replaced by their Latin twins."""
    folded = clean(text).casefold()
    return folded if folded.isascii() else folded.translate(_CONFUSABLES)
