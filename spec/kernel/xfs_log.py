"""fs/xfs/xfs_log.c and xfs_log_recover.c: what is in the log (the journaled block map and
sizes: ``jext_*``, ``jsize``), forcing it, and rebuilding the in-memory state from it after
a power failure.
"""

from __future__ import annotations

from ..state import HOLE
from ..user_state import crash_user_state, log_force_user_state
from ..vocab import And, Count, Exists, If, Or, select
from .registry import kernel_function


def inode_meta_dirty(L, d, f):
    """The inode has metadata not yet in the journal (xfs_ipincount with
    ili_fsync_fields): in-memory and journaled map or size differ."""
    return Or(
        d[L.size[f]] != d[L.jsize[f]],
        Exists(
            L.blks,
            lambda x: Or(
                d[L.ext_kind[f][x]] != d[L.jext_kind[f][x]],
                d[L.ext_pblk[f][x]] != d[L.jext_pblk[f][x]],
            ),
        ),
    )


@kernel_function("fs/xfs/xfs_log.c")
def xfs_log_force(D, L, d):
    """xfs_log_force (fs/xfs/xfs_log.c): every metadata transaction so far reaches the log, so
    the journaled map and sizes of every inode become the in-memory ones (the log is global and
    ordered), the journalled user state fields too (``"recovered"``)."""
    for f, x in L.file_blks:
        d[L.jext_kind[f][x]] = d[L.ext_kind[f][x]]
        d[L.jext_pblk[f][x]] = d[L.ext_pblk[f][x]]
    for f in L.files:
        d[L.jsize[f]] = d[L.size[f]]
    log_force_user_state(L, d)


def recover_from_log(L, d, per_inode_dax=True):  # noqa: FBT002  (old fsdax.recover, one release)
    """Power failure, mount and log recovery (xlog_recover + refcount btree): CPU caches,
    DAX entries, page tables, struct pages, anonymous pages and in-memory metadata are
    lost; the in-memory map, sizes and (with ``per_inode_dax``: else it stays set) S_DAX
    are rebuilt from the journal and the refcounts recomputed from it.  A user's state fields
    follow their declared crash semantics (:func:`~daxcheck.spec.user_state.state_field`)."""
    keep = set() if per_inode_dax else set(L.s_dax)
    for o in L.volatile:
        if o not in keep:
            d[o] = 0
    for f, x in L.file_blks:
        d[L.ext_kind[f][x]] = d[L.jext_kind[f][x]]
        d[L.ext_pblk[f][x]] = d[L.jext_pblk[f][x]]
    for f in L.files:
        d[L.size[f]] = d[L.jsize[f]]
        if per_inode_dax:
            d[L.s_dax[f]] = d[L.xflag_dax[f]]
    for b in L.phys:
        d[L.refcount[b]] = Count(
            L.file_blks,
            lambda fx: And(d[L.jext_kind[fx[0]][fx[1]]] != HOLE, d[L.jext_pblk[fx[0]][fx[1]]] == b),  # noqa: B023 (Count calls it at once)
        )
    crash_user_state(L, d)


@kernel_function("fs/xfs/xfs_log_recover.c")
def xlog_recover(D, L, d):
    """xlog_recover (fs/xfs/xfs_log_recover.c), mount after a power failure: the log is
    replayed; volatile state is gone (see :func:`~recover_from_log`).  With
    ``reflink_dax="dropped-on-load"`` (6.1's xfs_inode_supports_dax) a file that shares a block
    after recovery comes back without S_DAX."""
    recover_from_log(L, d, per_inode_dax=D.has("dax_toggle"))
    if D.reflink_dax == "dropped-on-load":
        for f in L.files:
            shares = Or(
                *[
                    And(d[L.ext_kind[f][x]] != HOLE, select(d, L.refcount, d[L.ext_pblk[f][x]]) > 1)
                    for x in L.blks
                ]
            )
            d[L.s_dax[f]] = If(shares, 0, d[L.s_dax[f]])
