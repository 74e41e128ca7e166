"""Keep freed memory in the process during CPU training (glibc's allocator).

A training step on the CPU allocates and frees the same large buffers every step (a
recurrent kernel's workspace and gradients, megabytes each). glibc's ``malloc`` serves
blocks above its mmap threshold with fresh pages from the kernel and returns them on
``free``, and gives the top of its heap back once more than its trim threshold is free;
either way the next step touches new pages, and every first touch is a page fault.
Measured in ``benchmarks/RESULTS.md`` (training step, part by part): PyTorch's LSTM
forward and backward took 2.2x as long as with freed memory kept.
:func:`retain_freed_memory` turns the first off and raises the second, so that the
process keeps what it freed and reuses it; the command line (``deepalloc ...``) calls it. Its price: the
process no longer shrinks after a peak, it stays at its largest size until it ends.

The library never calls it by itself (it changes the whole process); a script calls it
once, before training (``deepalloc.training.retain_freed_memory``). It lives here, below
every package, so that the command line can call it without importing torch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
"""``mallopt`` parameters (glibc's ``malloc.h``)."""


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018  (musl and others have no mallopt: AttributeError)
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Make glibc keep freed memory for reuse: no block served by ``mmap`` (every one
    comes from the heap, which keeps what is freed; the mmap threshold alone cannot be
    raised above 32 MiB) and the heap trimmed only beyond ``trim_threshold`` free bytes.

    Parameters
    ----------
    trim_threshold
        Free memory at the top of the heap kept before any is returned, in bytes
        (default 1 GiB).

    Returns
    -------
    bool
        Whether both settings took effect (False off glibc, e.g. on macOS, Windows or
        musl, where nothing is changed).
    """
    if isinstance(trim_threshold, bool) or not isinstance(trim_threshold, int):
        raise TypeError(f"trim_threshold: expected an int, got {type(trim_threshold).__name__}")
    if trim_threshold < 0:
        raise ValueError(f"trim_threshold: expected bytes >= 0, got {trim_threshold}")
    libc = _libc()
    if libc is None:
        return False
    mmap_ok = libc.mallopt(M_MMAP_MAX, 0) == 1
    trim_ok = libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(min(trim_threshold, 2**31 - 1))) == 1
    return bool(mmap_ok and trim_ok)
