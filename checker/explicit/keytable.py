"""Exact tables from a state's projection on a set of columns (a read set) to an entry id.

The memo of the batched explorer: an action's successor (and a property conjunct's value)
depends only on the state's projection on its read set R, so the explorer keeps one
:class:`KeyTable` per distinct R and, per table entry, what each action of that R does.
Keys are taken from bit-packed states (:mod:`.packing`): the words R touches, each masked
to R's bits, compared exactly (never a hash alone).  A key of at most
:data:`DIRECT_BITS` bits is gathered into a dense integer and indexes an array directly;
larger keys go through an open-addressed hash table with linear probing, vectorised over
all rows of a chunk.
"""

from __future__ import annotations

import numpy as np

from .memory import grow, long_lived
from .packing import Packing

U64 = np.uint64
DIRECT_BITS = 16
_M1, _M2, _M3 = U64(0x9E3779B97F4A7C15), U64(0xBF58476D1CE4E5B9), U64(0x94D049BB133111EB)


class KeyTable:
    """Entry ids of the distinct projections of states on columns ``cols`` under
    ``packing``.  ``len(table)`` is the number of entries; ids are dense from 0.

    ``keys(words)`` computes the keys of a ``(nw, n)`` chunk; ``lookup(keys)`` gives an
    int32 entry id per row (-1: not yet in the table); ``add(keys, rows)`` adds the keys of
    the given rows (distinct, absent) and returns their new ids; ``distinct(keys, rows)``
    picks one row per distinct key among ``rows``.
    """

    def __init__(self, packing: Packing, cols):
        self.cols = tuple(cols)
        masks = packing.word_masks(self.cols)
        self.parts = tuple(sorted(masks.items()))
        bits = sum(packing.bits[c] for c in self.cols)
        self.direct = bits <= DIRECT_BITS
        self.n = 0
        if self.direct:
            runs, pos = [], 0
            for w, m in self.parts:
                b = 0
                while m >> b:
                    if (m >> b) & 1:
                        e = b
                        while (m >> e) & 1:
                            e += 1
                        runs.append((w, U64(b), U64((1 << (e - b)) - 1), U64(pos)))
                        pos += e - b
                        b = e
                    else:
                        b += 1
            self.runs = tuple(runs)
            self.slots = np.full(1 << bits, -1, dtype=np.int32)
        else:
            self.tbits = 10
            self.slots = np.full(1 << self.tbits, -1, dtype=np.int32)
            self.stored = [np.zeros(1024, dtype=U64) for _ in self.parts]

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        """Bytes of the slots and, for a hashed table, the stored keys."""
        return self.slots.nbytes + (0 if self.direct else sum(st.nbytes for st in self.stored))

    # ------------------------------------------------------------------ keys
    def keys(self, words: np.ndarray):
        """Keys of the ``(nw, n)`` chunk ``words``: a dense int64 array (direct tables) or
        ``(hash, [masked words])``."""
        if self.direct:
            if not self.runs:
                return np.zeros(words.shape[1], dtype=np.int64)
            k = None
            for w, sh, m, pos in self.runs:
                x = ((words[w] >> sh) & m) << pos
                k = x if k is None else (k | x)
            return k.astype(np.int64)
        kws = [words[w] & U64(m) for w, m in self.parts]
        return _mix(kws), kws

    @staticmethod
    def take(keys, rows):
        """The keys of the given rows only."""
        if isinstance(keys, tuple):
            return keys[0][rows], [x[rows] for x in keys[1]]
        return keys[rows]

    # ------------------------------------------------------------------ lookup
    def lookup(self, keys) -> np.ndarray:
        """Entry id per row (int32), -1 where the key is not in the table."""
        if self.direct:
            return self.slots[keys]
        h, kws = keys
        n = h.shape[0]
        out = np.full(n, -1, dtype=np.int32)
        if self.n == 0 or n == 0:
            return out
        mask = (1 << self.tbits) - 1
        slot = (h >> U64(64 - self.tbits)).astype(np.int64)
        idx = np.arange(n)
        while idx.size:
            e = self.slots[slot]
            full = e >= 0
            hit = full.copy()
            for st, x in zip(self.stored, kws):
                hit &= st[e] == x
            out[idx[hit]] = e[hit]
            go = full & ~hit
            if not go.any():
                break
            idx, slot = idx[go], (slot[go] + 1) & mask
            kws = [x[go] for x in kws]
        return out

    def distinct(self, keys, rows: np.ndarray) -> np.ndarray:
        """One row (the first) of each distinct key among ``rows`` (an index array); for a
        hashed table, rows whose keys share a hash but differ are split by the next
        :meth:`lookup` (the caller loops until nothing is missing)."""
        k = self.take(keys, rows)
        k = k[0] if isinstance(k, tuple) else k
        order = np.argsort(k, kind="stable")
        sk = k[order]
        first = np.ones(sk.shape[0], dtype=bool)
        first[1:] = sk[1:] != sk[:-1]
        return rows[np.sort(order[first])]

    # ------------------------------------------------------------------ sharing
    def export(self, lo: int):
        """The keys of entries ``lo..len(self)-1`` in id order, in a form another table
        on the same columns and packing takes back with :meth:`keys_of`: a list of arrays,
        the dense int64 keys (direct tables) or one uint64 array per key word."""
        if self.direct:
            k = np.flatnonzero(self.slots >= lo)
            return [k[np.argsort(self.slots[k], kind="stable")].astype(np.int64)]
        return [st[lo : self.n].copy() for st in self.stored]

    def keys_of(self, exported):
        """The keys (as :meth:`keys` returns them) of what :meth:`export` gave."""
        if self.direct:
            return exported[0]
        return _mix(exported), exported

    # ------------------------------------------------------------------ insert
    def add(self, keys, rows: np.ndarray) -> np.ndarray:
        """Add the keys of ``rows`` (pairwise distinct, none in the table); returns their ids."""
        m = rows.shape[0]
        ids = np.arange(self.n, self.n + m, dtype=np.int32)
        if self.direct:
            self.slots[keys[rows]] = ids
            self.n += m
            return ids
        h, kws = self.take(keys, rows)
        need = self.n + m
        if need > self.stored[0].shape[0]:
            cap = max(need, self.stored[0].shape[0] * 3 // 2)
            self.stored = [grow(st, cap) for st in self.stored]
        for st, x in zip(self.stored, kws):
            st[self.n : need] = x
        self.n = need
        if 2 * self.n > (1 << self.tbits):
            self._rehash(self.n)
        else:
            self._place(h, ids)
        return ids

    def _rehash(self, n):
        while 2 * n > (1 << self.tbits):
            self.tbits += 1
        self.slots = long_lived(1 << self.tbits, np.int32)
        self.slots[:] = -1
        ids = np.arange(n, dtype=np.int32)
        self._place(_mix([st[ids] for st in self.stored]), ids)

    def _place(self, h, ids):
        mask = (1 << self.tbits) - 1
        slot = (h >> U64(64 - self.tbits)).astype(np.int64)
        while ids.size:
            free = self.slots[slot] < 0
            s, i = slot[free], ids[free]
            self.slots[s] = i
            won = np.zeros(ids.shape[0], dtype=bool)
            won[np.flatnonzero(free)[self.slots[s] == i]] = True
            ids, slot = ids[~won], (slot[~won] + 1) & mask


def _mix(kws):
    """A 64-bit hash of the masked key words ``kws`` (one uint64 array each)."""
    h = kws[0] * _M1
    for x in kws[1:]:
        h = (h ^ x) * _M2
    h ^= h >> U64(31)
    h *= _M3
    h ^= h >> U64(29)
    return h
