"""The operations: one frozen action value per kernel entry point, with a pure transition.

``Action.apply(model, s)`` is stateright's ``next_state``: it returns the successor state
(``bytes``) or ``None`` when the action is not enabled in ``s`` (refused with an errno, or
would fault with SIGBUS, or has nothing to do).  It never mutates ``s``.  Transitions branch
on action arguments in plain Python and on the state through :mod:`daxcheck.spec.vocab`, and
every kernel step goes through a design hook (``D.<hook>``, :mod:`daxcheck.spec.designs`).

Each class's ``instances(L, design)`` enumerates its argument tuples in a fixed order, so
the model's action list, and therefore every trace, replays by action.  A user's file adds a
family with :func:`action` (a frozen dataclass with ``name``, ``instances`` and ``apply``);
a design explores it when its name is in the design's ``families``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields as dc_fields
from typing import ClassVar

from .state import (HOLE, UNWRITTEN, WRITTEN, PTE_NONE, PTE_RO, PTE_RW, PTE_ANON,
                    MM_NONE, MM_SHARED, MM_SYNC, MM_PRIVATE)
from .vocab import (And, Or, Not, If, ForAll, store, select, when, require, draft, freeze)
from .kernel import dax, huge_memory, pmem, views, warn, xfs_bmap, xfs_iomap, xfs_reflink
from . import locks
from .arguments import show_arg

ACTIONS: dict[str, type] = {}
"""Every action family by name, in registration order: the shipped ones, then users' in
the order their files were loaded.  That order is a model's family order (deterministic,
so traces replay by action)."""


class ActionDefinitionError(TypeError):
    """A user's action family was defined wrongly (no name, name taken, no apply or
    instances, not a dataclass); the message names it."""


def action(cls):
    """Class decorator registering an action family under ``cls.name``.

    ``cls`` must subclass :class:`Action`, set a class attribute ``name`` and define
    ``apply(self, model, s)`` and ``instances(cls, L, D)``; a class that is not yet a
    dataclass is made a frozen one.  Registering the same class again (the same user file
    loaded twice) replaces it in place; a name taken by another family raises
    ActionDefinitionError."""
    if not (isinstance(cls, type) and issubclass(cls, Action)):
        raise ActionDefinitionError(f"@action {getattr(cls, '__name__', cls)!r} must subclass "
                                    f"daxcheck.spec.actions.Action")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ActionDefinitionError(f"@action {cls.__name__} needs a class attribute "
                                    f"name: ClassVar[str] = '<family>'")
    for m in ("apply", "instances"):
        if getattr(cls, m) is getattr(Action, m):
            raise ActionDefinitionError(f"@action {name} does not define {m}()")
    if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
        cls = dataclass(frozen=True)(cls)
    elif not cls.__dataclass_params__.frozen:
        raise ActionDefinitionError(f"@action {name} must be a frozen dataclass")
    old = ACTIONS.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ActionDefinitionError(f"action family {name} is already registered "
                                    f"({old.__module__}.{old.__qualname__})")
    ACTIONS[name] = cls
    warn.declare_warnings_of(cls)
    return cls


@dataclass(frozen=True)
class Action:
    """Base of all actions.  ``name`` is the family; ``free`` lists arguments that never
    change whether the action is enabled (the explorer skips a group of instances that
    differ only in those once one of them is disabled); ``fields`` names the ghost fields
    a user's family needs (declared with :func:`~daxcheck.spec.state.ghost_field`)."""

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


# ============================================================================ ghosts
def _promise(L, d, f, x):
    """Ghost: the current contents of ``f``/``x`` are promised durable."""
    for g in L.segs:
        d[L.ghost_durable[f][x][g]] = views.file_view(L, d, f, x, g) + 1


def _per_inode_dax(D, L, s, f):
    """With per-inode DAX in scope, DAX mmaps and faults need S_DAX (page-cache I/O of a
    non-DAX inode is outside the model): the condition, else True."""
    return s[L.s_dax[f]] == 1 if D.has("dax_toggle") else True


def _write_ranges(L, D):
    """Segment ranges (lo, hi) a write(2) or zero range may cover: the whole block first,
    then (with ``partial_writes``) every other contiguous range."""
    S = len(L.segs)
    whole = (0, S - 1)
    if not D.partial_writes:
        return (whole,)
    return (whole,) + tuple((lo, hi) for lo in range(S) for hi in range(lo, S)
                            if (lo, hi) != whole)


# ============================================================================ mappings
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
        if not require(And(s[o] == MM_NONE, _per_inode_dax(D, L, s, self.file))):
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
        if not require(And(s[o] == MM_NONE, _per_inode_dax(D, L, s, self.file))):
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


def _insert_pfn(D, L, d, n, f, x, write):
    """The pfn side of a fault: dax_insert_entry (design hook) + vmf_insert_mixed(_mkwrite)
    for the extent's block, after any PMD entry of the range is downgraded."""
    p = d[L.ext_pblk[f][x]]
    dax.break_pmd(D, L, d, f)
    shared = D.iomap_f_shared(L, d, f, x, "read")
    dirty = D.dax_mark_dirty(L, d, f) if write else False
    D.dax_insert_entry(L, d, f, x, p, dirty, shared)
    d[L.pte_kind[n][f][x]] = PTE_RW if write else PTE_RO
    d[L.pte_pfn[n][f][x]] = p


def _cow_page(D, L, d, n, f, x):
    """dax_fault_cow_page: a write fault on a MAP_PRIVATE mapping copies the file page
    (zeros for a hole) into a new anonymous page and maps it writable; no block is
    allocated.  A PMD mapping of the range is split first (``private_pmd_split``; the
    huge-PMD write-protect fault of a DAX PMD falls back to PTEs)."""
    if D.private_pmd_split == "split":
        huge_memory.zap_pmd(L, d, n, f)
    for g in L.segs:
        d[L.anon[n][f][x][g]] = views.file_view(L, d, f, x, g)
    d[L.pte_kind[n][f][x]] = PTE_ANON
    d[L.pte_pfn[n][f][x]] = 0


@action
@dataclass(frozen=True)
class Fault(Action):
    """A page fault on ``file`` index ``idx`` in process ``proc``'s mapping
    (dax_iomap_pte_fault → dax_fault_iter).  A read fault needs no PTE: a written extent
    gets a read-only pfn PTE, a hole or unwritten extent the zero page (dax_load_hole).  A
    write fault (no PTE, a read-only PTE via pfn_mkwrite, or the zero page) calls
    ->iomap_begin(IOMAP_WRITE), which allocates, converts or CoWs (see
    :func:`~daxcheck.spec.kernel.xfs_iomap.xfs_dax_write_iomap_begin`); on a MAP_SYNC mapping with IOMAP_F_DIRTY the fault returns
    VM_FAULT_NEEDDSYNC and dax_finish_sync_fault fsyncs before the writable PTE is set.  A
    write fault on a MAP_PRIVATE mapping copies the page into an anonymous page
    (dax_fault_cow_page).  Disabled beyond EOF (SIGBUS) or when not mapped."""

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
        if not require(And(mm != MM_NONE, want, _per_inode_dax(D, L, s, f),
                           locks.atomic_guard(D, L, s, self))):
            return None
        d = draft(s)
        if not D.dax_iomap_pte_fault(L, d, n, f, x, self.write):
            return None
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x, w) for n in L.procs for f in L.files for x in L.blks
                for w in (False, True)]


def per_mapping(L):
    """Arguments ``dict(proc=, file=)`` of an operation on the whole two-page (PMD) range
    of one process's mapping of one file: none when files have a single block."""
    if len(L.blks) < 2:
        return []
    return [dict(proc=n, file=f) for n in L.procs for f in L.files]


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
    proc: int
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        n, f = self.proc, self.file
        if not require(And(s[L.mmap_mode[n][f]] != MM_NONE, _per_inode_dax(D, L, s, f),
                           locks.atomic_guard(D, L, s, self))):
            return None
        d = draft(s)
        if not D.dax_iomap_pmd_fault(L, d, n, f):
            return None
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(**a) for a in per_mapping(L)]


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
        pmem.flush_block(L, d, d[L.pte_pfn[n][f][x]])
        when(d, D.userspace_flush_durable(L, d, n, f, x), lambda d: _promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x) for n in L.procs for f in L.files for x in L.blks]


# ============================================================================ file I/O
@action
@dataclass(frozen=True)
class Write(Action):
    """write(2) of ``token`` to segments ``lo``..``hi`` of block ``idx`` of ``file``
    (dax_iomap_rw → dax_iomap_iter): ->iomap_begin allocates, converts or CoWs the block
    (:func:`~daxcheck.spec.kernel.xfs_iomap.xfs_dax_write_iomap_begin`; a partial write to a shared block is the unaligned CoW of
    seed 003), then dax_copy_from_iter stores the data with non-temporal stores (durable on
    media, any dirty cache line of the block dropped).  Extends i_size.  Disabled on ENOSPC
    or when the design refuses the CoW."""

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
        if not require(locks.atomic_guard(D, L, s, self)):
            return None
        d = draft(s)
        if not D.xfs_dax_write_iomap_begin(L, d, f, x, segs):
            return None
        p = d[L.ext_pblk[f][x]]
        for g in segs:
            D.dax_copy_from_iter(L, d, p, g, t)
            views.wrote(L, d, f, x, g, t)
        views.grow(L, d, f, x + 1)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x, lo, hi, t) for f in L.files for x in L.blks
                for lo, hi in _write_ranges(L, D) for t in L.toks]


@action
@dataclass(frozen=True)
class Read(Action):
    """read(2) of block ``idx`` of ``file`` (dax_iomap_rw, dax_iomap_iter read side).  It
    changes no state: what it returns is :func:`~daxcheck.spec.kernel.views.file_view`, which the properties
    check in every state, and which replay prints."""

    name: ClassVar[str] = "read"
    file: int
    idx: int

    def apply(self, m, s):
        if not require(And(self.idx < s[m.L.size[self.file]],
                           locks.atomic_guard(m.design, m.L, s, self))):
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
        L, D = m.L, m.design
        f, x = self.file, self.idx
        found, b = D.xfs_bmapi_write(L, s)
        if not require(And(Not(D.is_iomap_immutable(L, s, f, "fallocate")),
                           s[L.ext_kind[f][x]] == HOLE, found)):
            return None
        d = draft(s)
        d[L.ext_kind[f][x]] = UNWRITTEN
        d[L.ext_pblk[f][x]] = b
        store(d, L.refcount, b, 1)
        views.grow(L, d, f, x + 1)
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
            if not D.xfs_dax_write_iomap_begin(L, d, f, x, (), "seal"):
                return None
        d[L.size[f]] = len(L.blks)
        d[L.sealed[f]] = 1
        for x in L.blks:
            d[L.ghost_seal_pblk[f][x]] = d[L.ext_pblk[f][x]]
        D.xfs_log_force(L, d)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


# ============================================================================ reflink
def remap_range(D, L, d, a, b, soff, doff, length, dedupe=False):
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
    (xfs_reflink_update_dest).  Ghosts: a clone inherits what was written at the source
    offset and its last data; a dedupe (``dedupe``) changes no file's contents, so the
    destination keeps its own."""
    sz = d[L.size[a]]
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: D.dax_writeback_one(L, d, a, soff + i))
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: D.dax_writeback_one(L, d, b, doff + i))
    for i in range(length):
        x, y = soff + i, doff + i

        def replace(d, x=x, y=y):
            last = [d[L.ghost_last[a][x][g]] for g in L.segs]
            xfs_bmap.xfs_bunmapi(D, L, d, b, y)
            written = d[L.ext_kind[a][x]] == WRITTEN
            d[L.ext_kind[b][y]] = If(written, WRITTEN, HOLE)
            d[L.ext_pblk[b][y]] = If(written, d[L.ext_pblk[a][x]], 0)
            when(d, written, lambda d: xfs_bmap.ref_add(L, d, d[L.ext_pblk[a][x]], 1))
            if dedupe:
                return
            for g in L.segs:
                views.set_last(L, d, b, y, g, If(written, last[g], 0))
                for t in L.toks:
                    o = L.ghost_written[b][y][g][t - 1]
                    d[o] = If(d[L.ghost_written[a][x][g][t - 1]] == 1, 1, d[o])

        def remap(d, x=x, y=y, replace=replace):
            if dedupe:
                keep = [d[L.ghost_last[b][y][g]] for g in L.segs]
            D.invalidate_inode_pages2_range(L, d, b, y)
            when(d, Not(And(d[L.ext_kind[a][x]] == UNWRITTEN, d[L.ext_kind[b][y]] == UNWRITTEN)),
                 replace)
            if dedupe:
                for g in L.segs:
                    views.set_last(L, d, b, y, g, keep[g])
        when(d, soff + i < sz, remap)
    views.grow(L, d, b, If(sz - soff < length, doff + sz - soff, doff + length))


@action
@dataclass(frozen=True)
class Reflink(Action):
    """ioctl(FICLONE): all of ``src`` (to its EOF) is reflinked into ``dst`` from offset 0
    (xfs_reflink_remap_range, see :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`): ``dst``'s blocks within ``src``'s
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
        if not require(And(D.xfs_reflink_remap_prep(L, s, a, b), s[L.size[a]] > 0)):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, 0, 0, len(L.blks))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(a, b) for a in L.files for b in L.files if a != b]


def _range_instances(cls, L):
    """(src, dst, soff, doff, length) for every in-bounds range; overlapping ranges of
    one file (EINVAL, generic_remap_file_range_prep) have no instance."""
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


@action
@dataclass(frozen=True)
class Punch(Action):
    """fallocate(FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) of block ``idx`` of ``file``
    (xfs_free_file_space): break layouts (waiting for pinned pages), write back and unmap
    the range, free the block.  Refused on a sealed inode; disabled on a hole."""

    name: ClassVar[str] = "punch"
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x = self.file, self.idx
        busy = D.xfs_break_layouts(L, s, f, [x]) if D.has("pin") else True
        if not require(And(Not(D.is_iomap_immutable(L, s, f, "punch")),
                           s[L.ext_kind[f][x]] != HOLE, busy,
                           locks.atomic_guard(D, L, s, self))):
            return None
        d = draft(s)
        D.xfs_free_file_space(L, d, f, x)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Truncate(Action):
    """ftruncate(``file``, ``size`` blocks) (xfs_setattr_size): growing only sets i_size;
    shrinking breaks layouts (waiting for pinned pages), unmaps and frees every block at or
    past the new size (truncate_pagecache + xfs_itruncate_extents).  Refused on a sealed
    inode."""

    name: ClassVar[str] = "truncate"
    file: int
    size: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, n = self.file, self.size
        gone = [x for x in L.blks if x >= n]
        busy = D.xfs_break_layouts(L, s, f, gone) if D.has("pin") else True
        if not require(And(Not(D.is_iomap_immutable(L, s, f, "truncate")),
                           s[L.size[f]] != n, busy,
                           locks.atomic_guard(D, L, s, self))):
            return None
        d = draft(s)
        for x in gone:
            D.xfs_free_file_space(L, d, f, x)
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
        L, D = m.L, m.design
        f = self.file
        if not require(locks.atomic_guard(D, L, s, self)):
            return None
        d = draft(s)
        D.xfs_file_fsync(L, d, f)
        for x in L.blks:
            when(d, x < d[L.size[f]], lambda d, x=x: _promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@action
@dataclass(frozen=True)
class Crash(Action):
    """Power failure followed by mount and log recovery (hook ``xlog_recover``): CPU caches
    (dirty lines not flushed), DAX entries, page tables, struct page state and
    un-journaled metadata are lost; the in-memory map and sizes are rebuilt from the
    journal and refcounts recomputed from it.  Ghost state survives; the data last written
    at each offset becomes what the recovered file holds (POSIX says nothing about data
    not synced)."""

    name: ClassVar[str] = "crash"

    def apply(self, m, s):
        L, D = m.L, m.design
        d = draft(s)
        for f, x, g in L.file_blk_segs:
            views.set_last(L, d, f, x, g, views.persisted_view(L, s, f, x, g))
        D.xlog_recover(L, d)
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
    at block ``doff`` (xfs_reflink_remap_range, see :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`): the range is
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
        if not require(And(D.xfs_reflink_remap_prep(L, s, a, b), self.soff < s[L.size[a]])):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, self.soff, self.doff, self.length)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return _range_instances(cls, L)


# ============================================================================ sync
@action
@dataclass(frozen=True)
class Fsync(Action):
    """fsync(``file``) (xfs_file_fsync with datasync 0): as fdatasync in this model (the
    timestamps fsync also logs are not state); the contents become a durability promise."""

    name: ClassVar[str] = "fsync"
    file: int

    def apply(self, m, s):
        return Fdatasync(self.file).apply(m, s)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@action
@dataclass(frozen=True)
class Msync(Action):
    """msync(MS_SYNC) of process ``proc``'s shared mapping of ``file`` (vfs_fsync_range
    over the mapped range, datasync: dax_writeback_mapping_range + xfs_log_force); the
    contents become a durability promise.  Disabled without a shared mapping (msync of a
    MAP_PRIVATE mapping writes nothing back)."""

    name: ClassVar[str] = "msync"
    proc: int
    file: int

    def apply(self, m, s):
        L = m.L
        mm = s[L.mmap_mode[self.proc][self.file]]
        if not require(Or(mm == MM_SHARED, mm == MM_SYNC)):
            return None
        return Fdatasync(self.file).apply(m, s)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f) for n in L.procs for f in L.files]


# ============================================================================ fallocate
def _flush_unmap(D, L, d, f, xs):
    """xfs_flush_unmap_range over indices ``xs``: write back and invalidate each."""
    for x in xs:
        D.dax_writeback_one(L, d, f, x)
        D.invalidate_inode_pages2_range(L, d, f, x)


@action
@dataclass(frozen=True)
class ZeroRange(Action):
    """fallocate(FALLOC_FL_ZERO_RANGE) of segments ``lo``..``hi`` of block ``idx`` of
    ``file``.  A whole block: mappings are dropped and the block becomes unwritten
    (ext4_zero_range converts in place; a hole or a shared block gets a new unwritten
    block, as XFS's punch + preallocate does).  Part of a block: dax_zero_range zeroes the
    segments of a written block in place (hook ``dax_zero_range``) or, for a shared block,
    through a CoW with the rest copied (->iomap_begin IOMAP_F_SHARED + srcmap); an unwritten
    extent already reads zeros; a hole gets an unwritten block (xfs_file_fallocate rounds the
    range out to blocks and xfs_alloc_file_space preallocates it: found by the real-DAX
    oracle on 6.12).  Extends i_size.  Refused on a sealed inode."""

    name: ClassVar[str] = "zero_range"
    file: int
    idx: int
    lo: int
    hi: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x = self.file, self.idx
        segs = tuple(range(self.lo, self.hi + 1))
        whole = len(segs) == len(L.segs)
        kd = s[L.ext_kind[f][x]]
        allowed = Not(D.is_iomap_immutable(L, s, f, "zero"))
        d = draft(s)
        if whole:
            busy = D.xfs_break_layouts(L, s, f, [x]) if D.has("pin") else True
            shared = xfs_reflink.is_shared(L, s, f, x, D.shared_check == "in-core+journal")
            renew = Or(kd == HOLE, shared)
            found, b = D.xfs_bmapi_write(L, s)
            if not require(And(allowed, busy, Or(Not(renew), found))):
                return None
            _flush_unmap(D, L, d, f, [x])

            def fresh(d):
                D.xfs_free_file_space(L, d, f, x)
                d[L.ext_pblk[f][x]] = b
                store(d, L.refcount, b, 1)
            when(d, renew, fresh)
            d[L.ext_kind[f][x]] = UNWRITTEN
        else:
            plan, ok = xfs_iomap.write_plan(D, L, d, f, x, "zero")
            mapped = kd == WRITTEN
            hole = kd == HOLE
            found, b = D.xfs_bmapi_write(L, s)
            if not require(And(allowed, Or(Not(mapped), ok), Or(Not(hole), found))):
                return None

            def zero(d):
                xfs_iomap.write_effects(D, L, d, f, x, segs, "zero", plan)
                D.dax_zero_range(L, d, f, x, segs)
            when(d, mapped, zero)

            def prealloc(d):  # xfs_alloc_file_space over the range rounded out to blocks
                d[L.ext_kind[f][x]] = UNWRITTEN
                d[L.ext_pblk[f][x]] = b
                store(d, L.refcount, b, 1)
            when(d, hole, prealloc)
        for g in segs:
            views.set_last(L, d, f, x, g, 0)
        views.clear_promise(L, d, f, x)
        views.grow(L, d, f, x + 1)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x, lo, hi) for f in L.files for x in L.blks
                for lo, hi in _write_ranges(L, D)]


def _shift(L, d, f, dst, src):
    """Extent and ghosts of ``f`` block ``src`` move to block ``dst`` (collapse/insert);
    what was ever written at either offset stays legitimate there (a crash before the log
    commit brings the old map back)."""
    d[L.ext_kind[f][dst]] = d[L.ext_kind[f][src]]
    d[L.ext_pblk[f][dst]] = d[L.ext_pblk[f][src]]
    for g in L.segs:
        views.set_last(L, d, f, dst, g, d[L.ghost_last[f][src][g]])
        d[L.ghost_durable[f][dst][g]] = 0
        for t in L.toks:
            o = L.ghost_written[f][dst][g][t - 1]
            d[o] = If(d[L.ghost_written[f][src][g][t - 1]] == 1, 1, d[o])


def _clear(L, d, f, x):
    """Block ``x`` of ``f`` becomes a hole reading zeros (after a shift moved it away)."""
    d[L.ext_kind[f][x]] = HOLE
    d[L.ext_pblk[f][x]] = 0
    views.clear_promise(L, d, f, x)
    for g in L.segs:
        views.set_last(L, d, f, x, g, 0)


@action
@dataclass(frozen=True)
class CollapseRange(Action):
    """fallocate(FALLOC_FL_COLLAPSE_RANGE) of block ``idx`` of ``file``
    (xfs_collapse_file_space): break layouts, free the block (xfs_free_file_space), write
    back and unmap everything from ``idx`` to EOF (xfs_flush_unmap_range), shift the later
    extents down one block (xfs_bmap_collapse_extents), i_size shrinks by a block.
    EINVAL unless the range ends before EOF; refused on a sealed inode (hook
    ``is_iomap_immutable``)."""

    name: ClassVar[str] = "collapse_range"
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, B = self.file, self.idx, len(L.blks)
        tail = list(range(x, B))
        busy = D.xfs_break_layouts(L, s, f, tail) if D.has("pin") else True
        if not require(And(Not(D.is_iomap_immutable(L, s, f, "collapse")),
                           x + 1 < s[L.size[f]], busy)):
            return None
        d = draft(s)
        D.xfs_free_file_space(L, d, f, x)
        _flush_unmap(D, L, d, f, tail[1:])
        for y in range(x, B - 1):
            _shift(L, d, f, y, y + 1)
        _clear(L, d, f, B - 1)
        d[L.size[f]] = d[L.size[f]] - 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks if x + 1 < len(L.blks)]


@action
@dataclass(frozen=True)
class InsertRange(Action):
    """fallocate(FALLOC_FL_INSERT_RANGE) of one block at ``idx`` of ``file``
    (xfs_insert_file_space): break layouts, write back and unmap from ``idx`` to EOF, shift
    the extents from ``idx`` up one block (xfs_bmap_insert_extents), leaving a hole; i_size
    grows by a block.  EINVAL unless ``idx`` is before EOF and the file has room; refused
    on a sealed inode."""

    name: ClassVar[str] = "insert_range"
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, B = self.file, self.idx, len(L.blks)
        tail = list(range(x, B))
        busy = D.xfs_break_layouts(L, s, f, tail) if D.has("pin") else True
        if not require(And(Not(D.is_iomap_immutable(L, s, f, "insert")),
                           x < s[L.size[f]], s[L.size[f]] < B, busy)):
            return None
        d = draft(s)
        _flush_unmap(D, L, d, f, tail)
        for y in range(B - 1, x, -1):
            _shift(L, d, f, y, y - 1)
        _clear(L, d, f, x)
        d[L.size[f]] = d[L.size[f]] + 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks if x + 1 < len(L.blks)]


@action
@dataclass(frozen=True)
class Unshare(Action):
    """fallocate(FALLOC_FL_UNSHARE_RANGE) of block ``idx`` of ``file``
    (xfs_reflink_unshare → dax_file_unshare → dax_unshare_iter): a block ->iomap_begin
    reports IOMAP_F_SHARED is copied whole into a CoW block (``dax_iomap_copy_around``;
    a hole or unwritten source is zeroed since 2023) and remapped; then, as every fallocate
    mode but punch and collapse, xfs_alloc_file_space preallocates the range, so a hole
    gets an unwritten block (found by the real-DAX oracle on 6.12).  Disabled when there is
    nothing to unshare or allocate, or on a sealed inode."""

    name: ClassVar[str] = "unshare"
    file: int
    idx: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x = self.file, self.idx
        shared = D.iomap_f_shared(L, s, f, x, "write")
        hole = s[L.ext_kind[f][x]] == HOLE
        found, b = D.xfs_bmapi_write(L, s)
        d = draft(s)
        plan, ok = xfs_iomap.write_plan(D, L, d, f, x, "unshare")
        if not require(And(Or(shared, hole), x < s[L.size[f]],
                           Not(D.is_iomap_immutable(L, s, f, "unshare")),
                           Or(Not(shared), ok), Or(Not(hole), found))):
            return None
        when(d, shared, lambda d: xfs_iomap.write_effects(D, L, d, f, x, (), "unshare", plan))

        def prealloc(d):  # xfs_file_fallocate: xfs_alloc_file_space after the unshare
            d[L.ext_kind[f][x]] = UNWRITTEN
            d[L.ext_pblk[f][x]] = b
            store(d, L.refcount, b, 1)
        when(d, hole, prealloc)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Dedupe(Action):
    """ioctl(FIDEDUPERANGE) of ``length`` blocks of ``src`` from ``soff`` against ``dst`` at
    ``doff`` (xfs_file_remap_range(REMAP_FILE_DEDUP) → dax_remap_file_range_prep →
    dax_dedupe_file_range_compare): only when both ranges lie within EOF and read the same
    (hook ``dax_dedupe_file_range_compare``; else FILE_DEDUPE_RANGE_DIFFERS: disabled) the
    destination's blocks are replaced by shared references to the source's (see
    :func:`~daxcheck.spec.kernel.xfs_reflink.xfs_reflink_remap_blocks`); no file's contents change."""

    name: ClassVar[str] = "dedupe"
    src: int
    dst: int
    soff: int
    doff: int
    length: int

    def apply(self, m, s):
        L, D = m.L, m.design
        a, b, n = self.src, self.dst, self.length
        if not require(And(D.xfs_reflink_remap_prep(L, s, a, b),
                           self.soff + n <= s[L.size[a]], self.doff + n <= s[L.size[b]],
                           D.dax_dedupe_file_range_compare(L, s, a, self.soff, b, self.doff, n))):
            return None
        d = draft(s)
        D.xfs_reflink_remap_blocks(L, d, a, b, self.soff, self.doff, n, dedupe=True)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [a for a in _range_instances(cls, L) if a.src != a.dst]


# ============================================================================ pins / DMA
@action
@dataclass(frozen=True)
class Pin(Action):
    """get_user_pages(FOLL_WRITE | FOLL_PIN) on process ``proc``'s writable DAX mapping of
    ``file`` index ``idx`` (an O_DIRECT read or RDMA into a buffer that is itself a DAX
    mapping, generic/503, generic/462): the pmem page the PTE maps is pinned for the DMA.
    Disabled without a writable PTE or when the page is already pinned."""

    name: ClassVar[str] = "pin"
    proc: int
    file: int
    idx: int

    def apply(self, m, s):
        L = m.L
        n, f, x = self.proc, self.file, self.idx
        p = s[L.pte_pfn[n][f][x]]
        if not require(And(s[L.pte_kind[n][f][x]] == PTE_RW, select(s, L.pinned, p) == 0)):
            return None
        d = draft(s)
        store(d, L.pinned, p, 1)
        store(d, L.pin_file, p, f)
        store(d, L.pin_idx, p, x)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f, x) for n in L.procs for f in L.files for x in L.blks]


@action
@dataclass(frozen=True)
class Dma(Action):
    """The device completes the DMA into pinned page ``phys`` with ``token`` and the pin is
    dropped (unpin_user_pages): every segment of the page now holds the data (a DMA write
    reaches memory; cached copies are invalidated).  Ghost: userspace asked for this data
    at the file offset the pin was taken through."""

    name: ClassVar[str] = "dma"
    free: ClassVar[tuple] = ("token",)
    phys: int
    token: int

    def apply(self, m, s):
        L = m.L
        p, t = self.phys, self.token
        mine = (s[L.pin_holder[p]] == 0) if L.races else True   # not a thread's O_DIRECT pin
        if not require(And(s[L.pinned[p]] == 1, mine)):
            return None
        d = draft(s)
        for g in L.segs:
            d[L.media[p][g]] = t
            d[L.cache[p][g]] = 0
        pf, pi = s[L.pin_file[p]], s[L.pin_idx[p]]
        for f, x in L.file_blks:
            when(d, And(pf == f, pi == x),
                 lambda d, f=f, x=x: [views.wrote(L, d, f, x, g, t) for g in L.segs])
        d[L.pinned[p]] = 0
        d[L.pin_file[p]] = 0
        d[L.pin_idx[p]] = 0
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(b, t) for b in L.phys for t in L.toks]


# ============================================================================ S_DAX
@action
@dataclass(frozen=True)
class DaxToggle(Action):
    """ioctl(FS_IOC_FSSETXATTR) setting (``on``) or clearing FS_XFLAG_DAX on ``file``
    (xfs_ioctl_setattr_xflags; hook ``xfs_ioctl_setattr_dax`` decides when S_DAX follows:
    at eviction since 5.8, xfstests generic/605-608).  Disabled when the flag already has
    that value."""

    name: ClassVar[str] = "dax_toggle"
    file: int
    on: bool

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(s[L.xflag_dax[f]] != (1 if self.on else 0)):
            return None
        d = draft(s)
        D.xfs_ioctl_setattr_dax(L, d, f, self.on)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, on) for f in L.files for on in (False, True)]


@action
@dataclass(frozen=True)
class EvictInode(Action):
    """The inode of ``file`` is evicted (iput_final after the last mapping and open file
    went, d_mark_dontcache; drop_caches): its DAX mapping is written back and every entry
    deleted (truncate_inode_pages_final → dax_delete_mapping_entry), and the next load
    takes S_DAX from FS_XFLAG_DAX.  Disabled while a process maps the file or when S_DAX
    would not change."""

    name: ClassVar[str] = "evict_inode"
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(And(ForAll(L.procs, lambda n: s[L.mmap_mode[n][f]] == MM_NONE),
                           s[L.s_dax[f]] != s[L.xflag_dax[f]])):
            return None
        d = draft(s)
        D.dax_writeback_mapping_range(L, d, f)
        dax.break_pmd(D, L, d, f)
        for x in L.blks:
            D.dax_delete_mapping_entry(L, d, f, x)
        d[L.s_dax[f]] = d[L.xflag_dax[f]]
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


SHIPPED_FAMILIES = tuple(ACTIONS)
"""The shipped action families, in order."""
FAMILY_ORDER = SHIPPED_FAMILIES
"""The shipped families in model order (users' families follow, see :data:`ACTIONS`)."""

warn.declare_module_warnings(__file__)
