"""Split operations: kernel operations as interleavable, lock-delimited steps (issue 11).

An operation that races in the kernel's history is split at the points where the kernel
takes or drops a lock or may sleep.  Each step is an ordinary action, one instance per
(thread, operation arguments, step): ``dax_fault(thread=T0, proc=P0, file=a, idx=0,
write=false, step=1)``.  Thread ``t``'s program counter lives in the state (``th_op``:
the operation, ``th_pc``: its next step, ``th_file``/``th_idx``/``th_proc``: its arguments,
``th_pblk``/``th_kind``: what an earlier step looked up, all 0 when idle), so a step is
enabled when its thread is at that step of that operation with those arguments and the
locks the step needs are free (:mod:`daxcheck.spec.locks`).  Every step is written in the
vocabulary like every other transition: the Z3 engine, the taint analysis (the read/write
sets the partial-order reduction takes its independence relation from) and replay need
no special case.  Operations that are not split stay atomic actions whose guard requires
the locks they would take to be free (:func:`daxcheck.spec.locks.atomic_guard`).

The lock discipline of each step is a :class:`~daxcheck.spec.designs.Design` hook (take
MMAPLOCK or not, lock the entry before or after ->iomap_begin, recheck the page table
under the entry lock, unmap before looking for busy pages, drop MMAPLOCK while waiting),
so a fix and the bug before it are a design pair (:mod:`daxcheck.spec.race_designs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import dax, views, xfs_iomap
from ..locks import Need
from ..state import (
    EXT_NAMES,
    HOLE,
    MM_NONE,
    MM_PRIVATE,
    MM_SHARED,
    MM_SYNC,
    ORDER_PMD,
    PTE_ANON,
    PTE_NONE,
    PTE_RO,
    PTE_RW,
    PTE_ZERO,
    WRITTEN,
    XA_EMPTY,
    XA_PFN,
    XA_ZERO,
    FieldSpec,
)
from ..vocab import And, If, Not, Or, draft, require, select, store, when
from .common import per_mapping
from .split import (
    DONE,
    LOCK_FIELDS,
    SPLIT_FAMILIES,
    SplitOp,
    WaitCycle,
    bunmapi_unless_hole,
    cycles,
    drop_locks,
    split,
    take_locks,
    thread_offsets,
    waits_for,
)


# ============================================================================ page faults
@split
@dataclass(frozen=True)
class DaxFault(SplitOp):
    """A 4 KiB page fault split at its locks (dax_iomap_pte_fault): step
    ``xfs_filemap_fault`` (handle_pte_fault found no PTE under a non-huge PMD; with the
    design's MMAPLOCK the fault takes XFS_MMAPLOCK_SHARED; dax_iomap_pte_fault checks the
    offset against i_size, "a reliable test" only because that lock serialises it with
    truncate and hole punch), step ``iomap_begin`` (if the design locks the DAX entry
    first, grab_mapping_entry locks it; then ->iomap_begin looks the block up and the
    thread remembers it), step ``finish_fault`` (the entry is locked now if it was not,
    waiting in wait_entry_unlocked; the design may recheck the PMD under the entry lock;
    under the page-table lock a PTE is installed only over pte_none: the looked-up
    block's pfn read-only, the zero page for a hole, or for a write fault on a
    MAP_PRIVATE mapping a copy in an anonymous page (dax_fault_cow_page)), step
    ``dax_unlock_entry`` (the entry lock and MMAPLOCK are dropped: dax_unlock_entry,
    xfs_iunlock).  ``write`` faults are split only on MAP_PRIVATE mappings (no allocation);
    shared write faults stay the atomic ``fault``."""

    name: ClassVar[str] = "dax_fault"
    HOLDS: ClassVar[tuple] = ("entry", "mmap-shared")
    STEPS: ClassVar[tuple] = (
        "xfs_filemap_fault",
        "iomap_begin",
        "finish_fault",
        "dax_unlock_entry",
    )
    FLAGS: ClassVar[tuple] = ("write",)
    thread: int
    proc: int
    file: int
    idx: int
    write: bool
    step: int

    def needs(self, D, L, step):
        f, x, t = self.file, self.idx, self.thread
        out = []
        first = D.dax_fault_grab_entry_first()
        if step == 0 and D.xfs_ilock_mmaplock("fault"):
            out.append(Need("mmap-shared", f, 0, t))
        elif step == 1 and first or step == 2 and not first:
            out.append(Need("entry", f, x, t))
        return tuple(out)

    def held(self, D, L):
        """Locks held after ``finish_fault`` (dropped by ``dax_unlock_entry``)."""
        return self.needs(D, L, 0) + self.needs(D, L, 1) + self.needs(D, L, 2)

    def xfs_filemap_fault(self, m, L, D, s):
        n, f, x, t = self.proc, self.file, self.idx, self.thread
        mm = s[L.mmap_mode[n][f]]
        pk = s[L.pte_kind[n][f][x]]
        want = And(mm == MM_PRIVATE, pk != PTE_ANON) if self.write else pk == PTE_NONE
        if not require(And(mm != MM_NONE, x < s[L.size[f]], want)):
            return None
        d = draft(s)
        take_locks(L, d, self.needs(D, L, 0), t)
        return d, 1

    def iomap_begin(self, m, L, D, s):
        t = self.thread
        d = draft(s)
        take_locks(L, d, self.needs(D, L, 1), t)
        d[L.th_pblk[t]] = s[L.ext_pblk[self.file][self.idx]]
        d[L.th_kind[t]] = s[L.ext_kind[self.file][self.idx]]
        return d, 2

    def finish_fault(self, m, L, D, s):
        n, f, x, t = self.proc, self.file, self.idx, self.thread
        d = draft(s)
        take_locks(L, d, self.needs(D, L, 2), t)
        collide = D.dax_pte_fault_pmd_collision(L, s, n, f)
        pk = s[L.pte_kind[n][f][x]]
        if self.write:

            def cow(d):  # dax_fault_cow_page on the PTE path: no PMD split
                for g in L.segs:
                    d[L.anon[n][f][x][g]] = views.file_view(L, d, f, x, g)
                d[L.pte_kind[n][f][x]] = PTE_ANON
                d[L.pte_pfn[n][f][x]] = 0

            when(d, And(Not(collide), pk != PTE_ANON), cow)
        else:
            p = s[L.th_pblk[t]]
            written = s[L.th_kind[t]] == WRITTEN

            def pfn(d):
                dax.break_pmd(D, L, d, f)
                shared = D.iomap_f_shared(L, d, f, x, "read")
                D.dax_insert_entry(L, d, f, x, p, False, shared)
                d[L.pte_kind[n][f][x]] = 1  # PTE_RO
                d[L.pte_pfn[n][f][x]] = p

            go = And(Not(collide), pk == PTE_NONE)
            when(d, And(go, written), pfn)
            when(
                d,
                And(go, Not(written)),
                lambda d: (dax.break_pmd(D, L, d, f), D.dax_load_hole(L, d, n, f, x)),
            )
        return d, 3

    def dax_unlock_entry(self, m, L, D, s):
        d = draft(s)
        drop_locks(L, d, self.held(D, L), self.thread)
        return d, DONE

    @classmethod
    def op_instances(cls, L, D):
        writes = (False, True) if D.has("mmap_private") else (False,)
        return [
            dict(proc=n, file=f, idx=x, write=w)
            for n in L.procs
            for f in L.files
            for x in L.blks
            for w in writes
        ]


@split
@dataclass(frozen=True)
class DaxMkwrite(SplitOp):
    """A write fault on a read-only PTE of a MAP_SHARED mapping split at its locks
    (dax_iomap_pfn_mkwrite, 4.9: dax_pfn_mkwrite then wp_pfn_shared): step
    ``dax_pfn_mkwrite`` (the DAX entry is tagged dirty, PAGECACHE_TAG_DIRTY, so fsync will
    flush it; the design holds the entry lock from here on, or takes it only around the
    tagging), step ``finish_mkwrite_fault`` (under the page-table lock the PTE, if it is
    still the read-only one, becomes writable; the entry lock is dropped).  Between the two,
    without the entry lock, dax_writeback_one can clean the entry and write-protect the
    (still read-only) PTE: the page then becomes writable with a clean entry, and the next
    fsync skips the stores made through it."""

    name: ClassVar[str] = "dax_mkwrite"
    HOLDS: ClassVar[tuple] = ("entry",)
    STEPS: ClassVar[tuple] = ("dax_pfn_mkwrite", "finish_mkwrite_fault")
    thread: int
    proc: int
    file: int
    idx: int
    step: int

    def needs(self, D, L, step):
        if step == 0:
            return (Need("entry", self.file, self.idx, self.thread),)
        return ()

    def _held(self, D):
        if D.dax_pfn_mkwrite_holds_entry_lock():
            return (Need("entry", self.file, self.idx, self.thread),)
        return ()

    def dax_pfn_mkwrite(self, m, L, D, s):
        n, f, x, t = self.proc, self.file, self.idx, self.thread
        mm = s[L.mmap_mode[n][f]]
        if not require(
            And(
                Or(mm == MM_SHARED, mm == MM_SYNC),
                s[L.pte_kind[n][f][x]] == PTE_RO,
                s[L.xa_kind[f][x]] == XA_PFN,
            )
        ):
            return None
        d = draft(s)
        take_locks(L, d, self._held(D), t)
        o = L.xa_dirty[f][x]
        d[o] = If(D.dax_mark_dirty(L, s, f), 1, d[o])
        return d, 1

    def finish_mkwrite_fault(self, m, L, D, s):
        n, f, x, t = self.proc, self.file, self.idx, self.thread
        d = draft(s)
        o = L.pte_kind[n][f][x]
        d[o] = If(d[o] == PTE_RO, PTE_RW, d[o])
        drop_locks(L, d, self._held(D), t)
        return d, DONE

    @classmethod
    def op_instances(cls, L, D):
        return [dict(proc=n, file=f, idx=x) for n in L.procs for f in L.files for x in L.blks]


@split
@dataclass(frozen=True)
class DaxPmdFault(SplitOp):
    """A PMD read fault over a hole split at its locks (dax_iomap_pmd_fault): step
    ``huge_fault`` (__handle_mm_fault found pmd_none: no PTE table and no PMD under the
    range, within EOF: it takes the huge-page path), step ``finish_pmd`` (grab_mapping_entry
    with PMD order locks the range's entries, waiting for each to be unlocked, and falls
    back on a conflicting 4 KiB entry (xas_find_conflict); ->iomap_begin must report a hole
    at least a PMD long; the design may recheck pmd_none under the entry lock; then the
    PMD zero page is mapped (dax_pmd_load_hole) over indices whose PTEs are none)."""

    name: ClassVar[str] = "dax_pmd_fault"
    STEPS: ClassVar[tuple] = ("huge_fault", "finish_pmd")
    thread: int
    proc: int
    file: int
    step: int

    def needs(self, D, L, step):
        if step == 1:
            return tuple(Need("entry", self.file, x, self.thread) for x in L.blks)
        return ()

    def huge_fault(self, m, L, D, s):
        n, f, B = self.proc, self.file, len(L.blks)
        if not require(
            And(s[L.mmap_mode[n][f]] != MM_NONE, s[L.size[f]] >= B, views.pmd_ptes_none(L, s, n, f))
        ):
            return None
        return draft(s), 1

    def finish_pmd(self, m, L, D, s):
        n, f, B = self.proc, self.file, len(L.blks)
        d = draft(s)
        ok = And(
            Not(D.xas_find_conflict(L, s, n, f)),
            s[L.ext_kind[f][0]] == HOLE,
            D.iomap_hole_length(L, s, f, 0, B) >= B,
            Not(D.dax_pmd_fault_pte_collision(L, s, n, f)),
        )

        def zero(d):
            for x in L.blks:
                free = d[L.xa_kind[f][x]] == XA_EMPTY
                d[L.xa_order[f][x]] = If(free, ORDER_PMD, d[L.xa_order[f][x]])
                d[L.xa_kind[f][x]] = If(free, XA_ZERO, d[L.xa_kind[f][x]])
                none = d[L.pte_kind[n][f][x]] == PTE_NONE
                d[L.pte_kind[n][f][x]] = If(none, PTE_ZERO, d[L.pte_kind[n][f][x]])
            d[L.pmd_zero[f]] = 1
            d[L.pmd_map[n][f]] = 1

        when(d, ok, zero)
        return d, DONE

    @classmethod
    def op_instances(cls, L, D):
        return per_mapping(L)


# ============================================================================ layout changes
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
        "xfs_ilock",
        "dax_layout_busy_page",
        "xfs_wait_dax_page",
        "xfs_relock",
        "xfs_flush_unmap_range",
        "xfs_bunmapi",
        "xfs_iunlock",
    )
    RETRY: ClassVar[frozenset] = frozenset({3})
    NEXT: ClassVar[dict] = {1: (2, 4), 2: (3, 4), 3: (1,)}
    thread: int
    file: int
    idx: int
    step: int

    def _mmap(self, D):
        if D.xfs_ilock_mmaplock("punch"):
            return (Need("mmap-excl", self.file, 0, self.thread),)
        return ()

    def needs(self, D, L, step):
        f, x, t = self.file, self.idx, self.thread
        if step == 0:  # what xfs_file_fallocate takes: i_rwsem, MMAPLOCK
            return locks.atomic_needs(D, L, "punch", f, me=t)
        if step == 3:
            return self._mmap(D)
        if step == 2:
            return (Need("pin", f, x, t),)
        if step == 4:
            return (Need("entry", f, x, t),)
        return ()

    def xfs_ilock(self, m, L, D, s):
        f, x = self.file, self.idx
        if not require(
            And(s[L.ext_kind[f][x]] != HOLE, Not(D.is_iomap_immutable(L, s, f, "punch")))
        ):
            return None
        d = draft(s)
        take_locks(L, d, self.needs(D, L, 0), self.thread)
        return d, 1

    def dax_layout_busy_page(self, m, L, D, s):
        f, x, t = self.file, self.idx, self.thread
        d = draft(s)
        if D.dax_layout_busy_page_unmaps():
            D.unmap_mapping_pages(L, d, f, x)
        busy = D.dax_layout_busy_page(L, d, f, x)
        if D.xfs_wait_dax_page_drops_lock():
            when(d, busy, lambda d: drop_locks(L, d, self._mmap(D), t))
        return d, If(busy, 2, 4)

    def xfs_wait_dax_page(self, m, L, D, s):
        """Sleep until the page is idle (wait_var_event on its refcount)."""
        return draft(s), (3 if D.xfs_wait_dax_page_drops_lock() else 4)

    def xfs_relock(self, m, L, D, s):
        """Retake MMAPLOCK and look for busy pages again (the retry loop)."""
        d = draft(s)
        take_locks(L, d, self._mmap(D), self.thread)
        return d, 1

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
        d = draft(s)
        drop_locks(L, d, self.needs(D, L, 0), self.thread)
        return d, DONE

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
    STEPS: ClassVar[tuple] = ("gup_page0", "gup_page1", "dio_complete")
    thread: int
    proc: int
    file: int
    step: int

    def needs(self, D, L, step):
        if step in (0, 1) and D.xfs_ilock_mmaplock("fault"):
            return (Need("mmap-shared", self.file, 0, self.thread),)
        return ()

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


@split
@dataclass(frozen=True)
class SetattrSize(SplitOp):
    """ftruncate(2) shrinking ``file`` to ``size`` blocks, split at its locks
    (xfs_vn_setattr_size → xfs_setattr_size): ``xfs_ilock`` (XFS_IOLOCK_EXCL and
    XFS_MMAPLOCK_EXCL, each when the design takes it for "truncate"), ``truncate_setsize``
    (i_size is lowered first, so a fault that checks it from now on gets SIGBUS),
    ``truncate_pagecache`` (each DAX entry past the new EOF is written back, unmapped and
    deleted, waiting for its entry lock: the ``xfs_flush_unmap_range`` hook),
    ``xfs_itruncate_extents`` (the blocks past EOF are freed: the ``xfs_bunmapi`` hook),
    ``xfs_iunlock``.  A fault that checked i_size before ``truncate_setsize`` and looks the
    block up after ``truncate_pagecache`` maps a block the next step frees, unless MMAPLOCK
    keeps it out.  Refused on a sealed inode; growing stays the atomic ``truncate``, and
    so does breaking the layouts of pinned pages (no pins in this operation's scopes)."""

    name: ClassVar[str] = "setattr_size"
    HOLDS: ClassVar[tuple] = ("io-excl", "mmap-excl")
    TH_ARGS: ClassVar[dict] = {"file": "file", "idx": "size"}
    STEPS: ClassVar[tuple] = (
        "xfs_ilock",
        "truncate_setsize",
        "truncate_pagecache",
        "xfs_itruncate_extents",
        "xfs_iunlock",
    )
    thread: int
    file: int
    size: int
    step: int

    def _gone(self, L):
        return [x for x in L.blks if x >= self.size]

    def needs(self, D, L, step):
        f, t = self.file, self.thread
        if step == 0:  # what xfs_vn_setattr_size takes: i_rwsem, MMAPLOCK
            return locks.atomic_needs(D, L, "truncate", f, me=t)
        if step == 2:
            return tuple(Need("entry", f, x, t) for x in self._gone(L))
        return ()

    def xfs_ilock(self, m, L, D, s):
        f = self.file
        if not require(
            And(Not(D.is_iomap_immutable(L, s, f, "truncate")), s[L.size[f]] > self.size)
        ):
            return None
        d = draft(s)
        take_locks(L, d, self.needs(D, L, 0), self.thread)
        return d, 1

    def truncate_setsize(self, m, L, D, s):
        d = draft(s)
        d[L.size[self.file]] = self.size
        # The data past the new EOF is gone for readers from here on, so a sync's promise
        # for it is withdrawn here, as the atomic truncate withdraws it (a crash or log
        # force before xfs_itruncate_extents may legitimately bring the blocks back).
        for x in self._gone(L):
            views.clear_promise(L, d, self.file, x)
        return d, 2

    def truncate_pagecache(self, m, L, D, s):
        d = draft(s)
        for x in self._gone(L):
            D.xfs_flush_unmap_range(L, d, self.file, x)
        return d, 3

    def xfs_itruncate_extents(self, m, L, D, s):
        f = self.file
        d = draft(s)
        for x in self._gone(L):
            bunmapi_unless_hole(L, D, s, d, f, x)
        return d, 4

    xfs_iunlock = PunchHole.xfs_iunlock  # drops what xfs_ilock took (needs of step 0)

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f, size=n) for f in L.files for n in range(len(L.blks))]


# ============================================================================ state
def _op_names():
    return ("idle",) + tuple(SPLIT_FAMILIES)


def _pcs(b):
    return range(max(len(c.STEPS) for c in SPLIT_FAMILIES.values()) + 1)


RACE_FIELDS = (
    FieldSpec(
        "th_op",
        ("thread",),
        "meta",
        _op_names(),
        "the split operation the kernel thread is in (idle = none)",
    ),
    FieldSpec("th_pc", ("thread",), "meta", None, "the thread's next step in its operation", _pcs),
    FieldSpec(
        "th_proc",
        ("thread",),
        "meta",
        None,
        "the operation's process argument",
        lambda b: range(b.procs),
    ),
    FieldSpec("th_file", ("thread",), "meta", "file", "the operation's file argument"),
    FieldSpec("th_idx", ("thread",), "meta", "blk", "the operation's file index argument"),
    FieldSpec(
        "th_flag",
        ("thread",),
        "meta",
        None,
        "the operation's flag argument (write)",
        lambda b: (0, 1),
    ),
    FieldSpec(
        "th_pblk",
        ("thread",),
        "meta",
        "pblk",
        "the physical block ->iomap_begin reported to an earlier step",
    ),
    FieldSpec(
        "th_kind",
        ("thread",),
        "meta",
        EXT_NAMES,
        "the extent state ->iomap_begin reported to an earlier step",
    ),
    FieldSpec(
        "xa_lock",
        ("file", "blk"),
        "xarray",
        "holder",
        "DAX_LOCKED: the thread holding the DAX entry lock (grab_mapping_entry)",
    ),
    FieldSpec(
        "mmap_excl",
        ("file",),
        "meta",
        "holder",
        "XFS_MMAPLOCK_EXCL / invalidate_lock held exclusive by",
    ),
    FieldSpec(
        "io_excl", ("file",), "meta", "holder", "i_rwsem (XFS_IOLOCK_EXCL) held across steps by"
    ),
    FieldSpec(
        "mmap_shared",
        ("file", "thread"),
        "meta",
        None,
        "XFS_MMAPLOCK_SHARED / invalidate_lock held shared by the thread",
        lambda b: (0, 1),
    ),
    FieldSpec(
        "pin_holder",
        ("phys",),
        "page",
        "holder",
        "the thread whose get_user_pages pin holds the page (0: a device's or none)",
    ),
)
"""The per-thread and lock fields, in every race design's states (after the shipped
fields) and in no other design's."""


__all__ = [
    "DONE",
    "LOCK_FIELDS",
    "RACE_FIELDS",
    "SPLIT_FAMILIES",
    "SplitOp",
    "WaitCycle",
    "cycles",
    "split",
    "thread_offsets",
    "waits_for",
    "DaxFault",
    "DaxMkwrite",
    "DaxPmdFault",
    "PunchHole",
    "DioRead",
    "SetattrSize",
]
