"""One BLAS thread for one message's arithmetic.

NumPy's BLAS spreads every matrix product over all cores. For one customer message the
products are small, and the threads cost more to wake and join than they save; on a
machine that other processes keep busy they wait for a free core each time. Measured on
the 2-core machine with a benchmark running beside it: one message through the encoder took
16 ms (and once 716 ms) with two BLAS threads, 10 ms with one. Encoding a whole bot's
probes, once, keeps every thread.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

__all__ = ["one_thread"]

_controller: Any = None


def one_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS (OpenBLAS, MKL, BLIS) runs on the calling thread only."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        # Scanning the loaded libraries takes milliseconds: once per process. NumPy is
        # loaded by then, as the caller has a model or vectors in hand.
        _controller = ThreadpoolController()
    limited: AbstractContextManager[Any] = _controller.limit(limits=1, user_api="blas")
    return limited
