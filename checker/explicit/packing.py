"""Bit-packed states: a frontier of states as a few ``uint64`` words per state.

A state is ``bytes`` of ``L.width`` fields (0..255 each); most fields hold tiny values
(extent kinds 0..2, flags 0..1, block numbers 0..phys-1).  :class:`Packing` gives every
field (column) ``bits[c]`` bits inside one of ``nw`` 64-bit words (a column never straddles
two words; columns keep layout order, so a field's elements sit side by side).  A frontier
of ``n`` states is then a ``(nw, n)`` uint64 array: 3-4 words instead of 68 bytes for the
CoW designs, one word for the toy model.

Widths are not taken from the spec: they start from what the initial states need and
grow when a transition produces a value that does not fit (:meth:`Packing.widened`); the
explorer then repacks its frontier (:func:`repack`).  Nothing here knows field names: the
layout is only ``width`` columns.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64
UNPACK_BY_WORD = 2048
"""States below which :meth:`Packing.unpack_rows` extracts a word's columns at once."""


class Packing:
    """The word/shift of each of ``width`` columns for column widths ``bits`` (1..8 each).

    Attributes: ``width``, ``bits`` (tuple), ``nw`` (words per state), ``word[c]``,
    ``shift[c]`` (bit offset of column ``c`` inside its word), ``cap[c]`` (largest value the
    column holds: ``2**bits[c] - 1``).  Raises ValueError for a width outside 1..8.
    """

    def __init__(self, bits):
        self.bits = tuple(int(b) for b in bits)
        if any(not 1 <= b <= 8 for b in self.bits):
            raise ValueError(f"column widths must be 1..8 bits, got {self.bits}")
        self.width = len(self.bits)
        word, shift, w, used = [], [], 0, 0
        for b in self.bits:
            if used + b > 64:
                w, used = w + 1, 0
            word.append(w)
            shift.append(used)
            used += b
        self.nw = w + 1 if self.bits else 1
        self.word = tuple(word)
        self.shift = tuple(shift)
        self.cap = np.array([(1 << b) - 1 for b in self.bits], dtype=np.int64)
        self._words = None  # _by_word, computed on first use

    @classmethod
    def for_values(cls, maxvals) -> Packing:
        """The narrowest packing holding value ``maxvals[c]`` in column ``c``."""
        return cls([max(1, int(v).bit_length()) for v in maxvals])

    def widened(self, maxvals) -> Packing | None:
        """A packing whose columns also hold ``maxvals`` (per column), or None if this one
        already does."""
        need = [max(b, int(v).bit_length()) for b, v in zip(self.bits, maxvals)]
        return None if tuple(need) == self.bits else Packing(need)

    def mask(self, c: int) -> int:
        """Bits of column ``c`` inside its word, as a Python int."""
        return int(self.cap[c]) << self.shift[c]

    def word_masks(self, cols) -> dict:
        """``{word: mask}``: the bits the columns ``cols`` occupy, per word touched."""
        out = {}
        for c in cols:
            out[self.word[c]] = out.get(self.word[c], 0) | self.mask(c)
        return out

    def pack_rows(self, rows: np.ndarray) -> np.ndarray:
        """``(n, width)`` uint8 rows -> ``(nw, n)`` uint64 words.  The caller guarantees
        each value fits its column (see :meth:`fits`)."""
        n = rows.shape[0]
        out = np.zeros((self.nw, n), dtype=U64)
        for c in range(self.width):
            out[self.word[c]] |= rows[:, c].astype(U64) << U64(self.shift[c])
        return out

    def fits(self, rows: np.ndarray) -> bool:
        """Every value of ``(n, width)`` rows fits its column."""
        return rows.shape[0] == 0 or bool((rows.max(axis=0) <= self.cap).all())

    def column(self, words: np.ndarray, c: int) -> np.ndarray:
        """Column ``c`` of ``(nw, n)`` words as a uint64 array."""
        return (words[self.word[c]] >> U64(self.shift[c])) & U64(int(self.cap[c]))

    def unpack_rows(self, words: np.ndarray) -> np.ndarray:
        """``(nw, n)`` words -> ``(n, width)`` uint8 rows.  Below :data:`UNPACK_BY_WORD`
        states, one NumPy expression per word (the columns a word holds are contiguous);
        above, one per column, which writes ``out`` with less striding (measured on the
        96 columns of cow-single-iomap: per word 0.06 ms against 0.28 ms per column for
        one state, but 12 ms against 10 ms for 53,773 states)."""
        n = words.shape[1]
        out = np.empty((n, self.width), dtype=np.uint8)
        if n < UNPACK_BY_WORD:
            for w, lo, hi, shifts, caps in self._by_word():
                out[:, lo:hi] = (words[w, :, None] >> shifts) & caps
            return out
        for c in range(self.width):
            out[:, c] = self.column(words, c)
        return out

    def _by_word(self):
        """Per word: ``(word, first column, end column, shifts (1, k), caps (1, k))``."""
        if self._words is None:
            word = np.array(self.word)
            shift = np.array(self.shift, dtype=U64)
            cap = self.cap.astype(U64)
            self._words = []
            for w in range(self.nw):
                cols = np.flatnonzero(word == w)
                if cols.size:
                    self._words.append(
                        (w, int(cols[0]), int(cols[-1]) + 1, shift[None, cols], cap[None, cols])
                    )
        return self._words

    def pack_values(self, cols, values) -> dict:
        """``{word: packed}`` for columns ``cols`` holding ``values`` (``(len(cols), k)``
        int arrays): the bits to OR into each touched word."""
        out = {}
        for c, v in zip(cols, values):
            w = self.word[c]
            x = np.asarray(v).astype(U64) << U64(self.shift[c])
            out[w] = x if w not in out else out[w] | x
        return out


def repack(words: np.ndarray, old: Packing, new: Packing) -> np.ndarray:
    """``(old.nw, n)`` words re-encoded with ``new`` (same columns, wider or equal)."""
    n = words.shape[1]
    out = np.zeros((new.nw, n), dtype=U64)
    for c in range(old.width):
        out[new.word[c]] |= old.column(words, c) << U64(new.shift[c])
    return out
