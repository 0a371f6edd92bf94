"""Ages written on the command line ("90d", "12h", "30m"), for windows and retention. Pure."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

__all__ = ["iso_utc", "parse_age"]

_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str, option: str = "--older-than") -> timedelta:
    """'90d', '12h' or '30m' as a timedelta; ValueError saying what is allowed."""
    found = _AGE.match(text)
    if not found or int(found.group(1)) == 0:
        raise ValueError(
            f"{option} {text!r}: give a number above 0 and a unit: 90d (days), 12h (hours) or 30m (minutes)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def iso_utc(moment: datetime) -> str:
    """A time as the store writes it: UTC, ISO 8601, milliseconds, Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
