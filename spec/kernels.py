"""Designs named after the kernels the real-DAX oracle boots: what the spec says XFS on DAX
does in Debian's 6.12 and 6.1 kernels, composed from the shipped settings.

Each design is :class:`~daxcheck.spec.designs.Design`'s defaults (the merged 6.x behaviour)
plus the settings below, each with the kernel source that decides it (:data:`SETTINGS`).
They are the designs ``daxcheck oracle --target qemu-dax --kernel K`` compares the booted
kernel with; they are not in the gate's registry (:data:`~daxcheck.spec.designs.DESIGNS`):
their verdicts at small scopes are the shipped history designs' (cow-in-core-refcount,
read-fault-unshared-flag), and what they are checked against is the kernel itself.

A difference between the two kernels that a setting expresses is a finding of the oracle:
the 6.1 design differs from 6.12 in ``read_shared`` ('fsdax,xfs: set the shared flag when
file extent is shared', v6.2, not in 6.1.y) and ``reflink_dax`` ('xfs: remove restrictions
for fsdax and reflink', v6.3), and ``dedupe_compare`` (history item 5's fixes).
"""

from __future__ import annotations

from .designs import ALL_FAMILIES, DESIGNS, Design
from .state import Bounds

SETTINGS: dict[str, dict[str, tuple[object, str]]] = {
    "6.12": {
        "shared_check": (
            "in-core",
            "xfs_reflink_trim_around_shared / xfs_refcount_find_shared: "
            "->iomap_begin decides IOMAP_F_SHARED from the in-core refcount btree; "
            "the loop-XFS oracle's crash experiment shows it",
        ),
        "pmd_pfn_entries": (
            True,
            "dax_iomap_pmd_fault (fs/dax.c): aligned written extents map "
            "pfn PMDs (CONFIG_FS_DAX_PMD=y in Debian's config)",
        ),
        "read_shared": (
            "reported",
            "v6.2 'fsdax,xfs: set the shared flag when file extent is "
            "shared' (xfs_dax_read_iomap_begin sets IOMAP_F_SHARED)",
        ),
        "page_owner": (
            "shared-count",
            "v6.2 'fsdax: introduce page->share for fsdax in reflink "
            "mode' (dax_associate_entry counts sharers)",
        ),
        "dax_toggle": (
            "on-evict",
            "v5.8 'fs/xfs: Change xfs_ioctl_setattr_dax_invalidate()' "
            "(FS_XFLAG_DAX takes effect at inode eviction, d_mark_dontcache)",
        ),
        "mmap_map_sync": (
            True,
            "v4.15 'xfs: support for synchronous DAX faults' "
            "(xfs_file_mmap accepts MAP_SYNC on DAX inodes)",
        ),
        "sync_fault": (
            "iomap-dirty",
            "v4.15 dax_iomap_fault returns VM_FAULT_NEEDDSYNC, dax_finish_sync_fault fsyncs",
        ),
        "fsync_log_force": (
            "if-pinned",
            "xfs_file_fsync: xfs_fsync_flush_log only when xfs_ipincount(ip), up to ili_commit_seq",
        ),
        "reflink_dax": (
            "kept",
            "v6.3 'xfs: remove restrictions for fsdax and reflink' "
            "(xfs_inode_supports_dax no longer refuses reflinked inodes)",
        ),
    },
}
SETTINGS["6.1"] = dict(SETTINGS["6.12"])
SETTINGS["6.1"]["read_shared"] = (
    "not-reported",
    "6.1.y lacks v6.2 'fsdax,xfs: set the shared flag when file extent is "
    "shared': DAX read faults get no IOMAP_F_SHARED (history item 2)",
)
SETTINGS["6.12"]["dedupe_compare"] = (
    "raw-media",
    "dax_range_compare_iter (fs/dax.c): both iterators advance (the 2022-2023 "
    "fixes of history item 5), two holes are the same, a hole and an extent differ, other "
    "extents, unwritten ones too, are compared by their raw pmem bytes",
)
SETTINGS["6.1"]["dedupe_compare"] = (
    "stale-raw-media",
    "6.1.y's dax_dedupe_file_range_compare predates the 2022-2023 fixes "
    "('fsdax: dedupe: iter two files in the same way', 'fsdax: dedupe should compare the min "
    "of two iters' length'): the source iterator stays while the destination's advances; "
    "dax_range_compare_iter's hole and raw-pmem rules as in 6.12; seen on 6.1.192: "
    "FILE_DEDUPE_RANGE_DIFFERS for equal ranges, and for a hole against an unwritten extent",
)
SETTINGS["6.1"]["reflink_dax"] = (
    "dropped-on-load",
    "6.1's xfs_inode_supports_dax: 'Only supported on non-reflinked files' "
    "(removed in v6.3); a reflinked inode read back after log recovery has no S_DAX",
)
"""Kernel label -> setting -> (value, kernel source of that value)."""


def kernel_design(kernel: str, files: int = 3, blocks: int = 2, phys: int = 6) -> Design:
    """The design ``xfs-<kernel>`` (e.g. ``xfs-6.12``) at ``files`` x ``blocks`` (phys
    blocks ``phys``, 3 data tokens, 1 process) with every action family.  Raises KeyError
    for a kernel without an entry in :data:`SETTINGS`."""
    settings = {k: v for k, (v, _src) in SETTINGS[kernel].items()}
    cite = "; ".join(f"{k}={v!r}: {src}" for k, (v, src) in SETTINGS[kernel].items())
    return DESIGNS["cow-srcmap"].variant(
        name=f"xfs-{kernel}",
        seed="kernel",
        summary=f"XFS on fsdax as Debian's {kernel} "
        f"kernel does it (the real-DAX oracle's reference)",
        cite=cite,
        families=ALL_FAMILIES,
        expect_violated=frozenset(),
        bounds=Bounds(files=files, blocks=blocks, phys=phys, tokens=3, procs=1, depth=60),
        **settings,
    )
