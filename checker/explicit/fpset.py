"""The visited set of the batched explorer: 64-bit state fingerprints, 8 bytes per state.

Fingerprints live in sorted ``uint64`` arrays (TLC keeps a fingerprint set too; stateright
a hash map of fingerprints): a small sorted *delta* receives each insertion (a merge of two
sorted runs, linear time) and is folded into the main set when it exceeds an eighth of it.
The main set is split into ``2**b`` buckets by the top ``b`` bits so that folding never
copies more than one bucket at a time (the transient memory stays a fraction of the set).
Queries come sorted (the explorer sorts its candidates anyway), so each bucket is searched
with one ``np.searchsorted`` over a contiguous slice of the queries.
"""

from __future__ import annotations

import numpy as np

from .memory import long_lived, long_lived_copy, release_free_memory

U64 = np.uint64
_EMPTY = np.zeros(0, dtype=U64)
BUCKET_TARGET = 1 << 20
"""Fingerprints per bucket before the buckets split (8 MiB)."""


def merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union (with repeats) of two sorted uint64 arrays (linear: timsort finds
    the two runs)."""
    if a.size == 0:
        return b.copy()
    if b.size == 0:
        return a
    out = np.concatenate((a, b))
    out.sort(kind="stable")
    return out


def _hits(arr: np.ndarray, q: np.ndarray) -> np.ndarray:
    if arr.size == 0 or q.size == 0:
        return np.zeros(q.shape[0], dtype=bool)
    i = np.searchsorted(arr, q)
    i[i == arr.size] = arr.size - 1
    return arr[i] == q


class FingerprintSet:
    """A set of uint64 fingerprints.  ``contains(q)`` and ``add(q)`` take *sorted* arrays;
    ``add`` takes fingerprints not yet in the set.  ``len()`` counts them; ``nbytes`` is the
    memory of the arrays.

    Each bucket is a :func:`~.memory.long_lived` array with spare room at its end (an eighth
    of its size): a fold writes the new fingerprints after the old ones and sorts in place (two
    sorted runs: a linear merge), so memory is only mapped anew when a bucket outgrows its
    room."""

    def __init__(self):
        self.b = 0
        self.buckets = [_EMPTY]  # arrays with room; self.sizes[j] items in use
        self.sizes = [0]
        self.delta = _EMPTY
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        return self.delta.nbytes + sum(x.nbytes for x in self.buckets)

    def _bounds(self, q: np.ndarray) -> np.ndarray:
        if self.b == 0:
            return np.array([0, q.shape[0]])
        top = np.arange(1, 1 << self.b, dtype=U64) << U64(64 - self.b)
        return np.concatenate(([0], np.searchsorted(q, top), [q.shape[0]]))

    def contains(self, q: np.ndarray) -> np.ndarray:
        """Bool mask: which of the sorted fingerprints ``q`` are in the set."""
        hit = _hits(self.delta, q)
        bounds = self._bounds(q)
        for j, arr in enumerate(self.buckets):
            lo, hi = bounds[j], bounds[j + 1]
            if hi > lo and self.sizes[j]:
                hit[lo:hi] |= _hits(arr[: self.sizes[j]], q[lo:hi])
        return hit

    def array(self) -> np.ndarray:
        """Every fingerprint of the set, sorted: one new uint64 array of ``len(self)``."""
        return merge_sorted(
            np.concatenate([a[:n] for a, n in zip(self.buckets, self.sizes)]), self.delta
        )

    def add(self, q: np.ndarray) -> None:
        """Insert the sorted fingerprints ``q`` (none of them in the set)."""
        self.delta = merge_sorted(self.delta, q)
        self.n += q.shape[0]
        if self.delta.shape[0] > max(1 << 16, (self.n - self.delta.shape[0]) >> 3):
            self._fold()

    def _fold(self):
        release_free_memory()  # the set's largest moment: first give back freed heap pages
        bounds = self._bounds(self.delta)
        for j in range(len(self.buckets)):
            part = self.delta[bounds[j] : bounds[j + 1]]
            if part.size:
                self._merge_into(j, part)
        self.delta = _EMPTY
        while self.n > BUCKET_TARGET << self.b and self.b < 16:
            old, sizes = self.buckets, self.sizes
            self.buckets, self.sizes = [], []
            for j in range(len(old)):
                arr, old[j] = old[j][: sizes[j]], None  # one bucket copied at a time
                mid = int(np.searchsorted(arr, U64((2 * j + 1) << (63 - self.b))))
                for half in (arr[:mid], arr[mid:]):
                    self.buckets.append(_with_room(half))
                    self.sizes.append(half.shape[0])
                del arr
            self.b += 1

    def _merge_into(self, j, part):
        arr, n = self.buckets[j], self.sizes[j]
        if n + part.shape[0] > arr.shape[0]:
            arr = self.buckets[j] = _with_room(arr[:n], n + part.shape[0])
        arr[n : n + part.shape[0]] = part
        self.sizes[j] = n = n + part.shape[0]
        arr[:n].sort(kind="stable")


def _with_room(a: np.ndarray, need: int | None = None) -> np.ndarray:
    """A :func:`long_lived` copy of ``a`` with room for ``need`` items plus an eighth."""
    need = a.shape[0] if need is None else need
    out = long_lived(max(need + (need >> 3), 1024), a.dtype)
    out[: a.shape[0]] = a
    return out


class FingerprintIndex:
    """Fingerprint -> state id, for the exact mode: sorted fingerprints with their ids in
    a main pair of arrays plus recent sorted runs, folded in when they exceed an eighth of
    it.  ``find(q)`` returns the id of each fingerprint of ``q`` (-1 when absent); a
    fingerprint may map to one id only (a second state with the same fingerprint is a
    collision, which the explorer detects and resolves by restarting with another seed)."""

    def __init__(self):
        self.fps = _EMPTY
        self.ids = np.zeros(0, dtype=np.int64)
        self.runs = []
        self.in_runs = 0

    def __len__(self) -> int:
        return self.fps.shape[0] + self.in_runs

    def find(self, q: np.ndarray) -> np.ndarray:
        out = np.full(q.shape[0], -1, dtype=np.int64)
        for fps, ids in [(self.fps, self.ids)] + self.runs:
            if fps.size == 0 or q.size == 0:
                continue
            i = np.searchsorted(fps, q)
            i[i == fps.size] = fps.size - 1
            hit = fps[i] == q
            out[hit] = ids[i[hit]]
        return out

    def add(self, fps: np.ndarray, ids: np.ndarray) -> None:
        """Insert fingerprints ``fps`` (none present) with their state ``ids``."""
        if fps.size == 0:
            return
        o = np.argsort(fps, kind="stable")
        self.runs.append((fps[o], ids[o].astype(np.int64)))
        self.in_runs += fps.shape[0]
        if self.in_runs > max(1 << 16, self.fps.shape[0] >> 3) or len(self.runs) > 32:
            fps = np.concatenate([self.fps] + [r[0] for r in self.runs])
            ids = np.concatenate([self.ids] + [r[1] for r in self.runs])
            o = np.argsort(fps, kind="stable")
            self.fps, self.ids = long_lived_copy(fps[o]), long_lived_copy(ids[o])
            self.runs, self.in_runs = [], 0
