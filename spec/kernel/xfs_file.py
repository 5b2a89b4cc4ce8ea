"""fs/xfs/xfs_file.c, xfs_bmap_util.c, xfs_ioctl.c: the XFS file operations that drive the
DAX code: fsync, breaking layouts before a block-map change, freeing file space, the
per-inode DAX flag.
"""

from __future__ import annotations

from ..state import XA_PFN
from ..vocab import And, Not, when
from .dax import truncate_pinned_warning
from .registry import Caller, kernel_function
from .xfs_log import inode_meta_dirty


@kernel_function("fs/xfs/xfs_file.c")
def xfs_file_fsync(D, L, d, f):
    """xfs_file_fsync (fs/xfs/xfs_file.c): dax_writeback_mapping_range, then, if the inode is
    pinned (xfs_ipincount: metadata not yet in the log), xfs_fsync_flush_log forces the log up
    to its ili_commit_seq, which pushes the whole current CIL checkpoint (every inode's
    committed transactions).  A clean inode forces nothing, so another inode's change stays out
    of the log (found by the real-DAX oracle on 6.12: pwrite(a), fdatasync(b), crash: a is
    empty after recovery).  ``fsync_log_force="always"``: every fsync forces the log."""
    D.dax_writeback_mapping_range(L, d, f)
    if D.fsync_log_force == "always":
        D.xfs_log_force(L, d)
    else:
        when(d, inode_meta_dirty(L, d, f), lambda d: D.xfs_log_force(L, d))


@kernel_function("fs/xfs/xfs_file.c")
def xfs_break_layouts(D, L, s, f, xs):
    """xfs_break_layouts (fs/xfs/xfs_file.c; BREAK_UNMAP) before a block-map change of indices
    ``xs`` of ``f``: wait while dax_layout_busy_page finds a pinned page (the action is
    disabled until the pin goes).  Returns the enabling condition."""
    return And(*[Not(D.dax_layout_busy_page(L, s, f, x)) for x in xs])


@kernel_function("fs/xfs/xfs_bmap_util.c")
def xfs_free_file_space(D, L, d, f, x):
    """xfs_free_file_space (fs/xfs/xfs_bmap_util.c) for one block: xfs_flush_unmap_range, then
    xfs_bunmapi (the split hole punch of the race designs runs the two halves as separate
    steps)."""
    D.xfs_flush_unmap_range(L, d, f, x)
    D.xfs_bunmapi(L, d, f, x)


@kernel_function("fs/xfs/xfs_bmap_util.c")
def xfs_flush_unmap_range(D, L, d, f, x):
    """xfs_flush_unmap_range (fs/xfs/xfs_bmap_util.c) for one block: write back
    (dax_writeback_one) and unmap the range, deleting its DAX entry (truncate_pagecache_range);
    a page still pinned by get_user_pages (a device pin or an O_DIRECT read's) trips the WARN
    in dax_disassociate_entry."""
    if D.has("pin") or D.has("dio_read"):

        def warn(d):
            truncate_pinned_warning(L, d, d[L.xa_pfn[f][x]])

        when(d, d[L.xa_kind[f][x]] == XA_PFN, warn)
    D.dax_writeback_one(L, d, f, x)
    D.invalidate_inode_pages2_range(L, d, f, x, caller=Caller.FLUSH)


@kernel_function("fs/xfs/xfs_ioctl.c")
def xfs_ioctl_setattr_dax(D, L, d, f, on):
    """xfs_ioctl_setattr_dax: xfs_ioctl_setattr_prepare_dax (fs/xfs/xfs_ioctl.c; 5.8,
    per-inode DAX): FS_XFLAG_DAX is changed on
    disk and S_DAX follows when the inode is next evicted (d_mark_dontcache);
    "immediate": S_DAX flips at once, under live mappings (the 2018 chattr problem)."""
    d[L.xflag_dax[f]] = 1 if on else 0
    if D.dax_toggle == "immediate":
        d[L.s_dax[f]] = 1 if on else 0
