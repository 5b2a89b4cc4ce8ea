"""Memory placement for the batched explorer's long-lived arrays.

The explorer's long-lived arrays (fingerprint set, frontier blocks, per-level links, memo
tables) grow during the whole run.  In the malloc heap every reallocation leaves a hole
that the next, larger array does not fit in, and the resident size drifts tens of
megabytes above the live data (measured on the toy model: 31 MB free in an 85 MB heap).
:func:`long_lived` gives such an array its own anonymous mapping, returned to the system
as soon as the array is dropped; short-lived per-chunk temporaries stay in the heap, where
they are reused chunk after chunk.
"""

from __future__ import annotations

import mmap

import numpy as np

MMAP_FROM = 1 << 16
"""Long-lived arrays of at least this many bytes get their own mapping."""


def long_lived(shape, dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` (an int or a tuple) for data kept across chunks."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    if n * dtype.itemsize < MMAP_FROM:
        return np.empty(shape, dtype=dtype)
    buf = mmap.mmap(-1, n * dtype.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dtype, count=n).reshape(shape)


def long_lived_copy(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in a :func:`long_lived` array."""
    out = long_lived(a.shape, a.dtype)
    out[...] = a
    return out


def grow(a: np.ndarray, cap: int, fill=0) -> np.ndarray:
    """``a`` (1-D or 2-D, items along the last axis) in a :func:`long_lived` array of
    ``cap`` items along the last axis, the new items set to ``fill``."""
    out = long_lived(a.shape[:-1] + (cap,), a.dtype)
    n = a.shape[-1]
    out[..., :n] = a
    out[..., n:] = fill
    return out


def release_free_memory() -> None:
    """Give freed heap pages back to the system (glibc ``malloc_trim``); a no-op
    elsewhere.  Called between levels."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None
