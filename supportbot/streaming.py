"""Streaming the customer-visible text out of a model reply while it is still being written.

The model writes a JSON object; the customer should see only its "reply" text, as it
arrives, and only for an answer. ReplyStream scans the raw text incrementally (a small
JSON tokenizer for one flat object) and returns the decoded reply characters that became
available. It emits nothing unless "action": "answer" came before "reply", so a hand-off
or a malformed object shows no text; the validated Decision that ends every stream is
what counts, and a client replaces the streamed text with its reply.
"""

from __future__ import annotations

__all__ = ["ReplyStream"]

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ReplyStream:
    def __init__(self) -> None:
        self._depth = 0
        self._in_string = False
        self._escape = ""  # pending escape sequence after a backslash
        self._string = ""  # the current string so far (keys and top-level values)
        self._is_key = True  # at depth 1: is the next string a key?
        self._key = ""
        self._action = ""
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
        if self._depth == 1:
            self._string += text
            if self._streaming:
                out.append(text)

    def _end_string(self) -> None:
        if self._depth != 1:
            return
        if self._is_key:
            self._key = self._string
        else:
            if self._key == "action":
                self._action = self._string
            if self._streaming:
                self._streaming = False
                self.done = True
        self._string = ""

    def _structure_char(self, char: str) -> None:
        if char == '"':
            self._in_string = True
            self._string = ""
            if self._depth == 1 and not self._is_key and self._key == "reply" and self._action == "answer":
                self._streaming = True
        elif char in "{[":
            self._depth += 1
            if self._depth == 1:
                self._is_key = True
        elif char in "}]":
            self._depth -= 1
        elif self._depth == 1 and char == ":":
            self._is_key = False
        elif self._depth == 1 and char == ",":
            self._is_key = True
