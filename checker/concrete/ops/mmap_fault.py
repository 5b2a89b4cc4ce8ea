"""The concrete executor's byte-level effects of the ``mmap_fault`` family (spec/ops/mmap_fault.py).

The family: mmap(2), munmap(2), faults through a mapping, stores and cache flushes.

:class:`MmapFaultOps` is a mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`:
one ``_do_<action name>(a, s, ns)`` method per action of the family (``a`` the action,
``s``/``ns`` the abstract pre- and post-state), dispatched by
:meth:`~daxcheck.checker.concrete.executor.ConcreteExecutor.step`.  The methods use the
executor's data primitives (``seg_off``, ``_begin_write``, ``_writeback_entry``, ...).
"""

from __future__ import annotations

from daxcheck.spec.state import MM_PRIVATE, MM_SYNC, PTE_ANON

from ..pmem import BLOCK


class MmapFaultOps:
    """The data effects of the mmap fault family (mixin of ConcreteExecutor)."""

    def _do_mmap(self, a, s, ns):
        pass

    def _do_munmap(self, a, s, ns):
        pass

    def _do_mmap_private(self, a, s, ns):
        pass

    def _do_pmd_fault(self, a, s, ns):
        pass  # maps the huge zero page or the pages read-only: no pmem data touched

    def _synced(self, s, ns, f) -> bool:
        """The step forced the log with a change of ``f``'s journaled map or size."""
        L = self.L
        return (
            any(s[o] != ns[o] for y in L.blks for o in (L.jext_kind[f][y], L.jext_pblk[f][y]))
            or s[L.jsize[f]] != ns[L.jsize[f]]
        )

    def _do_fault(self, a, s, ns):
        if not a.write:
            return
        L, f, x = self.L, a.file, a.idx
        if s[L.mmap_mode[a.proc][f]] == MM_PRIVATE:
            return  # dax_fault_cow_page copies into an anonymous (DRAM) page
        self._begin_write(s, ns, f, x, ())
        # MAP_SYNC: dax_finish_sync_fault fsyncs when IOMAP_F_DIRTY (the inode's journal
        # changed in this step); its writeback sees the entry as it was unless
        # ->iomap_begin moved or converted the extent (which invalidated the entry).
        if s[L.mmap_mode[a.proc][f]] == MM_SYNC and self._synced(s, ns, f):
            same = (s[L.ext_kind[f][x]], s[L.ext_pblk[f][x]]) == (
                ns[L.ext_kind[f][x]],
                ns[L.ext_pblk[f][x]],
            )
            if same:
                self._writeback_entry(s, f, x)

    def _do_store(self, a, s, ns):
        L = self.L
        if s[L.pte_kind[a.proc][a.file][a.idx]] == PTE_ANON:
            return  # a MAP_PRIVATE anonymous page is DRAM, not pmem
        b = s[L.pte_pfn[a.proc][a.file][a.idx]]
        self.pmem.store(
            self.seg_off(b, a.seg),
            self.codec.data_segment(a.token, a.file, a.idx, a.seg, self.step_no, "store"),
        )
        self.written[(a.file, a.idx, a.seg)].add(a.token)
        self.last[(a.file, a.idx, a.seg)] = a.token

    def _do_flush(self, a, s, ns):
        b = s[self.L.pte_pfn[a.proc][a.file][a.idx]]
        self.pmem.persist(b * BLOCK, BLOCK)

    def _do_pmd_write_fault(self, a, s, ns):
        # No pmem data is touched: the PMD maps written pages writable.  MAP_SYNC with
        # IOMAP_F_DIRTY: dax_finish_sync_fault fsyncs the range first.
        L, f = self.L, a.file
        if s[L.mmap_mode[a.proc][f]] == MM_SYNC and self._synced(s, ns, f):
            for x in L.blks:
                self._writeback_entry(s, f, x)
