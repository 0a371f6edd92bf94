"""Probe vectors kept on disk between runs, so that loading a large bot does not mean
encoding thousands of example questions again.

One file per bot and model, holding a key (SHA-1 of the text) and a vector per text.
Texts already in the file are reused; new ones are encoded and the file is rewritten
atomically. `cached_arrays` keeps other results the same way, one entry per file: a bot's
token-vector fit, the encoder's int8 graph. Any problem with the cache (unwritable folder,
damaged file) costs time, never correctness: what it holds is then simply computed.

Files are named per bot file and id, so a bot that was moved, a temporary copy or a CI
checkout in a new folder each run leaves one behind. Reading a file marks it used, and
whenever one is written, the cache files nobody has read or written for `UNUSED_DAYS` are
removed: the folder holds what is in use, not every bot ever loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["cache_directory", "cached", "cached_arrays"]

log = logging.getLogger(__name__)
_SLOW = 1000
UNUSED_DAYS = 30
_HEX16 = "[0-9a-f]" * 16
# Only names this module writes: the folder may be shared (SUPPORTBOT_CACHE_DIR=/tmp).
_OURS = (
    f"vectors-{_HEX16}-{_HEX16}.npz",
    f"tokens-{_HEX16}-{_HEX16}.npz",
    f"encoder-{_HEX16}.npz",
    ".supportbot-*.tmp",
)


def cache_directory(env: Mapping[str, str]) -> Path:
    """SUPPORTBOT_CACHE_DIR, else the XDG cache folder."""
    if env.get("SUPPORTBOT_CACHE_DIR"):
        return Path(env["SUPPORTBOT_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "supportbot"


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def cached(
    encode: Callable[[Sequence[str]], NDArray[np.float32]], file: Path
) -> Callable[[Sequence[str]], NDArray[np.float32]]:
    """`encode`, answered from `file` where it can be."""
    import numpy as np

    def embed(texts: Sequence[str]) -> NDArray[np.float32]:
        stored = _read(file, ("keys", "vectors"), "embedding cache")
        known: dict[bytes, NDArray[np.float32]] = {}
        if stored is not None and len(stored["keys"]) == len(stored["vectors"]):
            known = dict(zip((k.tobytes() for k in stored["keys"]), stored["vectors"], strict=True))
        keys = [_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in known]
        if missing:
            # Thousands of texts take a minute or more: say so rather than look hung.
            level = logging.WARNING if len(missing) >= _SLOW else logging.INFO
            log.log(
                level,
                "encoding %d of %d texts for the semantic index, once; they are then cached in %s",
                len(missing),
                len(texts),
                file,
            )
            fresh = encode([texts[i] for i in missing])
            for row, i in enumerate(missing):
                known[keys[i]] = fresh[row]
        vectors = np.stack([known[k] for k in keys]).astype(np.float32)
        if missing:
            _save(file, keys, vectors)
        return vectors

    return embed


def cached_arrays(file: Path, key: str, compute: Callable[[], dict[str, NDArray[Any]]]) -> dict[str, NDArray[Any]]:
    """`compute()`, or what it gave last time for the same `key` (one entry per file)."""
    import numpy as np

    stored = _read(file, ("key",), "cache file")
    if stored is not None and stored.pop("key").item() == key:
        return stored
    arrays = compute()
    _write(file, {"key": np.array(key), **arrays})
    return arrays


def _read(file: Path, required: Sequence[str], kind: str) -> dict[str, NDArray[Any]] | None:
    """The arrays in `file`, or None when it is absent or unusable (which is only logged)."""
    import numpy as np

    try:
        with np.load(file) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged or foreign file: recompute rather than fail
        log.warning("ignoring the %s %s (%s)", kind, file, exc)
        return None
    if not all(name in arrays for name in required):
        log.warning("ignoring the %s %s (it lacks %s)", kind, file, ", ".join(required))
        return None
    # Used: _prune_unused keeps it. A read-only cache (baked into an image, say) is still read.
    with contextlib.suppress(OSError):
        os.utime(file)
    return arrays


def _save(file: Path, keys: list[bytes], vectors: NDArray[np.float32]) -> None:
    import numpy as np

    # Keys as a byte matrix: NumPy's fixed-width bytes type would drop trailing NULs.
    _write(file, {"keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 20), "vectors": vectors})


def _write(file: Path, arrays: dict[str, NDArray[Any]]) -> None:
    import numpy as np

    temporary = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=file.parent, prefix=".supportbot-", suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temporary, file)
        _prune_unused(file.parent)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        log.warning("cannot write the cache file %s (%s); what it holds will be computed again next time", file, exc)


def _prune_unused(folder: Path) -> None:
    """Remove the cache files in `folder` not read or written for UNUSED_DAYS (and
    temporary files a crash left), and nothing else that lives there."""
    cutoff = time.time() - UNUSED_DAYS * 86400
    for pattern in _OURS:
        for path in folder.glob(pattern):
            # Gone already, or not ours to remove: the cache works without it.
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    log.info("removed the cache file %s, unused for %d days", path, UNUSED_DAYS)
