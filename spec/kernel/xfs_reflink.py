"""fs/xfs/xfs_reflink.c: sharing blocks between inodes (FICLONE, FICLONERANGE,
FIDEDUPERANGE), the shared-extent test behind IOMAP_F_SHARED, and the CoW remap.
"""

from __future__ import annotations

from ..state import HOLE, UNWRITTEN, WRITTEN
from ..vocab import And, Exists, If, Not, Or, select, store, when
from .registry import Caller, kernel_function
from .views import grow, set_last
from .xfs_bmap import ref_add


def is_shared(L, d, f, x, journal=True):  # noqa: FBT002  (old fsdax.is_shared, one release)
    """IOMAP_F_SHARED: the extent's block has more than one reference in the in-core
    refcount btree (reflinked) or, with ``journal``, is still referenced by another
    inode's *journaled* map (a CoW remap or punch not yet committed): overwriting it in
    place would change what that inode reads after a crash."""
    k = d[L.ext_kind[f][x]]
    if type(k) is int and k == HOLE:  # concrete shortcut; symbolic kinds take the general path
        return False
    p = d[L.ext_pblk[f][x]]
    shared = select(d, L.refcount, p) > 1
    if journal and shared is not True:
        shared = Or(
            shared,
            Exists(
                L.file_blks,
                lambda gy: And(
                    gy != (f, x),
                    d[L.jext_kind[gy[0]][gy[1]]] != HOLE,
                    d[L.jext_pblk[gy[0]][gy[1]]] == p,
                ),
            ),
        )
    return And(k != HOLE, shared)


@kernel_function("fs/xfs/xfs_reflink.c")
def xfs_reflink_remap_prep(D, L, s, src, dst):
    """xfs_reflink_remap_prep (fs/xfs/xfs_reflink.c): whether
    FICLONE/FICLONERANGE/FIDEDUPERANGE ``src`` → ``dst`` proceeds (else EINVAL/EPERM:
    disabled)."""
    if D.reflink == "refused":
        return False
    return And(
        Not(D.is_iomap_immutable(L, s, src, "reflink-src")),
        Not(D.is_iomap_immutable(L, s, dst, "reflink-dst")),
    )


@kernel_function("fs/xfs/xfs_reflink.c")
def xfs_reflink_remap_blocks(D, L, d, a, b, soff, doff, length, *, dedupe=False):
    """xfs_reflink_remap_range -> xfs_reflink_remap_blocks (fs/xfs/xfs_reflink.c) of blocks
    ``soff``.. of ``src`` ``a`` onto ``doff``.. of ``dst`` ``b``, ``length`` blocks, shortened
    to ``a``'s EOF (generic_remap_checks): the source range is written back
    (dax_writeback_mapping_range), the destination range is written back and its mappings and
    entries dropped (xfs_flush_unmap_range), each destination block is unmapped (its old block
    loses a reference) and, when the source block is a *written* extent, the source block is
    shared into it (refcount + 1).  A hole or an unwritten source extent leaves a hole
    (xfs_reflink_remap_extent maps only xfs_bmap_is_written_extent since 5.8; the kernel oracle
    showed FICLONE of a fallocated file gives a destination with no extent and an unshared
    source), except that an unwritten destination block facing an unwritten source block is
    left as it is ("both unwritten, nothing to do"; also seen on the kernel).  The
    destination's i_size grows to the end of the range, never shrinks
    (xfs_reflink_update_dest).  Ghosts: a clone inherits what was written at the source offset
    and its last data; a dedupe (``dedupe``) changes no file's contents, so the destination
    keeps its own."""
    sz = d[L.size[a]]
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: D.dax_writeback_one(L, d, a, soff + i))
    for i in range(length):
        when(d, soff + i < sz, lambda d, i=i: D.dax_writeback_one(L, d, b, doff + i))
    for i in range(length):
        x, y = soff + i, doff + i

        def replace(d, x=x, y=y):
            last = [d[L.ghost_last[a][x][g]] for g in L.segs]
            D.xfs_bunmapi(L, d, b, y)
            written = d[L.ext_kind[a][x]] == WRITTEN
            d[L.ext_kind[b][y]] = If(written, WRITTEN, HOLE)
            d[L.ext_pblk[b][y]] = If(written, d[L.ext_pblk[a][x]], 0)
            when(d, written, lambda d: ref_add(L, d, d[L.ext_pblk[a][x]], 1))
            if dedupe:
                return
            for g in L.segs:
                set_last(L, d, b, y, g, If(written, last[g], 0))
                for t in L.toks:
                    o = L.ghost_written[b][y][g][t - 1]
                    d[o] = If(d[L.ghost_written[a][x][g][t - 1]] == 1, 1, d[o])

        def remap(d, x=x, y=y, replace=replace):
            if dedupe:
                keep = [d[L.ghost_last[b][y][g]] for g in L.segs]
            D.invalidate_inode_pages2_range(L, d, b, y, caller=Caller.REMAP)
            when(
                d,
                Not(And(d[L.ext_kind[a][x]] == UNWRITTEN, d[L.ext_kind[b][y]] == UNWRITTEN)),
                replace,
            )
            if dedupe:
                for g in L.segs:
                    set_last(L, d, b, y, g, keep[g])

        when(d, soff + i < sz, remap)
    grow(L, d, b, If(sz - soff < length, doff + sz - soff, doff + length))


@kernel_function("fs/xfs/xfs_reflink.c")
def xfs_reflink_end_cow(D, L, d, f, x, new, caller: Caller | None = None):
    """xfs_reflink_end_cow (fs/xfs/xfs_reflink.c): the file block now maps the CoW destination
    ``new``; the old block (if any: an always_cow write into a hole has none) loses a
    reference; the index's mappings and entry are invalidated first (dax_iomap_iter invalidates
    the range of a CoW write, dax_insert_entry unmaps a shared index).  ``caller``
    (:class:`~daxcheck.spec.kernel.registry.Caller`): whose CoW ends, WRITE (write(2)),
    FAULT (a write fault), ZERO (zero range), UNSHARE (unshare range), SEAL; passed on to
    the invalidation."""
    D.invalidate_inode_pages2_range(L, d, f, x, caller=caller)
    when(d, d[L.ext_kind[f][x]] != HOLE, lambda d: ref_add(L, d, d[L.ext_pblk[f][x]], -1))
    d[L.ext_kind[f][x]] = WRITTEN
    d[L.ext_pblk[f][x]] = new
    store(d, L.refcount, new, 1)
