"""The concrete executor's byte-level effects of the ``races`` family (spec/ops/races.py).

The family: the split race steps of issue 11.

:class:`RacesOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from daxcheck.spec.state import HOLE, PTE_RW


@dataclass(frozen=True)
class WriteFault:
    """The arguments of a write fault, for a split step that faults a page in."""

    proc: int
    file: int
    idx: int
    write: bool = True


class RacesOps:
    """The data effects of the races family (mixin of ConcreteExecutor)."""

    def _do_dax_fault(self, a, s, ns):
        pass  # a read fault maps pages, a private write fault copies into DRAM

    def _do_dax_pmd_fault(self, a, s, ns):
        pass  # maps the huge zero page

    def _do_dax_write_fault(self, a, s, ns):
        """->iomap_begin's data side (a hole allocated zeroed, an unwritten extent converted,
        a shared one CoW'd: as the atomic write fault), and ``dax_iomap_zero``'s zeroing of
        the block ->iomap_begin reported new (the thread's ``th_pblk``)."""
        L, step, t = self.L, a.STEPS[a.step], a.thread
        if step == "iomap_begin":
            self._begin_write(s, ns, a.file, a.idx, ())
        elif step == "dax_iomap_zero" and s[L.th_kind[t]] == 1:
            self._zero_block(s[L.th_pblk[t]])

    def _do_dax_mkwrite(self, a, s, ns):
        pass  # tags the entry dirty, makes the PTE writable: no data moves

    def _split_free(self, s, step, f, xs, flush, free):
        """A split hole punch or truncate of ``f``'s indices ``xs``: at step ``flush`` their
        dirty entries are written back, at step ``free`` their allocated blocks read zeros."""
        for x in xs:
            if step == flush:
                self._writeback_entry(s, f, x)
            elif step == free and s[self.L.ext_kind[f][x]] != HOLE:
                self._zeroed(f, x)

    def _do_punch_hole(self, a, s, ns):
        self._split_free(
            s, a.STEPS[a.step], a.file, (a.idx,), "xfs_flush_unmap_range", "xfs_bunmapi"
        )

    def _do_setattr_size(self, a, s, ns):
        self._split_free(
            s,
            a.STEPS[a.step],
            a.file,
            [x for x in self.L.blks if x >= a.size],
            "truncate_pagecache",
            "xfs_itruncate_extents",
        )

    def _do_dio_read(self, a, s, ns):
        """get_user_pages' slow path faults the page in like a write fault; at completion
        the device writes the data read (t1) into the pages this thread pinned."""
        L, step = self.L, a.STEPS[a.step]
        if (
            step in ("gup_page0", "gup_page1")
            and s[L.pte_kind[a.proc][a.file][a.step]] != PTE_RW
            and ns[L.pte_kind[a.proc][a.file][a.step]] == PTE_RW
        ):
            self._do_fault(WriteFault(a.proc, a.file, a.step), s, ns)
        elif step == "dio_complete" and s[L.th_kind[a.thread]] == 0:
            for p in L.phys:
                if s[L.pin_holder[p]] == a.thread + 1:
                    self._dma_into(s, p, 1)
