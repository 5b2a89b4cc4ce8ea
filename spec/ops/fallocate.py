"""Block-map changes: fallocate and its modes (ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE,
UNSHARE_RANGE, PUNCH_HOLE, the 2017 SEAL_BLOCK_MAP proposal) and ftruncate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import views, xfs_iomap, xfs_reflink
from ..kernel.registry import Caller
from ..state import HOLE, UNWRITTEN, WRITTEN
from ..vocab import And, If, Not, Or, draft, freeze, require, store, when
from .base import Action, action
from .common import write_ranges


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
        if not require(
            And(Not(D.is_iomap_immutable(L, s, f, "fallocate")), s[L.ext_kind[f][x]] == HOLE, found)
        ):
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
        if not require(
            And(
                Not(D.is_iomap_immutable(L, s, f, "punch")),
                s[L.ext_kind[f][x]] != HOLE,
                busy,
                locks.atomic_guard(D, L, s, self),
            )
        ):
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
        if not require(
            And(
                Not(D.is_iomap_immutable(L, s, f, "truncate")),
                s[L.size[f]] != n,
                busy,
                locks.atomic_guard(D, L, s, self),
            )
        ):
            return None
        d = draft(s)
        for x in gone:
            D.xfs_free_file_space(L, d, f, x)
        d[L.size[f]] = n
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, n) for f in L.files for n in range(len(L.blks) + 1)]


def _flush_unmap(D, L, d, f, xs):
    """xfs_flush_unmap_range over indices ``xs``: write back and invalidate each."""
    for x in xs:
        D.dax_writeback_one(L, d, f, x)
        D.invalidate_inode_pages2_range(L, d, f, x, caller=Caller.FLUSH)


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
            shared = xfs_reflink.is_shared(L, s, f, x, journal=D.shared_check == "in-core+journal")
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
        return [cls(f, x, lo, hi) for f in L.files for x in L.blks for lo, hi in write_ranges(L, D)]


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
        if not require(
            And(Not(D.is_iomap_immutable(L, s, f, "collapse")), x + 1 < s[L.size[f]], busy)
        ):
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
        if not require(
            And(
                Not(D.is_iomap_immutable(L, s, f, "insert")),
                x < s[L.size[f]],
                s[L.size[f]] < B,
                busy,
            )
        ):
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
        ok = D.xfs_reflink_unshare(L, d, f, x, 1)
        if not require(
            And(
                Or(shared, hole),
                x < s[L.size[f]],
                Not(D.is_iomap_immutable(L, s, f, "unshare")),
                ok,
                Or(Not(hole), found),
            )
        ):
            return None

        def prealloc(d):  # xfs_file_fallocate: xfs_alloc_file_space after the unshare
            d[L.ext_kind[f][x]] = UNWRITTEN
            d[L.ext_pblk[f][x]] = b
            store(d, L.refcount, b, 1)

        when(d, hole, prealloc)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]
