"""Streaming the customer-visible text out of a model reply while it is still being written.

The model writes a JSON object; the customer should see only its "reply" text, as it
arrives, and only for an answer that will stand. ReplyStream scans the raw text
incrementally (a small JSON tokenizer for one flat object) and returns the decoded reply
characters that became available. It emits nothing unless, before "reply" began:

- "action" was "answer";
- "citations" named at least one snippet that was offered (an answer citing only unknown
  snippets is handed off, so none of its text may show), and any citation at all when the
  bot requires them;
- "confidence", if it came, reached the bot's threshold.

The reply contract asks for the keys in that order, so a model that follows it streams.
A reply written before its citations is not streamed: the validated Decision that ends
every stream is what counts, and a client shows its reply. Streamed text stops at the
reply's length limit.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["ReplyStream"]

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ReplyStream:
    def __init__(
        self,
        offered: Collection[str] | None = None,
        *,
        threshold: float = 0.0,
        require_citations: bool = False,
        max_chars: int | None = None,
    ) -> None:
        """`offered`: the snippet ids in the prompt (None: citations are not checked)."""
        self._offered = offered
        self._threshold = threshold
        self._require_citations = require_citations
        self._left = max_chars
        self._depth = 0
        self._in_string = False
        self._escape = ""  # pending escape sequence after a backslash
        self._string = ""  # the current string so far (keys and top-level values)
        self._scalar = ""  # a top-level number or literal so far
        self._is_key = True  # at depth 1: is the next string a key?
        self._key = ""
        self._action = ""
        self._cited: list[str] = []
        self._seen_citations = False
        self._confidence: float | None = None
        self._streaming = False  # inside the reply string of an answer
        self.done = False

    def feed(self, chunk: str) -> str:
        """Consume raw model text; return the reply text it completed."""
        out: list[str] = []
        for char in chunk:
            if self._in_string:
                self._string_char(char, out)
            else:
                self._structure_char(char)
        return "".join(out)

    def _string_char(self, char: str, out: list[str]) -> None:
        if self._escape:
            self._escape += char
            decoded = self._decode_escape()
            if decoded is None:
                return
            self._escape = ""
            self._append(decoded, out)
        elif char == "\\":
            self._escape = "\\"
        elif char == '"':
            self._in_string = False
            self._end_string()
        else:
            self._append(char, out)

    def _decode_escape(self) -> str | None:
        body = self._escape[1:]
        if body[:1] == "u":
            if len(body) < 5:
                return None
            try:
                return chr(int(body[1:5], 16))
            except ValueError:
                return ""
        return _ESCAPES.get(body, "")

    def _append(self, text: str, out: list[str]) -> None:
        if self._depth == 1 or (self._depth == 2 and self._key == "citations"):
            self._string += text
        if self._streaming and self._depth == 1:
            if self._left is not None:
                text = text[: self._left]
                self._left -= len(text)
            out.append(text)

    def _end_string(self) -> None:
        if self._depth == 2 and self._key == "citations":
            self._cited.append(self._string)
        elif self._depth == 1:
            if self._is_key:
                self._key = self._string
            else:
                if self._key == "action":
                    self._action = self._string
                if self._streaming:
                    self._streaming = False
                    self.done = True
        self._string = ""

    def _may_stream(self) -> bool:
        if self._action != "answer":
            return False
        if self._confidence is not None and self._confidence < self._threshold:
            return False
        if self._offered is None:
            return True
        if not self._seen_citations:  # they may yet name only unknown snippets
            return False
        known = [c for c in self._cited if c in self._offered]
        if self._cited and not known:
            return False
        return bool(known) or not self._require_citations

    def _structure_char(self, char: str) -> None:
        if self._depth == 1 and not self._is_key and char not in '"{[,}] \t\r\n:':
            self._scalar += char
            return
        if char == '"':
            self._in_string = True
            self._string = ""
            if self._depth == 1 and not self._is_key and self._key == "reply" and self._may_stream():
                self._streaming = True
        elif char in "{[":
            self._depth += 1
            if self._depth == 1:
                self._is_key = True
        elif char in "}]":
            if self._depth == 1:
                self._end_scalar()
            self._depth -= 1
        elif self._depth == 1 and char == ":":
            self._is_key = False
            if self._key == "citations":
                self._cited, self._seen_citations = [], True
        elif self._depth == 1 and char == ",":
            self._end_scalar()
            self._is_key = True

    def _end_scalar(self) -> None:
        if self._scalar and self._key == "confidence":
            try:
                self._confidence = float(self._scalar)
            except ValueError:
                self._confidence = -1.0  # not a number: validation will refuse the reply
        self._scalar = ""
