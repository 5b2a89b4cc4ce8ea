"""fs/xfs/xfs_iomap.c: ->iomap_begin, the filesystem's answer to "which block backs this
offset, and how": the IOMAP_F_* flags (SHARED, NEW, DIRTY), a hole's length, and for a
write the allocation, unwritten conversion or CoW (xfs_dax_write_iomap_begin).  Also the
proposed IS_IOMAP_IMMUTABLE check (seed 001).
"""

from __future__ import annotations

from ..state import HOLE, UNWRITTEN, WRITTEN
from ..vocab import And, Not, Or, require, store, when
from .registry import Caller, kernel_function
from .xfs_bmap import hole_run
from .xfs_log import inode_meta_dirty
from .xfs_reflink import is_shared

IOMAP = "fs/xfs/xfs_iomap.c"


@kernel_function("fs/xfs/xfs_iomap.c")
def iomap_f_shared(D, L, s, f, x, op):
    """->iomap_begin IOMAP_F_SHARED (fs/xfs/xfs_iomap.c: xfs_direct_write_iomap_begin,
    xfs_read_iomap_begin).

    ``op``: "read" (a read fault: page association), "fault" (a write fault) or "write"
    (write(2), zeroing, unshare).  Shared = the block has other references in the
    in-core refcount btree or (``shared_check`` in-core+journal) in another inode's
    journaled map.  XFS's always_cow reports every write through the CoW fork; read
    faults get the flag since 6.2 (``read_shared``); before 5.19 the DAX write-fault
    path ignored it (``fault_cow`` in-place)."""
    if op == "read" and D.read_shared == "not-reported":
        return False
    if op == "fault" and D.fault_cow == "in-place":
        return False
    shared = is_shared(L, s, f, x, journal=D.shared_check == "in-core+journal")
    if op != "read" and D.cow_fork == "always":
        return True
    return shared


@kernel_function("fs/xfs/xfs_iomap.c")
def iomap_f_new(D, L, s, f, x):
    """->iomap_begin IOMAP_F_NEW (fs/xfs/xfs_iomap.c): the block is allocated or converted by
    this call (xfs_iomap_write_direct on a hole or an unwritten extent)."""
    kd = s[L.ext_kind[f][x]]
    return Or(kd == HOLE, kd == UNWRITTEN)


@kernel_function("fs/xfs/xfs_iomap.c")
def iomap_f_dirty(D, L, s, f, x, new):
    """->iomap_begin IOMAP_F_DIRTY (fs/xfs/xfs_iomap.c: xfs_direct_write_iomap_begin, 4.15
    'xfs: support for synchronous DAX faults'): the inode has metadata not yet in the log
    (xfs_ipincount && ili_fsync_fields), so a MAP_SYNC fault must fsync first. ``new``: this
    call allocated (IOMAP_F_NEW), for the "new" variant."""
    if D.iomap_dirty == "new":
        return new
    return inode_meta_dirty(L, s, f)


@kernel_function("fs/xfs/xfs_iomap.c")
def iomap_hole_length(D, L, s, f, x, want):
    """->iomap_begin hole length (fs/xfs/xfs_iomap.c): the length of an IOMAP_HOLE at
    ``f``/``x`` when DAX asks for ``want`` blocks (xfs_bmapi_read; ext2_get_blocks left
    bh->b_size at the request, seed 000)."""
    if D.hole_size == "unknown":
        return want
    return hole_run(L, s, f, x, want)


@kernel_function("include/linux/fs.h")
def is_iomap_immutable(D, L, s, f, op):
    """IS_IOMAP_IMMUTABLE (include/linux/fs.h, 2017 S_IOMAP_IMMUTABLE proposal, seed 001):
    ``op`` on ``f`` is refused because its block map is sealed.  ``op``: "fallocate", "punch",
    "truncate", "zero", "collapse", "insert", "unshare", "cow", "reflink-src",
    "reflink-dst"."""
    sealed = s[L.sealed[f]] == 1
    if op in ("cow", "reflink-src"):
        return sealed if D.seal == "no-reflink" else False
    if op in ("collapse", "insert") and D.seal_checks == "no-shift":
        return False
    return sealed


def write_plan(D, L, d, f, x, op):
    """What ->iomap_begin(IOMAP_WRITE) decides for ``f``/``x`` before anything changes:
    ``(plan, ok)`` where ``plan`` = (extent kind, old block, IOMAP_F_SHARED, allocated
    block) and ``ok`` the enabling condition (a block is free if one is needed: else
    ENOSPC; the design lets a shared extent be CoW'd)."""
    kd = d[L.ext_kind[f][x]]
    old = d[L.ext_pblk[f][x]]
    shared = D.iomap_f_shared(L, d, f, x, "fault" if op in ("fault", "seal") else "write")
    needs_block = Or(kd == HOLE, shared)
    found, b = (False, 0) if needs_block is False else D.xfs_bmapi_write(L, d)
    ok = And(
        Or(Not(needs_block), found), Or(Not(shared), Not(D.is_iomap_immutable(L, d, f, "cow")))
    )
    return (kd, old, shared, b), ok


def write_effects(D, L, d, f, x, segs, op, plan):
    """The effects of a :func:`write_plan` (see :func:`begin_write`)."""
    kd, old, shared, b = plan

    def hole(d):
        D.xfs_zero_extent(L, d, b)
        D.dax_iomap_iter_new(L, d, f, x, op)
        d[L.ext_kind[f][x]] = WRITTEN
        d[L.ext_pblk[f][x]] = b
        store(d, L.refcount, b, 1)

    def convert(d):
        D.xfs_zero_extent(L, d, old)
        D.dax_iomap_iter_new(L, d, f, x, op)
        d[L.ext_kind[f][x]] = WRITTEN

    def cow(d):
        D.dax_iomap_copy_around(L, d, kd, old, b, [g for g in L.segs if g not in segs], not segs)
        D.xfs_reflink_end_cow(L, d, f, x, b, caller=Caller(op))

    when(d, And(kd == HOLE, Not(shared)), hole)
    when(d, And(kd == UNWRITTEN, Not(shared)), convert)
    when(d, shared, cow)


@kernel_function(IOMAP)
def xfs_dax_write_iomap_begin(D, L, d, f, x, segs, op="write"):
    """xfs_dax_write_iomap_begin (fs/xfs/xfs_iomap.c) -> xfs_direct_write_iomap_begin
    (->iomap_begin(IOMAP_WRITE)) for one block plus the data-side preparation DAX does
    before storing ``segs`` (xfs_direct_write_iomap_begin / xfs_dax_write_iomap_begin with
    dax_iomap_iter and dax_iomap_copy_around); ``op`` says who asks: "write" (write(2)),
    "fault" (a write fault), "seal", "zero" (dax_zero_range), "unshare":

    * IOMAP_F_SHARED (``D.iomap_f_shared``; always with XFS's always_cow): allocate a
      CoW-fork block (not zeroed), fill the segments outside ``segs`` from the source map
      (``D.dax_iomap_copy_around``), remap (``D.xfs_reflink_end_cow``);
    * else a hole: allocate a block (``D.xfs_bmapi_write``), zeroed (XFS_BMAPI_ZERO,
      ``D.xfs_zero_extent``), written; IOMAP_F_NEW;
    * else unwritten: zero it and convert in place (XFS_BMAPI_CONVERT); IOMAP_F_NEW;
    * written, not shared: in place.

    ``segs`` empty means a fault, seal or unshare: the CoW copies the whole block
    (copy_all).  An IOMAP_F_NEW mapping is invalidated (``D.dax_iomap_iter_new``).  Returns
    False (disabled: ENOSPC, or the design refuses the CoW) before changing ``d``; call it
    at the top level of a transition (it calls :func:`~daxcheck.spec.vocab.require`).
    """
    plan, ok = write_plan(D, L, d, f, x, op)
    if not require(ok):
        return False
    write_effects(D, L, d, f, x, segs, op, plan)
    return True


@kernel_function("fs/xfs/xfs_reflink.c")
def xfs_reflink_unshare(D, L, d, f, off, length):
    """xfs_reflink_unshare (fs/xfs/xfs_reflink.c) -> dax_file_unshare -> dax_unshare_iter over
    blocks ``off`` .. ``off + length - 1`` of ``f`` (FALLOC_FL_UNSHARE_RANGE; a byte range is
    widened to the blocks it touches): each block ->iomap_begin(IOMAP_WRITE | IOMAP_UNSHARE)
    reports IOMAP_F_SHARED is copied whole into a CoW block and remapped
    (``D.xfs_reflink_end_cow`` with ``caller=Caller.UNSHARE``), one block after the other.
    Returns the enabling condition (every shared block got its CoW block: else ENOSPC or a
    design refusing the CoW); the caller ``require``s it and discards ``d`` when it fails.
    (Defined here, next to the write plan it drives, as xfs_iomap.c's callers are.)"""
    ok = True
    for x in range(off, off + length):
        shared = D.iomap_f_shared(L, d, f, x, "write")
        plan, can = write_plan(D, L, d, f, x, Caller.UNSHARE.value)
        ok = And(ok, Or(Not(shared), can))
        when(
            d,
            shared,
            lambda d, x=x, plan=plan: write_effects(D, L, d, f, x, (), Caller.UNSHARE.value, plan),
        )
    return ok
