"""Split layout breaks (issue 11): the hole punch (``punch_hole``, xfs_break_layouts and
xfs_free_file_space) and the O_DIRECT read whose get_user_pages pins it must wait for
(``dio_read``), declared with the public :class:`~daxcheck.spec.ops.split.Step` API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import dax, views, xfs_iomap
from ..state import HOLE, MM_NONE, PTE_RW
from ..vocab import And, If, Not, Or, draft, require, select, store, when
from .common import per_mapping
from .race_faults import fault_mmaplock
from .split import DONE, SplitOp, Step, bunmapi_unless_hole, drop_locks, split


@split
@dataclass(frozen=True)
class PunchHole(SplitOp):
    """fallocate(FALLOC_FL_PUNCH_HOLE) of block ``idx`` of ``file`` split at its locks
    (xfs_file_fallocate → xfs_break_layouts → xfs_free_file_space): ``xfs_ilock``
    (XFS_IOLOCK_EXCL, the inode's i_rwsem, and XFS_MMAPLOCK_EXCL, each when the design
    takes it); ``dax_layout_busy_page`` (with the
    design's unmap, unmap_mapping_range of the range first, so that a new get_user_pages
    must fault and block on MMAPLOCK; then look for a pinned page: none → go on; one →
    sleep in ``xfs_wait_dax_page`` until it is idle, either holding MMAPLOCK or, as
    xfs_break_dax_layouts does, dropping it and retaking it in ``xfs_relock`` before looking
    again); ``xfs_flush_unmap_range`` (write back, unmap and delete the DAX entry, waiting
    for its entry lock: truncate_pagecache_range); ``xfs_bunmapi`` (free the block);
    ``xfs_iunlock`` (drop MMAPLOCK and i_rwsem; a wait for a busy page drops only
    MMAPLOCK).  Between the last two a fault that does not take MMAPLOCK maps the block
    again.  Disabled on a hole and on a sealed inode.  (The split runs the two halves of
    the ``xfs_free_file_space`` hook, the ``xfs_flush_unmap_range`` and ``xfs_bunmapi``
    hooks, as separate steps, so a variant overriding either reaches both paths.)"""

    name: ClassVar[str] = "punch_hole"
    HOLDS: ClassVar[tuple] = ("io-excl", "mmap-excl")
    STEPS: ClassVar[tuple] = (
        Step("xfs_ilock", takes=lambda op, D, L: op.ilocks(D, L)),
        Step("dax_layout_busy_page"),
        Step("xfs_wait_dax_page", waits=("pin",)),
        Step("xfs_relock", takes=lambda op, D, L: op._mmap(D)),
        Step("xfs_flush_unmap_range", waits=("entry",)),
        Step("xfs_bunmapi"),
        Step("xfs_iunlock", drops=lambda op, D, L: op.ilocks(D, L)),
    )
    RETRY: ClassVar[frozenset] = frozenset({3})
    NEXT: ClassVar[dict] = {1: (2, 4), 2: (3, 4), 3: (1,)}
    thread: int
    file: int
    idx: int
    step: int

    def _mmap(self, D):
        return ("mmap-excl",) if D.xfs_ilock_mmaplock("punch") else ()

    def ilocks(self, D, L):
        """What xfs_file_fallocate takes: i_rwsem, MMAPLOCK (each when the design does)."""
        return locks.atomic_needs(D, L, "punch", self.file, me=self.thread)

    def xfs_ilock(self, m, L, D, s):
        f, x = self.file, self.idx
        if not require(
            And(s[L.ext_kind[f][x]] != HOLE, Not(D.is_iomap_immutable(L, s, f, "punch")))
        ):
            return None
        return draft(s), 1

    def dax_layout_busy_page(self, m, L, D, s):
        f, x, t = self.file, self.idx, self.thread
        d = draft(s)
        if D.dax_layout_busy_page_unmaps():
            D.unmap_mapping_pages(L, d, f, x)
        busy = D.dax_layout_busy_page(L, d, f, x)
        if D.xfs_wait_dax_page_drops_lock():
            when(d, busy, lambda d: drop_locks(L, d, self.resolve(self._mmap(D), D, L), t))
        return d, If(busy, 2, 4)

    def xfs_wait_dax_page(self, m, L, D, s):
        """Sleep until the page is idle (wait_var_event on its refcount)."""
        return draft(s), (3 if D.xfs_wait_dax_page_drops_lock() else 4)

    def xfs_relock(self, m, L, D, s):
        """Retake MMAPLOCK and look for busy pages again (the retry loop)."""
        return draft(s), 1

    def xfs_flush_unmap_range(self, m, L, D, s):
        f, x = self.file, self.idx
        d = draft(s)
        D.xfs_flush_unmap_range(L, d, f, x)
        return d, 5

    def xfs_bunmapi(self, m, L, D, s):
        d = draft(s)
        bunmapi_unless_hole(L, D, s, d, self.file, self.idx)
        return d, 6

    def xfs_iunlock(self, m, L, D, s):
        """Drop what ``xfs_ilock`` took (the step's declared ``drops``)."""
        return draft(s), DONE

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f, idx=x) for f in L.files for x in L.blks]


@split
@dataclass(frozen=True)
class DioRead(SplitOp):
    """An O_DIRECT read(2) into a buffer that is process ``proc``'s MAP_SHARED DAX mapping of
    ``file`` indices 0 and 1 (xfstests generic/503's t_mmap_collision), split at its locks:
    steps ``gup_page0`` and ``gup_page1`` (get_user_pages pins each page: through its
    writable PTE (the fast path), or the slow path faults it in first, which takes
    XFS_MMAPLOCK_SHARED (xfs_filemap_fault) and so waits while a hole punch holds it
    exclusive; beyond EOF the fault fails after taking MMAPLOCK and the read returns EFAULT
    without DMA), step ``dio_complete`` (unless it failed, the device writes the data read,
    token t1, into every page this thread pinned; the pins are dropped: unpin_user_pages).
    The pins belong to the thread (``pin_holder``); the atomic ``dma`` completes only pins
    no thread holds."""

    name: ClassVar[str] = "dio_read"
    HOLDS: ClassVar[tuple] = ("pin",)
    STEPS: ClassVar[tuple] = (
        Step("gup_page0", waits=fault_mmaplock),
        Step("gup_page1", waits=fault_mmaplock),
        Step("dio_complete"),
    )
    thread: int
    proc: int
    file: int
    step: int

    def blocked_by(self, D, L, s, u):
        """A get_user_pages step waits for MMAPLOCK only when its page has no writable PTE
        (the slow path's fault takes it before it checks anything else)."""
        if self.step in (0, 1):
            fast = s[L.pte_kind[self.proc][self.file][self.step]] == PTE_RW
            return And(Not(fast), super().blocked_by(D, L, s, u))
        return super().blocked_by(D, L, s, u)

    def locked_out(self, D, L, s, u):
        """Never: the waits are conditional (a writable PTE lets the step through)."""
        return False

    def lock_guard(self, D, L, s):
        """A get_user_pages step needs MMAPLOCK free only on the slow path (no writable
        PTE: it must fault the page in)."""
        if self.step in (0, 1):
            fast = s[L.pte_kind[self.proc][self.file][self.step]] == PTE_RW
            return Or(fast, super().lock_guard(D, L, s))
        return super().lock_guard(D, L, s)

    def _gup(self, L, D, s, x):
        n, f, t = self.proc, self.file, self.thread
        fast = s[L.pte_kind[n][f][x]] == PTE_RW
        plan, ok = xfs_iomap.write_plan(D, L, draft(s), f, x, "fault")
        d = draft(s)
        failed = s[L.th_kind[t]] == 1 if x else False
        faultable = And(
            Not(fast), Not(failed), s[L.mmap_mode[n][f]] != MM_NONE, x < s[L.size[f]], ok
        )

        def fault(d):
            xfs_iomap.write_effects(D, L, d, f, x, (), "fault", plan)
            dax.break_pmd(D, L, d, f)  # grab_mapping_entry's PMD downgrade
            dax.dax_insert_pfn(D, L, d, n, f, x, True)

        when(d, faultable, fault)
        p = d[L.pte_pfn[n][f][x]]
        got = And(Not(failed), Or(fast, faultable), select(d, L.pinned, p) == 0)

        def pin(d):
            store(d, L.pinned, p, 1)
            store(d, L.pin_holder, p, t + 1)
            store(d, L.pin_file, p, f)
            store(d, L.pin_idx, p, x)

        when(d, got, pin)
        d[L.th_kind[t]] = If(got, 0, 1)
        return d

    def gup_page0(self, m, L, D, s):
        d = self._gup(L, D, s, 0)
        return None if d is None else (d, 1)

    def gup_page1(self, m, L, D, s):
        d = self._gup(L, D, s, 1)
        return None if d is None else (d, 2)

    def dio_complete(self, m, L, D, s):
        t = self.thread
        d = draft(s)
        dma = s[L.th_kind[t]] == 0
        for p in L.phys:
            mine = s[L.pin_holder[p]] == t + 1

            def write(d, p=p):
                pf, pi = d[L.pin_file[p]], d[L.pin_idx[p]]
                for f, x in L.file_blks:  # the DMA wrote the data read (t1) there
                    when(
                        d,
                        And(pf == f, pi == x),
                        lambda d, f=f, x=x: [views.wrote(L, d, f, x, g, 1) for g in L.segs],
                    )
                for g in L.segs:
                    d[L.media[p][g]] = 1
                    d[L.cache[p][g]] = 0

            def unpin(d, p=p):
                for o in (L.pinned[p], L.pin_holder[p], L.pin_file[p], L.pin_idx[p]):
                    d[o] = 0

            when(d, And(mine, dma), write)
            when(d, mine, unpin)
        return d, DONE

    @classmethod
    def op_instances(cls, L, D):
        return per_mapping(L)
