"""Personal data out of exported text: card numbers, email addresses and phone numbers
become [card], [email] and [phone]. Pure. Emails and phone numbers are found as the
grounding check finds them (grounding.facts: a date is a date, not a phone number); card
numbers first, as a phone number's rule would take them too."""

from __future__ import annotations

import re

from ..grounding import facts

__all__ = ["mask"]

# 13 to 19 digits, in groups separated by single spaces or dashes (how cards are written).
_CARD = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")
_MASKS = {"email address": "[email]", "phone number": "[phone]"}


def mask(text: str) -> str:
    text = _CARD.sub("[card]", text)
    for fact in facts(text):
        if fact.kind in _MASKS:
            text = text.replace(fact.text, _MASKS[fact.kind])
    return text
