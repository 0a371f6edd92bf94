"""Personal data out of exported text: email addresses, card numbers and phone numbers
become [email], [card] and [phone]. Pure. Errs on the side of masking: a long order number
may be masked as a phone number, never the other way round."""

from __future__ import annotations

import re

__all__ = ["mask"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 13 to 19 digits, in groups separated by single spaces or dashes (how cards are written).
_CARD = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")
# Seven digits or more, with the separators phone numbers are written with.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().-]{0,2}\d){6,}(?![\w])")


_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}")


def mask(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub(_phone, text)


def _phone(found: re.Match[str]) -> str:
    """A date is not personal data, and a question about one stays readable."""
    return found.group() if _DATE.fullmatch(found.group()) else "[phone]"
