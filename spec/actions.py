"""The operations: one frozen action value per kernel entry point, with a pure transition.

``Action.apply(model, s)`` is stateright's ``next_state``: it returns the successor state
(``bytes``) or ``None`` when the action is not enabled in ``s`` (refused with an errno, or
would fault with SIGBUS, or has nothing to do).  It never mutates ``s``.  Transitions branch
on action arguments in plain Python and on the state through :mod:`daxcheck.spec.vocab`.

Each class's ``instances(L, design)`` enumerates its argument tuples in a fixed order, so
the model's action list, and therefore every trace, replays by action.
"""
from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import ClassVar

from .state import (HOLE, UNWRITTEN, WRITTEN, XA_EMPTY, XA_ZERO, XA_PFN, PTE_NONE, PTE_RO,
                    PTE_RW, PTE_ZERO, MM_NONE, MM_SHARED, MM_SYNC)
from .vocab import (And, Or, Not, If, ForAll, Count, store, when, require, draft,
                    freeze)
from . import fsdax as k
from .arguments import show_arg

ACTIONS: dict[str, type] = {}


def action(cls):
    """Class decorator registering an action family under ``cls.name``."""
    ACTIONS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Action:
    """Base of all actions.  ``name`` is the family; ``free`` lists arguments that never
    change whether the action is enabled (the explorer skips a group of instances that
    differ only in those once one of them is disabled)."""

    name: ClassVar[str] = "?"
    free: ClassVar[tuple] = ()

    def apply(self, m, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def args(self) -> dict:
        """The arguments as a JSON-able dict (ITF ``#meta``)."""
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}

    def guard_key(self):
        """Arguments that decide enabledness (all but ``free``)."""
        return (self.name,) + tuple(getattr(self, f.name) for f in dc_fields(self)
                                    if f.name not in self.free)

    def describe(self) -> str:
        """Short human form with argument names, e.g. ``fault(proc=P0, file=a, idx=0,
        write=true)`` (values shown by :func:`~daxcheck.spec.arguments.show_arg`)."""
        return f"{self.name}(" + ", ".join(
            f"{f.name}={show_arg(f.name, getattr(self, f.name))}" for f in dc_fields(self)) + ")"

    @classmethod
    def instances(cls, L, D):  # pragma: no cover - abstract
        raise NotImplementedError


def _promise(L, d, f, x):
    """Ghost: the current contents of ``f``/``x`` are promised durable."""
    for g in L.segs:
        d[L.ghost_durable[f][x][g]] = k.file_view(L, d, f, x, g) + 1


def _install_pfn(D, L, d, n, f, x, write):
    """dax_insert_entry + vmf_insert_mixed(_mkwrite) for a pfn: replace a zero entry
    (unmapping its zero-page PTEs), associate the page (design hook) if the entry is new,
    dirty the entry on a write fault when the design tracks dirtiness, set the PTE."""
    p = d[L.ext_pblk[f][x]]
    k.break_pmd(D, L, d, f)

    def stale(d):
        k.invalidate(D, L, d, f, x)
    when(d, Or(d[L.xa_kind[f][x]] == XA_ZERO,
               And(d[L.xa_kind[f][x]] == XA_PFN, d[L.xa_pfn[f][x]] != p)), stale)

    def fresh(d):
        D.associate(L, d, p, f, x, k.is_shared(L, d, f, x, D.shared_check == "in-core+journal"))
        d[L.xa_kind[f][x]] = XA_PFN
        d[L.xa_pfn[f][x]] = p
    when(d, d[L.xa_kind[f][x]] == XA_EMPTY, fresh)
    if write:
        o = L.xa_dirty[f][x]
        d[o] = If(D.tracks_dirty(L, d, f), 1, d[o])
    d[L.pte_kind[n][f][x]] = PTE_RW if write else PTE_RO
    d[L.pte_pfn[n][f][x]] = p


def _install_zero(D, L, d, n, f, x):
    """dax_load_hole: insert a zero-page entry (if the index has none) and map the shared
    zero page read-only."""
    k.break_pmd(D, L, d, f)
    o = L.xa_kind[f][x]
    d[o] = If(d[o] == XA_EMPTY, XA_ZERO, d[o])
    d[L.pte_kind[n][f][x]] = PTE_ZERO
    d[L.pte_pfn[n][f][x]] = 0


@action
@dataclass(frozen=True)
class Mmap(Action):
    """mmap(MAP_SHARED) of ``file`` by process ``proc``; with ``sync``,
    mmap(MAP_SHARED_VALIDATE | MAP_SYNC) (4.15, only where the design offers it).  In a
    design whose MAP_SYNC puts the inode in userspace-sync mode (daxfile, seed 004) the
    inode enters that mode."""

    name: ClassVar[str] = "mmap"
    proc: int
    file: int
    sync: bool

    def apply(self, m, s):
        L, D = m.L, m.design
        o = L.mmap_mode[self.proc][self.file]
        if not require(s[o] == MM_NONE):
            return None
        d = draft(s)
        d[o] = MM_SYNC if self.sync else MM_SHARED
        if self.sync and D.usync_mode:
            d[L.usync[self.file]] = 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        syncs = (False, True) if D.map_sync else (False,)
        return [cls(n, f, y) for n in L.procs for f in L.files for y in syncs]


@action
@dataclass(frozen=True)
class Fault(Action):
    """A page fault on ``file`` index ``idx`` in process ``proc``'s mapping
    (dax_iomap_pte_fault → dax_fault_iter).  A read fault needs no PTE: a written extent
    gets a read-only pfn PTE, a hole or unwritten extent the zero page (dax_load_hole).  A
    write fault (no PTE, a read-only PTE via pfn_mkwrite, or the zero page) calls
    ->iomap_begin(IOMAP_WRITE), which allocates, converts or CoWs (see
    :func:`fsdax.begin_write`); on a MAP_SYNC mapping with IOMAP_F_DIRTY the fault returns
    VM_FAULT_NEEDDSYNC and dax_finish_sync_fault fsyncs before the writable PTE is set.
    Disabled beyond EOF (SIGBUS) or when not mapped."""

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
        if not require(And(mm != MM_NONE, x < s[L.size[f]],
                           pk != PTE_RW if self.write else pk == PTE_NONE)):
            return None
        d = draft(s)
        if self.write:
            if not k.begin_write(D, L, d, f, x, ()):
                return None
            if D.map_sync:
                when(d, And(mm == MM_SYNC, k.inode_meta_dirty(L, d, f)),
                     lambda d: (k.writeback_entry(L, d, f, x), k.journal_commit(L, d)))
            _install_pfn(D, L, d, n, f, x, True)
        else:
            written = d[L.ext_kind[f][x]] == WRITTEN
            when(d, written, lambda d: _install_pfn(D, L, d, n, f, x, False))
            when(d, Not(written), lambda d: _install_zero(D, L, d, n, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x, w) for n in L.procs for f in L.files for x in L.blks
                for w in (False, True)]


@action
@dataclass(frozen=True)
class PmdFault(Action):
    """A read fault served by a PMD (huge) zero page over indices 0..blocks-1
    (dax_iomap_pmd_fault → dax_pmd_load_hole).  The filesystem's ->iomap_begin reports the
    extent at index 0 and its length (design hook ``hole_length``: the true hole length
    with iomap, the requested length with get_block/buffer_head, seed 000).  Falls back
    (disabled) unless index 0 is a hole at least a PMD long, the PMD lies within EOF and
    no PTE or entry exists in the range (pmd_none, xas_find_conflict)."""

    name: ClassVar[str] = "pmd_fault"
    proc: int
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f, B = self.proc, self.file, len(L.blks)
        if not require(And(s[L.mmap_mode[n][f]] != MM_NONE, s[L.size[f]] >= B,
                           ForAll(L.blks, lambda x: And(s[L.pte_kind[n][f][x]] == PTE_NONE,
                                                        s[L.xa_kind[f][x]] == XA_EMPTY)),
                           s[L.ext_kind[f][0]] == HOLE,
                           D.hole_length(L, s, f, 0, B) >= B)):
            return None
        d = draft(s)
        for x in L.blks:
            d[L.xa_kind[f][x]] = XA_ZERO
            d[L.pte_kind[n][f][x]] = PTE_ZERO
            d[L.pte_pfn[n][f][x]] = 0
        d[L.pmd_zero[f]] = 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        if len(L.blks) < 2:
            return []
        return [cls(n, f) for n in L.procs for f in L.files]


@action
@dataclass(frozen=True)
class Store(Action):
    """A userspace store of ``token`` into segment ``seg`` of ``file`` index ``idx``
    through process ``proc``'s writable PTE: the data sits in the CPU cache (dirty line)
    until flushed or lost in a crash."""

    name: ClassVar[str] = "store"
    free: ClassVar[tuple] = ("seg", "token")
    proc: int
    file: int
    idx: int
    seg: int
    token: int

    def apply(self, m, s):
        L = m.L
        n, f, x, g, t = self.proc, self.file, self.idx, self.seg, self.token
        if not require(s[L.pte_kind[n][f][x]] == PTE_RW):
            return None
        d = draft(s)
        store(d, L.cache_col[g], d[L.pte_pfn[n][f][x]], t)
        d[L.ghost_written[f][x][g][t - 1]] = 1
        d[L.ghost_durable[f][x][g]] = 0
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x, g, t) for n in L.procs for f in L.files for x in L.blks
                for g in L.segs for t in L.toks]


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
        k.flush_block(L, d, d[L.pte_pfn[n][f][x]])
        when(d, D.flush_durable(L, d, n, f, x), lambda d: _promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x) for n in L.procs for f in L.files for x in L.blks]


def _write_ranges(D):
    return ((0, 1), (0, 0), (1, 1)) if D.partial_writes else ((0, 1),)


@action
@dataclass(frozen=True)
class Write(Action):
    """write(2) of ``token`` to segments ``lo``..``hi`` of block ``idx`` of ``file``
    (dax_iomap_rw → dax_iomap_iter): ->iomap_begin allocates, converts or CoWs the block
    (:func:`fsdax.begin_write`; a partial write to a shared block is the unaligned CoW of
    seed 003), then the data is copied with non-temporal stores (durable on media, any
    dirty cache line of the block dropped).  Extends i_size.  Disabled on ENOSPC or when the
    design refuses the CoW."""

    name: ClassVar[str] = "write"
    free: ClassVar[tuple] = ("lo", "hi", "token")
    file: int
    idx: int
    lo: int
    hi: int
    token: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, t = self.file, self.idx, self.token
        segs = tuple(range(self.lo, self.hi + 1))
        d = draft(s)
        if not k.begin_write(D, L, d, f, x, segs):
            return None
        p = d[L.ext_pblk[f][x]]
        for g in segs:
            store(d, L.media_col[g], p, t)
            store(d, L.cache_col[g], p, 0)
            d[L.ghost_written[f][x][g][t - 1]] = 1
            d[L.ghost_durable[f][x][g]] = 0
        o = L.size[f]
        d[o] = If(d[o] < x + 1, x + 1, d[o])
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x, lo, hi, t) for f in L.files for x in L.blks
                for lo, hi in _write_ranges(D) for t in L.toks]


@action
@dataclass(frozen=True)
class Read(Action):
    """read(2) of block ``idx`` of ``file`` (dax_iomap_rw, dax_iomap_iter read side).  It
    changes no state: what it returns is :func:`fsdax.file_view`, which the properties
    check in every state, and which replay prints."""

    name: ClassVar[str] = "read"
    file: int
    idx: int

    def apply(self, m, s):
        if not require(self.idx < s[m.L.size[self.file]]):
            return None
        return s

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Fallocate(Action):
    """fallocate(mode 0) of block ``idx`` of ``file``: a hole becomes an unwritten extent
    on a newly allocated block (xfs_alloc_file_space, XFS_BMAPI_PREALLOC; not zeroed:
    unwritten reads as zeros).  Extends i_size.  Refused (EPERM) on a sealed inode."""

    name: ClassVar[str] = "fallocate"
    file: int
    idx: int

    def apply(self, m, s):
        L = m.L
        f, x = self.file, self.idx
        found, b = k.find_free(L, s)
        if not require(And(s[L.sealed[f]] == 0, s[L.ext_kind[f][x]] == HOLE, found)):
            return None
        d = draft(s)
        d[L.ext_kind[f][x]] = UNWRITTEN
        d[L.ext_pblk[f][x]] = b
        store(d, L.refcount, b, 1)
        o = L.size[f]
        d[o] = If(d[o] < x + 1, x + 1, d[o])
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Seal(Action):
    """fallocate(FALLOC_FL_SEAL_BLOCK_MAP) on ``file`` (Wong/Williams 2017, seed 001):
    fill holes with zeroed written blocks, convert unwritten extents, unshare shared ones,
    set i_size to the whole range, make the block map durable (log force) and set
    S_IOMAP_IMMUTABLE, after which the design refuses changes to the block map."""

    name: ClassVar[str] = "seal"
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(s[L.sealed[f]] == 0):
            return None
        d = draft(s)
        for x in L.blks:
            if not k.begin_write(D, L, d, f, x, ()):
                return None
        d[L.size[f]] = len(L.blks)
        d[L.sealed[f]] = 1
        for x in L.blks:
            d[L.ghost_seal_pblk[f][x]] = d[L.ext_pblk[f][x]]
        k.journal_commit(L, d)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


def _remap_range(D, L, d, a, b, soff, doff, length):
    """xfs_reflink_remap_range of blocks ``soff``.. of ``src`` ``a`` onto ``doff``.. of
    ``dst`` ``b``, ``length`` blocks, shortened to ``a``'s EOF (generic_remap_checks): the
    source range is written back (dax_writeback_mapping_range), the destination range is
    written back and its mappings and entries dropped (xfs_flush_unmap_range), each
    destination block is unmapped (its old block loses a reference) and, when the source
    block is a *written* extent, the source block is shared into it (refcount + 1).  A hole
    or an unwritten source extent leaves a hole (xfs_reflink_remap_extent maps only
    xfs_bmap_is_written_extent since 5.8; the kernel oracle showed FICLONE of a
    fallocated file gives a destination with no extent and an unshared source), except
    that an unwritten destination block facing an unwritten source block is left as it is
    ("both unwritten, nothing to do"; also seen on the kernel).  The
    destination's i_size grows to the end of the range, never shrinks
    (xfs_reflink_update_dest)."""
    sz = d[L.size[a]]
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: k.writeback_entry(L, d, a, soff + i))
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: k.writeback_entry(L, d, b, doff + i))
    for i in range(length):
        x, y = soff + i, doff + i

        def replace(d, x=x, y=y):
            k.free_index(D, L, d, b, y)
            written = d[L.ext_kind[a][x]] == WRITTEN
            d[L.ext_kind[b][y]] = If(written, WRITTEN, HOLE)
            d[L.ext_pblk[b][y]] = If(written, d[L.ext_pblk[a][x]], 0)
            when(d, written, lambda d: k.ref_add(L, d, d[L.ext_pblk[a][x]], 1))
            for g in L.segs:
                for t in L.toks:
                    o = L.ghost_written[b][y][g][t - 1]
                    d[o] = If(d[L.ghost_written[a][x][g][t - 1]] == 1, 1, d[o])

        def remap(d, x=x, y=y, replace=replace):
            k.invalidate(D, L, d, b, y)
            when(d, Not(And(d[L.ext_kind[a][x]] == UNWRITTEN, d[L.ext_kind[b][y]] == UNWRITTEN)),
                 replace)
        when(d, soff + i < sz, remap)
    o = L.size[b]
    end = If(sz - soff < length, doff + sz - soff, doff + length)
    d[o] = If(d[o] < end, end, d[o])


@action
@dataclass(frozen=True)
class Reflink(Action):
    """ioctl(FICLONE): all of ``src`` (to its EOF) is reflinked into ``dst`` from offset 0
    (xfs_reflink_remap_range, see :func:`_remap_range`): ``dst``'s blocks within ``src``'s
    size are replaced (written extents shared, unwritten ones and holes become holes),
    ``dst``'s blocks past ``src``'s EOF stay, ``dst``'s size becomes the larger of the two.
    Disabled when ``src`` is empty (the kernel returns 0 before doing anything) or the
    design refuses reflink."""

    name: ClassVar[str] = "reflink"
    src: int
    dst: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b = self.src, self.dst
        if not require(And(D.reflink_allowed(L, s, a, b), s[L.size[a]] > 0)):
            return None
        d = draft(s)
        _remap_range(D, L, d, a, b, 0, 0, len(L.blks))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(a, b) for a in L.files for b in L.files if a != b]


@action
@dataclass(frozen=True)
class Punch(Action):
    """fallocate(FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) of block ``idx`` of ``file``
    (xfs_free_file_space): break layouts, write back and unmap the range, free the block.
    Refused on a sealed inode; disabled on a hole."""

    name: ClassVar[str] = "punch"
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x = self.file, self.idx
        if not require(And(s[L.sealed[f]] == 0, s[L.ext_kind[f][x]] != HOLE)):
            return None
        d = draft(s)
        k.punch_index(D, L, d, f, x)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Truncate(Action):
    """ftruncate(``file``, ``size`` blocks) (xfs_setattr_size): growing only sets i_size;
    shrinking breaks layouts, unmaps and frees every block at or past the new size
    (truncate_pagecache + xfs_itruncate_extents).  Refused on a sealed inode."""

    name: ClassVar[str] = "truncate"
    file: int
    size: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, n = self.file, self.size
        if not require(And(s[L.sealed[f]] == 0, s[L.size[f]] != n)):
            return None
        d = draft(s)
        for x in L.blks:
            if x >= n:
                k.punch_index(D, L, d, f, x)
        d[L.size[f]] = n
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, n) for f in L.files for n in range(len(L.blks) + 1)]


@action
@dataclass(frozen=True)
class Fdatasync(Action):
    """fdatasync(``file``) (xfs_file_fsync): dax_writeback_mapping_range flushes the cache
    lines of every dirty entry and write-protects their PTEs, then the log is forced.
    Ghost: the file's current contents become a durability promise."""

    name: ClassVar[str] = "fdatasync"
    file: int

    def apply(self, m, s):
        L = m.L
        f = self.file
        d = draft(s)
        k.writeback_file(L, d, f)
        k.journal_commit(L, d)
        for x in L.blks:
            when(d, x < d[L.size[f]], lambda d, x=x: _promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@action
@dataclass(frozen=True)
class Crash(Action):
    """Power failure followed by mount and log recovery: CPU caches (dirty lines not
    flushed), DAX entries, page tables, struct page state and un-journaled metadata are
    lost; the in-memory map and sizes are rebuilt from the journal and refcounts
    recomputed from it (xlog_recover + refcount btree).  Ghost state survives."""

    name: ClassVar[str] = "crash"

    def apply(self, m, s):
        L = m.L
        d = draft(s)
        for o in L.volatile:
            d[o] = 0
        for f, x in L.file_blks:
            d[L.ext_kind[f][x]] = d[L.jext_kind[f][x]]
            d[L.ext_pblk[f][x]] = d[L.jext_pblk[f][x]]
        for f in L.files:
            d[L.size[f]] = d[L.jsize[f]]
        for b in L.phys:
            d[L.refcount[b]] = Count(L.file_blks, lambda fx: And(
                d[L.jext_kind[fx[0]][fx[1]]] != HOLE, d[L.jext_pblk[fx[0]][fx[1]]] == b))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls()]


@action
@dataclass(frozen=True)
class Evict(Action):
    """The CPU evicts a dirty cache line of segment ``seg`` of physical block ``phys``
    on its own: the data reaches the media without any flush."""

    name: ClassVar[str] = "evict"
    phys: int
    seg: int

    def apply(self, m, s):
        L = m.L
        c = s[L.cache[self.phys][self.seg]]
        if not require(c != 0):
            return None
        d = draft(s)
        d[L.media[self.phys][self.seg]] = c
        d[L.cache[self.phys][self.seg]] = 0
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(b, g) for b in L.phys for g in L.segs]


@action
@dataclass(frozen=True)
class ReflinkRange(Action):
    """ioctl(FICLONERANGE) of ``length`` blocks of ``src`` from block ``soff`` onto ``dst``
    at block ``doff`` (xfs_reflink_remap_range, see :func:`_remap_range`): the range is
    shortened to ``src``'s EOF; written source extents are shared, holes and unwritten
    extents leave holes; ``dst`` grows to the end of the range.  Disabled (EINVAL) when
    ``soff`` is at or past ``src``'s EOF, or the design refuses reflink.  Overlapping
    ranges of one file (EINVAL, generic_remap_file_range_prep) have no instance."""

    name: ClassVar[str] = "reflink_range"
    src: int
    dst: int
    soff: int
    doff: int
    length: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b = self.src, self.dst
        if not require(And(D.reflink_allowed(L, s, a, b), self.soff < s[L.size[a]])):
            return None
        d = draft(s)
        _remap_range(D, L, d, a, b, self.soff, self.doff, self.length)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        B = len(L.blks)
        out = []
        for a in L.files:
            for b in L.files:
                for n in range(1, B + 1):
                    for so in range(B - n + 1):
                        for do in range(B - n + 1):
                            if a == b and do < so + n and so < do + n:
                                continue
                            out.append(cls(a, b, so, do, n))
        return out


FAMILY_ORDER = ("mmap", "fault", "pmd_fault", "store", "flush", "write", "read", "fallocate",
                "seal", "reflink", "punch", "truncate", "fdatasync", "crash", "evict",
                "reflink_range")
"""Deterministic order of action families in a model's action list."""
assert set(FAMILY_ORDER) == set(ACTIONS), "every registered action has a place in the order"
