"""A Markdown snippet's body as the customer reads it. Pure.

Authors hard-wrap Markdown at 80 or 100 columns, and in Markdown a single line break inside
a paragraph is a space. Taken verbatim, the answer reached the customer broken mid-sentence:
the web chat keeps line breaks (`white-space: pre-wrap`), so "water just off / the boil" came
out on two lines. What Markdown itself would show on a line of its own stays on one: list
items, headings, quotes, table rows, lines after a hard break (two trailing spaces or a
backslash), paragraphs (a blank line), and code, fenced or indented, which is kept as written.
"""

from __future__ import annotations

import re

__all__ = ["unwrap"]

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# Headings and table rows are whole on their line: the next line starts afresh too.
_WHOLE = r"#{1,6}(?:\s|$)|\|"
_WHOLE_LINE = re.compile(rf"^\s*(?:{_WHOLE})")
# A line that Markdown starts afresh: a list item, a quote, or one of those.
_OWN_LINE = re.compile(rf"^\s*(?:[-*+]\s|\d{{1,9}}[.)]\s|>|{_WHOLE})")
_CODE_INDENT = "    "


def unwrap(body: str) -> str:
    """`body` with each paragraph's soft line breaks made spaces (see the module docstring)."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    joinable = False  # whether the next plain line continues the last one in `out`
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):  # to the closing fence (or the end), as written
            end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines) - 1)
            out.extend(lines[i : end + 1])
            i, joinable = end + 1, False
            continue
        if not joinable and line.startswith(_CODE_INDENT) and line.strip():  # an indented code block
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith(_CODE_INDENT)), len(lines))
            out.extend(lines[i:end])
            i, joinable = end, False
            continue
        hard = line.endswith(("  ", "\\"))
        text = line.rstrip().removesuffix("\\").rstrip()
        if not text:
            out.append("")
        elif joinable and not _OWN_LINE.match(line):
            out[-1] = f"{out[-1]} {text.lstrip()}"
        else:
            out.append(text)
        joinable = bool(text) and not hard and not _WHOLE_LINE.match(line)
        i += 1
    return "\n".join(out).strip("\n")
