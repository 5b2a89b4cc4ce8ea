"""fs/xfs/libxfs/xfs_bmap.c and friends: the block map of an inode, allocation (with busy
extents) and freeing, the refcount btree's counts, zeroing a new extent.
"""

from __future__ import annotations

from ..state import HOLE
from ..vocab import And, ForAll, If, Or, first, select, store, when
from .pmem import zero_block
from .registry import kernel_function
from .views import clear_promise, set_last


def allocatable(L, d, b):
    """Block ``b`` may be handed out: refcount 0 in memory and not referenced by the
    journaled block map (XFS busy extents, xfs_extent_busy_*: a freed extent is not reused
    until the transaction that freed it is on disk)."""
    return And(
        d[L.refcount[b]] == 0,
        ForAll(
            L.file_blks,
            lambda fx: Or(d[L.jext_kind[fx[0]][fx[1]]] == HOLE, d[L.jext_pblk[fx[0]][fx[1]]] != b),
        ),
    )


def find_free(L, d):
    """Lowest allocatable block: ``(found, b)`` (xfs_bmap_btalloc, deterministic)."""
    return first(L.phys, lambda b: allocatable(L, d, b))


def ref_add(L, d, b, delta):
    """refcount[b] += delta (xfs_refcount_increase/decrease; 0 frees the block)."""
    store(d, L.refcount, b, select(d, L.refcount, b) + delta)


def hole_run(L, s, f, x, want):
    """Number of consecutive hole blocks of ``f`` from ``x`` (at most ``want``): the length
    xfs_bmapi_read / ext4_map_blocks reports for a hole."""
    n, run = 0, True
    for y in range(x, min(x + want, len(L.blks))):
        run = And(run, s[L.ext_kind[f][y]] == HOLE)
        n = n + If(run, 1, 0)
    return n


@kernel_function("fs/xfs/libxfs/xfs_bmap.c")
def xfs_bmapi_write(D, L, s):
    """xfs_bmapi_write (fs/xfs/libxfs/xfs_bmap.c) → xfs_bmap_btalloc: ``(found, b)``, the
    lowest block with refcount 0 that no journaled map references (xfs_extent_busy)."""
    return find_free(L, s)


@kernel_function("fs/xfs/xfs_bmap_util.c")
def xfs_zero_extent(D, L, d, b):
    """xfs_zero_extent (fs/xfs/xfs_bmap_util.c; XFS_BMAPI_ZERO for DAX): a new or converted
    block is zeroed with dax_zero_page_range before it is mapped."""
    zero_block(L, d, b)


@kernel_function("fs/xfs/libxfs/xfs_bmap.c")
def xfs_bunmapi(D, L, d, f, x):
    """xfs_bunmapi (fs/xfs/libxfs/xfs_bmap.c) + xfs_refcount_decrease for one block: remove the
    extent of ``f``/``x`` after its mappings are gone: xfs_bunmapi + refcount decrease; the
    block becomes free in memory (busy until the log commits). The offset now reads zeros."""
    when(d, d[L.ext_kind[f][x]] != HOLE, lambda d: ref_add(L, d, d[L.ext_pblk[f][x]], -1))
    d[L.ext_kind[f][x]] = HOLE
    d[L.ext_pblk[f][x]] = 0
    clear_promise(L, d, f, x)
    for g in L.segs:
        set_last(L, d, f, x, g, 0)
