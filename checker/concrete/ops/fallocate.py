"""The concrete executor's byte-level effects of the ``fallocate`` family (spec/ops/fallocate.py).

The family: fallocate(2) modes, sealing, hole punch and truncate.

:class:`FallocateOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations

from daxcheck.spec.state import WRITTEN


class FallocateOps:
    """The data effects of the fallocate family (mixin of ConcreteExecutor)."""

    def _do_fallocate(self, a, s, ns):
        pass  # XFS_BMAPI_PREALLOC: unwritten, not zeroed

    def _do_seal(self, a, s, ns):
        for x in self.L.blks:
            self._begin_write(s, ns, a.file, x, ())

    def _do_unshare(self, a, s, ns):
        self._begin_write(s, ns, a.file, a.idx, ())

    def _do_zero_range(self, a, s, ns):
        L, f, x = self.L, a.file, a.idx
        segs = tuple(range(a.lo, a.hi + 1))
        self._writeback_entry(s, f, x)
        for g in segs:
            self.last[(f, x, g)] = 0
        if len(segs) == len(L.segs) or ns[L.ext_kind[f][x]] != WRITTEN:
            return  # the block became unwritten (or already read zeros): no data moves
        self._begin_write(s, ns, f, x, segs)
        self._zero_segs(ns[L.ext_pblk[f][x]], segs)  # dax_zero_iter → dax_memzero

    def _shift_written(self, f, dst, src):
        for g in self.L.segs:
            self.written[(f, dst, g)] |= self.written[(f, src, g)]
            self.last[(f, dst, g)] = self.last[(f, src, g)]

    def _do_collapse_range(self, a, s, ns):
        L, f = self.L, a.file
        for y in range(a.idx, len(L.blks)):
            self._writeback_entry(s, f, y)
        self._zeroed(f, a.idx)
        for y in range(a.idx, len(L.blks) - 1):
            self._shift_written(f, y, y + 1)
        self._zeroed(f, len(L.blks) - 1)

    def _do_insert_range(self, a, s, ns):
        L, f = self.L, a.file
        for y in range(a.idx, len(L.blks)):
            self._writeback_entry(s, f, y)
        for y in range(len(L.blks) - 1, a.idx, -1):
            self._shift_written(f, y, y - 1)
        self._zeroed(f, a.idx)

    def _do_punch(self, a, s, ns):
        self._writeback_entry(s, a.file, a.idx)
        self._zeroed(a.file, a.idx)

    def _do_truncate(self, a, s, ns):
        for x in self.L.blks:
            if x >= a.size:
                self._writeback_entry(s, a.file, x)
                self._zeroed(a.file, x)
