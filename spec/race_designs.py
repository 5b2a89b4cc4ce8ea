"""The race designs (issue 11): locking changes from fs/dax.c's and XFS's history, each a
pair (or triple) of designs that differ in one lock-discipline setting, the kernel before
the fix (violated) and after it (every property holds), explored with two kernel threads
in one narrow scope.  ``seed`` is ``r<n>``; ``cite`` names the commit, thread or xfstest
(the commit subjects were checked against the linux-mm / linux-fsdevel archives).

Each default bound lets the breadth-first search exhaust the reachable space (the
frontier empties before the depth bound), so "holds" covers every interleaving at these
sizes and the partial-order reduction cannot push a violation past the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .designs import Design, register_design
from .history import pair
from .state import Bounds

RACES = []


def _race(n, scope, bounds, setting, values, names, summaries, violated, cite, **common):
    """Designs ``names`` with ``setting`` = each of ``values`` (the last is the fix, which
    violates nothing), in one scope (history.py's ``pair`` with seed ``r<n>``)."""
    values = tuple(values)
    return pair(
        n,
        scope,
        bounds,
        setting,
        values[:-1],
        values[-1],
        cite,
        summaries,
        violated,
        names,
        prefix="r",
        **common,
    )


# r1. Fault vs hole punch: the punch unmaps the range and deletes its DAX entry, a fault
#     maps the block again, the punch frees it.  XFS serialises them with MMAPLOCK (4.1),
#     the VFS with invalidate_lock (5.15).
RACES += _race(
    1,
    ("mmap", "write", "fault", "punch_hole"),
    Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=20, threads=2),
    "mmaplock",
    ("none", "fault+truncate"),
    ("fault-punch-unlocked", "fault-punch-mmaplock"),
    (
        "a page fault maps the block again between the hole punch's truncate_pagecache_range "
        "and xfs_bunmapi: the PTE outlives the extent (no lock between faults and punch)",
        "faults take XFS_MMAPLOCK_SHARED, hole punch XFS_MMAPLOCK_EXCL across the unmap and "
        "the free (4.1; invalidate_lock 5.15)",
    ),
    (frozenset({"mapping_matches_extents", "read_returns_last_write"}),),
    "race r1; 4.1 'xfs: introduce mmap/truncate lock' (Dave Chinner, Jan 2015: page fault "
    "IO vs truncate, hole punch, extent shifts); the VFS invalidate_lock (5.15) since",
    partial_writes=False,
)

# r2. Read fault vs write(2): the fault sees a hole, write(2) allocates and writes the
#     block and invalidates the (still empty) range, the fault maps the zero page.
RACES += _race(
    2,
    ("mmap", "write", "truncate", "dax_fault"),
    Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=12, threads=2),
    "fault_entry_lock",
    ("after-iomap", "before-iomap"),
    ("fault-write-late-entry-lock", "fault-write-entry-lock"),
    (
        "the fault locks the DAX entry after ->iomap_begin: a racing write(2) fills the hole "
        "and its invalidation finds nothing, then the fault maps the zero page over the data",
        "grab_mapping_entry before ->iomap_begin: the write's invalidation waits for the fault "
        "and unmaps the zero page (2017)",
    ),
    (frozenset({"mapping_matches_extents", "read_returns_last_write"}),),
    "race r2; 'dax: Fix data corruption when fault races with write' (Jan Kara, May 2017, "
    "linux-mm [PATCH 4/4])",
    partial_writes=False,
)

# r3. PMD vs PTE faults on one MAP_PRIVATE range: reads take a PMD, writes a PTE (CoW).
RACES += _race(
    3,
    ("mmap_private", "truncate", "dax_fault", "dax_pmd_fault"),
    Bounds(files=1, blocks=2, phys=1, tokens=1, procs=1, depth=24, threads=2),
    "fault_pmd_recheck",
    ("none", "recheck"),
    ("pmd-pte-fault-no-recheck", "pmd-pte-fault-recheck"),
    (
        "a PTE write fault and a PMD read fault of one private mapping each saw pmd_none and "
        "install under the other's entry lock: a PTE under a huge PMD",
        "both faults recheck the PMD under the DAX entry lock and back off (2017)",
    ),
    (frozenset({"pmd_excludes_pte"}),),
    "race r3; 'dax: Fix race between colliding PMD & PTE entries' (Ross Zwisler, May "
    "2017); xfstests generic/437",
    partial_writes=False,
)

# r4. DMA pins vs punch hole: get_user_pages_fast vs dax_layout_busy_page.
_R4_CITE = (
    "4.18 'mm, fs, dax: handle layout changes to pinned dax mappings' (5fac7408d828), "
    "4.19 'xfs, dax: introduce xfs_break_dax_layouts()' (d6dc57e251a4), Dan Williams "
    "2018; xfstests generic/503"
)
RACES += _race(
    4,
    ("mmap", "write", "fault", "pin", "dma", "punch_hole"),
    Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=40, threads=2),
    "layout_break",
    ("no-unmap", "unmap-drop-retry"),
    ("busy-page-no-unmap", "busy-page-unmap"),
    (
        "punch looks for pinned pages with the mapping left in place: get_user_pages_fast "
        "pins the page through its PTE after the check, and the block is freed under the DMA",
        "dax_layout_busy_page unmaps the range under XFS_MMAPLOCK_EXCL first, so a new pin "
        "must fault and wait for the punch (4.18)",
    ),
    (frozenset({"pinned_pages_stay_allocated", "no_kernel_warning", "read_returns_last_write"}),),
    "race r4; " + _R4_CITE,
    partial_writes=False,
)

# r5. The wait for a busy page vs the O_DIRECT read that pinned it (deadlock).
RACES += _race(
    5,
    ("mmap", "write", "punch_hole", "dio_read"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=30, threads=2),
    "layout_break",
    ("hold-mmaplock", "unmap-drop-retry"),
    ("busy-page-wait-holds-mmaplock", "xfs-break-dax-layouts"),
    (
        "punch waits for a pinned page holding XFS_MMAPLOCK_EXCL: the O_DIRECT read that "
        "pinned it must fault its next page, which needs MMAPLOCK: deadlock",
        "xfs_break_dax_layouts drops MMAPLOCK while it waits for the page and retries (4.19)",
    ),
    (frozenset({"no_deadlock"}),),
    "race r5; " + _R4_CITE,
    partial_writes=False,
)

# r6. Write-protect fault vs writeback: the entry is tagged dirty, fsync cleans it and
#     write-protects the (still read-only) PTE, then the fault makes the PTE writable.
RACES += _race(
    6,
    ("mmap", "write", "fault", "store", "fdatasync", "dax_mkwrite"),
    Bounds(files=1, blocks=1, phys=1, tokens=2, procs=1, depth=20, threads=2),
    "mkwrite_entry_lock",
    ("none", "held"),
    ("mkwrite-unlocked", "mkwrite-entry-lock"),
    (
        "dax_pfn_mkwrite tags the entry dirty without the entry lock: fdatasync cleans it "
        "before the PTE becomes writable, so the next fdatasync skips the stores made "
        "through it and promises stale media",
        "the entry lock is held from tagging to the writable PTE (2016)",
    ),
    (frozenset({"durable_after_sync"}),),
    "race r6; 'dax: Protect PTE modification on WP fault by radix tree entry lock' (Jan "
    "Kara, 2016 series, merged with 'dax: clear dirty entry tags on cache flush')",
    partial_writes=False,
)

# r7. Fault vs truncate: dax_iomap_pte_fault checks i_size, ftruncate lowers it and
#     deletes the DAX entry, the fault locks a fresh entry, finds the block not yet freed and
#     maps it, xfs_itruncate_extents frees it.  MMAPLOCK (4.1) serialises them.
RACES += _race(
    7,
    ("mmap", "write", "setattr_size", "dax_fault"),
    Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=14, threads=2),
    "mmaplock",
    ("none", "fault+truncate"),
    ("fault-truncate-unlocked", "fault-truncate-mmaplock"),
    (
        "a page fault checks i_size before ftruncate lowers it and maps the block after "
        "truncate_pagecache deleted its entry: xfs_itruncate_extents frees the block under "
        "the new PTE (no lock between faults and truncate)",
        "faults take XFS_MMAPLOCK_SHARED across the i_size check and the insert, truncate "
        "XFS_MMAPLOCK_EXCL (4.1; the i_size check in dax_iomap_pte_fault is 'a reliable "
        "test' only under it)",
    ),
    (frozenset({"mapping_matches_extents", "read_returns_last_write"}),),
    "race r7; 4.1 'xfs: introduce mmap/truncate lock' (Dave Chinner, Jan 2015: page fault "
    "IO vs truncate); fs/dax.c dax_iomap_pte_fault: 'Caller is supposed to hold locks "
    "serializing us with truncate / punch hole so this is a reliable test'",
    partial_writes=False,
)


# r8. Two write faults on one new block, both zeroing it (the fault path's own zeroing,
#     dax_iomap_zero, outside any lock the faults share): the second wipes a store made
#     through the first's PTE.  Fixed by allocating the block zeroed under the allocation
#     lock (XFS_BMAPI_ZERO; ext4/ext2 2016).  No entry lock around ->iomap_begin: the 4.x
#     fault path this comes from had none.
@dataclass(frozen=True)
class ZeroInFault(Design):
    """->iomap_begin allocates a hole's block unwritten and not zeroed: each write fault that
    sees the block new zeroes it after ->iomap_begin (4.x __dax_fault's dax_clear_sectors)."""

    def xfs_bmapi_zero(self, L, op):
        """XFS_BMAPI_ZERO not set: the fault zeroes the block itself (dax_iomap_zero)."""
        return False


_R8_CITE = (
    "race r8; 'ext4: implement allocation of pre-zeroed blocks', 'ext2: Return BH_New "
    "buffers for zeroed blocks', 'dax: Remove zeroing from dax_io()' (Jan Kara, 2016); XFS "
    "XFS_BMAPI_ZERO for DAX (4.2)"
)
_R8 = next(d for d in RACES if d.name == "fault-write-entry-lock").variant(
    name="write-fault-prezeroed",
    seed="r8",
    families=("mmap", "truncate", "store", "dax_write_fault"),
    bounds=Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=30, threads=2),
    fault_entry_lock="after-iomap",
    partial_writes=False,
    cite=_R8_CITE,
    summary="blocks are allocated zeroed under the allocation lock (XFS_BMAPI_ZERO): a second "
    "write fault finds the block written and zeroes nothing",
    expect_violated=frozenset(),
)
RACES.append(
    ZeroInFault(
        **{
            **{f.name: getattr(_R8, f.name) for f in fields(Design)},
            "name": "write-fault-double-zero",
            "summary": "two write faults on a new block both zero it after ->iomap_begin: the "
            "second zeroing wipes a store made through the first fault's PTE",
            "expect_violated": frozenset({"read_returns_last_write"}),
        }
    )
)
RACES.append(_R8)

for _d in RACES:
    register_design(_d)
