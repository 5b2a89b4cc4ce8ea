"""Mappings and page faults: mmap (MAP_SHARED, MAP_SYNC, MAP_PRIVATE), munmap, the 4 KiB
and PMD faults (:func:`~daxcheck.spec.kernel.dax.dax_iomap_pte_fault`,
:func:`~daxcheck.spec.kernel.dax.dax_iomap_pmd_fault`), userspace stores and cache flushes
through a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import pmem, views
from ..state import MM_NONE, MM_PRIVATE, MM_SHARED, MM_SYNC, PTE_ANON, PTE_NONE, PTE_RO, PTE_RW
from ..vocab import And, Or, draft, freeze, require, store, when
from .base import Action, action
from .common import per_inode_dax, per_mapping


@action
@dataclass(frozen=True)
class Mmap(Action):
    """mmap(MAP_SHARED) of ``file`` by process ``proc``; with ``sync``,
    mmap(MAP_SHARED_VALIDATE | MAP_SYNC) (4.15, only where ->mmap accepts it).  In a
    design whose MAP_SYNC puts the inode in userspace-sync mode (daxfile, seed 004) the
    inode enters that mode."""

    name: ClassVar[str] = "mmap"
    proc: int
    file: int
    sync: bool

    def apply(self, m, s):
        L, D = m.L, m.design
        o = L.mmap_mode[self.proc][self.file]
        if not require(And(s[o] == MM_NONE, per_inode_dax(D, L, s, self.file))):
            return None
        d = draft(s)
        d[o] = MM_SYNC if self.sync else MM_SHARED
        if self.sync and D.usync_mode:
            d[L.usync[self.file]] = 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        syncs = (False, True) if D.mmap_map_sync else (False,)
        return [cls(n, f, y) for n in L.procs for f in L.files for y in syncs]


@action
@dataclass(frozen=True)
class MmapPrivate(Action):
    """mmap(MAP_PRIVATE) of ``file`` by process ``proc``: reads fault in the file's pmem
    pages (or the zero page) read-only; a write fault copies the page into an anonymous
    page of the process (dax_fault_cow_page), which stores then change alone."""

    name: ClassVar[str] = "mmap_private"
    proc: int
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        o = L.mmap_mode[self.proc][self.file]
        if not require(And(s[o] == MM_NONE, per_inode_dax(D, L, s, self.file))):
            return None
        d = draft(s)
        d[o] = MM_PRIVATE
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f) for n in L.procs for f in L.files]


@action
@dataclass(frozen=True)
class Munmap(Action):
    """munmap of process ``proc``'s whole mapping of ``file`` (unmap_region → zap_page_range):
    its PMD and PTEs (and anonymous CoW pages) go; the DAX entries stay in the inode's
    xarray."""

    name: ClassVar[str] = "munmap"
    proc: int
    file: int

    def apply(self, m, s):
        L = m.L
        n, f = self.proc, self.file
        if not require(s[L.mmap_mode[n][f]] != MM_NONE):
            return None
        d = draft(s)
        d[L.pmd_map[n][f]] = 0
        for x in L.blks:
            d[L.pte_kind[n][f][x]] = PTE_NONE
            d[L.pte_pfn[n][f][x]] = 0
            for g in L.segs:
                d[L.anon[n][f][x][g]] = 0
        d[L.mmap_mode[n][f]] = MM_NONE
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f) for n in L.procs for f in L.files]


@action
@dataclass(frozen=True)
class Fault(Action):
    """A page fault on ``file`` index ``idx`` in process ``proc``'s mapping
    (dax_iomap_pte_fault → dax_fault_iter).  A read fault needs no PTE: a written extent gets a
    read-only pfn PTE, a hole or unwritten extent the zero page (dax_load_hole).  A write fault
    (no PTE, a read-only PTE via pfn_mkwrite, or the zero page) calls
    ->iomap_begin(IOMAP_WRITE), which allocates, converts or CoWs (see
    :func:`~daxcheck.spec.kernel.xfs_iomap.xfs_dax_write_iomap_begin`); on a MAP_SYNC mapping
    with IOMAP_F_DIRTY the fault returns VM_FAULT_NEEDDSYNC and dax_finish_sync_fault fsyncs
    before the writable PTE is set.  A write fault on a MAP_PRIVATE mapping copies the page
    into an anonymous page (dax_fault_cow_page).  Disabled beyond EOF (SIGBUS) or when not
    mapped."""

    name: ClassVar[str] = "fault"
    proc: int
    file: int
    idx: int
    write: bool

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f, x = self.proc, self.file, self.idx
        mm = s[L.mmap_mode[n][f]]
        pk = s[L.pte_kind[n][f][x]]
        want = And(pk != PTE_RW, pk != PTE_ANON) if self.write else pk == PTE_NONE
        vma = And(mm != MM_NONE, want, per_inode_dax(D, L, s, f), locks.atomic_guard(D, L, s, self))
        d = draft(s)
        if not D.dax_iomap_pte_fault(L, d, n, f, x, self.write, vma):
            return None
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [
            cls(n, f, x, w) for n in L.procs for f in L.files for x in L.blks for w in (False, True)
        ]


@action
@dataclass(frozen=True)
class PmdFault(Action):
    """A read fault served by one PMD over indices 0..blocks-1 (dax_iomap_pmd_fault).  The
    filesystem's ->iomap_begin reports the extent at index 0 and its length.  Over a hole
    at least a PMD long (design hook ``iomap_hole_length``: the true hole length with
    iomap, the requested length with get_block/buffer_head, seed 000) the PMD zero page is
    mapped (dax_pmd_load_hole); with ``pmd_pfn_entries``, over a written, PMD-aligned,
    physically contiguous extent the PMD maps the pmem pages read-only.  Falls back
    (disabled) unless the PMD lies within EOF, this process has no page table under the PMD
    (pmd_none) and the xarray has no conflicting entry in the range (hook
    ``xas_find_conflict``)."""

    name: ClassVar[str] = "pmd_fault"
    write: ClassVar[bool] = False
    """FAULT_FLAG_WRITE (:class:`PmdWriteFault`)."""
    proc: int
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f = self.proc, self.file
        vma = And(
            s[L.mmap_mode[n][f]] != MM_NONE,
            per_inode_dax(D, L, s, f),
            locks.atomic_guard(D, L, s, self),
        )
        d = draft(s)
        if not D.dax_iomap_pmd_fault(L, d, n, f, vma, write=self.write):
            return None
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(**a) for a in per_mapping(L)]


@action
@dataclass(frozen=True)
class PmdWriteFault(PmdFault):
    """A write fault served by one PMD over indices 0..blocks-1 (dax_iomap_pmd_fault with
    FAULT_FLAG_WRITE): on a range with no page table (create_huge_pmd) or on this process's
    read-only PMD (wp_huge_pmd -> huge_fault: the PMD mkwrite).  Over a written, unshared,
    PMD-aligned, physically contiguous extent the PMD entry is inserted (or found) and
    tagged dirty and the PMD maps the pages writable (a MAP_SYNC fault with IOMAP_F_DIRTY
    fsyncs first, dax_finish_sync_fault).  Falls back (disabled) on a MAP_PRIVATE mapping
    (the 4 KiB CoW fault splits the PMD, hook ``split_huge_pmd``), over any other extent, or
    when another entry is in the range.  Opt-in family: a design explores it only when
    ``pmd_write_fault`` is in its ``families`` (not in ``ALL_FAMILIES``)."""

    name: ClassVar[str] = "pmd_write_fault"
    write: ClassVar[bool] = True


@action
@dataclass(frozen=True)
class Store(Action):
    """A userspace store of ``token`` into segment ``seg`` of ``file`` index ``idx``
    through process ``proc``'s writable PTE: the data sits in the CPU cache (dirty line)
    until flushed or lost in a crash.  Through a MAP_PRIVATE anonymous page the store
    changes only that page."""

    name: ClassVar[str] = "store"
    free: ClassVar[tuple] = ("seg", "token")
    proc: int
    file: int
    idx: int
    seg: int
    token: int

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f, x, g, t = self.proc, self.file, self.idx, self.seg, self.token
        pk = s[L.pte_kind[n][f][x]]
        anon = (pk == PTE_ANON) if D.private_mappings else False
        if not require(Or(pk == PTE_RW, anon)):
            return None
        d = draft(s)

        def shared(d):
            store(d, L.cache_col[g], d[L.pte_pfn[n][f][x]], t)
            views.wrote(L, d, f, x, g, t)

        when(d, pk == PTE_RW, shared)
        if anon is not False:
            when(d, anon, lambda d: d.__setitem__(L.anon[n][f][x][g], t))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [
            cls(n, f, x, g, t)
            for n in L.procs
            for f in L.files
            for x in L.blks
            for g in L.segs
            for t in L.toks
        ]


@action
@dataclass(frozen=True)
class Flush(Action):
    """Userspace cache flush + fence of the page ``file``/``idx`` mapped by ``proc``
    (clwb of each line, sfence; pmem_persist in libpmem).  Where the design promises that
    userspace flushes are durable for this mapping (MAP_SYNC, a sealed daxfile, or any
    mapping in the userspace-flush design) the flushed contents become a durability
    promise."""

    name: ClassVar[str] = "flush"
    proc: int
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f, x = self.proc, self.file, self.idx
        pk = s[L.pte_kind[n][f][x]]
        if not require(Or(pk == PTE_RO, pk == PTE_RW)):
            return None
        d = draft(s)
        pmem.flush_block(L, d, d[L.pte_pfn[n][f][x]])
        when(d, D.userspace_flush_durable(L, d, n, f, x), lambda d: views.promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x) for n in L.procs for f in L.files for x in L.blks]
