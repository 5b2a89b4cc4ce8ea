"""Split page faults (issue 11): the 4 KiB fault (``dax_fault``), the write-protect fault
on a shared mapping (``dax_mkwrite``) and the PMD fault (``dax_pmd_fault``), each declared
with the public :class:`~daxcheck.spec.ops.split.Step` API a user file uses (see
:mod:`daxcheck.spec.ops.races`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..kernel import dax, views
from ..state import (
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
)
from ..vocab import And, If, Not, Or, draft, require, when
from .common import per_mapping
from .split import DONE, SplitOp, Step, split


def fault_mmaplock(op, D, L):
    """xfs_filemap_fault's XFS_MMAPLOCK_SHARED, when the design takes it."""
    return ("mmap-shared",) if D.xfs_ilock_mmaplock("fault") else ()


def entry_if(op, cond):
    """The operation's DAX entry lock when ``cond`` (a design decision), else nothing."""
    return ("entry",) if cond else ()


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
        Step("xfs_filemap_fault", takes=fault_mmaplock),
        Step("iomap_begin", takes=lambda op, D, L: entry_if(op, D.dax_fault_grab_entry_first())),
        Step(
            "finish_fault", takes=lambda op, D, L: entry_if(op, not D.dax_fault_grab_entry_first())
        ),
        Step("dax_unlock_entry", drops=lambda op, D, L: op.held(D, L)),
    )
    FLAGS: ClassVar[tuple] = ("write",)
    thread: int
    proc: int
    file: int
    idx: int
    write: bool
    step: int

    def held(self, D, L):
        """Locks held after ``finish_fault`` (dropped by ``dax_unlock_entry``)."""
        return self.needs(D, L, 0) + self.needs(D, L, 1) + self.needs(D, L, 2)

    def xfs_filemap_fault(self, m, L, D, s):
        n, f, x = self.proc, self.file, self.idx
        mm = s[L.mmap_mode[n][f]]
        pk = s[L.pte_kind[n][f][x]]
        want = And(mm == MM_PRIVATE, pk != PTE_ANON) if self.write else pk == PTE_NONE
        if not require(And(mm != MM_NONE, x < s[L.size[f]], want)):
            return None
        return draft(s), 1

    def iomap_begin(self, m, L, D, s):
        t = self.thread
        d = draft(s)
        d[L.th_pblk[t]] = s[L.ext_pblk[self.file][self.idx]]
        d[L.th_kind[t]] = s[L.ext_kind[self.file][self.idx]]
        return d, 2

    def finish_fault(self, m, L, D, s):
        n, f, x, t = self.proc, self.file, self.idx, self.thread
        d = draft(s)
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
        return draft(s), DONE

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
    STEPS: ClassVar[tuple] = (
        Step("dax_pfn_mkwrite", waits=("entry",), takes=lambda op, D, L: op._held(D)),
        Step("finish_mkwrite_fault", drops=lambda op, D, L: op._held(D)),
    )
    thread: int
    proc: int
    file: int
    idx: int
    step: int

    def _held(self, D):
        return entry_if(self, D.dax_pfn_mkwrite_holds_entry_lock())

    def dax_pfn_mkwrite(self, m, L, D, s):
        n, f, x = self.proc, self.file, self.idx
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
        o = L.xa_dirty[f][x]
        d[o] = If(D.dax_mark_dirty(L, s, f), 1, d[o])
        return d, 1

    def finish_mkwrite_fault(self, m, L, D, s):
        n, f, x = self.proc, self.file, self.idx
        d = draft(s)
        o = L.pte_kind[n][f][x]
        d[o] = If(d[o] == PTE_RO, PTE_RW, d[o])
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
    STEPS: ClassVar[tuple] = (
        Step("huge_fault"),
        Step("finish_pmd", waits=lambda op, D, L: [op.lock("entry", x) for x in L.blks]),
    )
    thread: int
    proc: int
    file: int
    step: int

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
