"""The history designs: each fsdax design problem of ``fsdax-history.md`` (items 1-10) as a
pair or triple of designs, the kernel before the fix (its property is violated) and after
(every property holds), differing in one setting and explored in the same narrow scope
(the families and bounds the bug needs, like a TLA+ ``.cfg``).  ``cite`` names the commit,
patch series, thread or xfstest; ``seed`` is ``h<item>``.

Races between concurrent kernel threads (the locking of generic/437's PMD/PTE race, the
gup-vs-punch race window) are the race designs of :mod:`daxcheck.spec.race_designs`, where
those operations are split into lock-delimited steps; here each operation is atomic.
"""

from __future__ import annotations

from .designs import Design, register_design
from .state import Bounds


def pair(
    item,
    scope,
    bounds,
    setting,
    before,
    after,
    cite,
    summaries,
    violated,
    names,
    prefix="h",
    **common,
):
    """The designs of one history item (seed ``f"{prefix}{item}"``): the same scope and
    bounds, ``setting`` = each of ``before`` (a value or a tuple of values) then ``after``
    (the fix, which violates nothing)."""
    before = before if isinstance(before, tuple) else (before,)
    out = []
    for name, value, summary, bad in zip(
        names, before + (after,), summaries, tuple(violated) + (frozenset(),)
    ):
        out.append(
            Design(
                name,
                f"{prefix}{item}",
                summary,
                families=scope,
                bounds=bounds,
                expect_violated=frozenset(bad),
                cite=cite,
                **{setting: value},
                **common,
            )
        )
    return out


HISTORY = []

# 1. Reflink vs the single-owner page->mapping: two indices of ONE file share a block
#    (FICLONERANGE within a file), so page->mapping/index can name only one of them.
HISTORY += pair(
    1,
    ("mmap", "fault", "write", "read", "reflink_range"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=8),
    "page_owner",
    "single-owner",
    "shared-count",
    "history 1; until 5.19 dax_associate_entry kept one page->mapping (XFS refused DAX+reflink); "
    "5.19 'fsdax: set a CoW flag when associate reflink mappings', 6.2 page->share",
    (
        "a block shared by two indices of one file (FICLONERANGE) gets one page->mapping/index "
        "(pre-5.19 dax_associate_entry)",
        "a shared block is marked PAGE_MAPPING_DAX_SHARED with a share count (5.19/6.2)",
    ),
    (frozenset({"no_page_two_mappings", "no_kernel_warning"}),),
    ("reflink-range-single-owner", "reflink-range-shared"),
    partial_writes=False,
)

# 2. read -> reflink -> read: the read fault did not report IOMAP_F_SHARED, so the second
#    read took the single-owner path over a page another file owns.
HISTORY += pair(
    2,
    ("mmap", "fault", "write", "read", "reflink"),
    Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=9),
    "read_shared",
    "not-reported",
    "reported",
    "history 2; 2022 warning on read->FICLONE->read; 6.2 series 'fsdax,xfs: fix warning "
    "messages': 'fsdax,xfs: set the shared flag when file extent is shared', 'fsdax: "
    "introduce page->share for fsdax in reflink mode'",
    (
        "read faults get no IOMAP_F_SHARED: after FICLONE a->b a read fault of b associates "
        "a's page as b's alone (WARN_ON_ONCE(page->mapping))",
        "XFS reports IOMAP_F_SHARED on DAX read faults (6.2)",
    ),
    (frozenset({"no_page_two_mappings", "no_kernel_warning"}),),
    ("read-fault-unshared-flag", "read-fault-reports-shared"),
    partial_writes=False,
)

# 3. Copy-on-write in the DAX fault path: before dax_iomap_cow_copy a write fault mapped
#    the shared block itself writable.
HISTORY += pair(
    3,
    ("mmap", "fault", "store", "write", "read", "reflink"),
    Bounds(files=2, blocks=1, phys=2, tokens=2, procs=1, depth=7),
    "fault_cow",
    "in-place",
    "copy",
    "history 3; 5.19 series 'fsdax,xfs: Add reflink&dedupe support for fsdax': 'fsdax: "
    "Introduce dax_iomap_cow_copy()', 'fsdax: Replace mmap entry in case of CoW'",
    (
        "a write fault on a reflinked block maps it writable in place (the DAX fault path "
        "before 5.19 ignores IOMAP_F_SHARED): stores land in the other file too",
        "a write fault on a shared block copies it (dax_iomap_cow_copy) and remaps (5.19)",
    ),
    (
        frozenset(
            {
                "no_stale_data",
                "no_stale_data_after_crash",
                "read_returns_last_write",
                "dedupe_shares_equal_data",
            }
        ),
    ),
    ("cow-fault-in-place", "cow-fault-copy"),
    partial_writes=False,
)

# 4. CoW over a hole or unwritten source (XFS always_cow: every write goes through the
#    CoW fork, whose blocks are not zeroed): the edges kept the previous owner's data.
HISTORY += pair(
    4,
    ("write", "read", "fallocate", "punch", "zero_range", "unshare"),
    Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=7),
    "cow_edges",
    "stale",
    "zeroed",
    "history 4; 6.2 'fsdax: zero the edges if source is HOLE or UNWRITTEN' (2022), 2023 "
    "'fsdax: unshare: zero destination if srcmap is HOLE or UNWRITTEN'; XFS always_cow",
    (
        "CoW with a hole source skips the copy and an unwritten source is copied raw: the new "
        "block's edges keep stale pmem (before 6.2)",
        "CoW zeroes the edges when the source is a hole or unwritten (6.2)",
    ),
    (frozenset({"no_stale_data", "read_returns_last_write"}),),
    ("cow-edges-stale", "cow-edges-zeroed"),
    cow_fork="always",
)

# 5. Dedupe compared the wrong ranges: the source iterator stayed on its first block.
HISTORY += pair(
    5,
    ("write", "read", "dedupe"),
    Bounds(files=2, blocks=2, phys=4, tokens=2, procs=1, depth=6),
    "dedupe_compare",
    "stale-srcmap",
    "lockstep",
    "history 5; 6.2 'fsdax: dedupe: iter two files at the same time' (2022)",
    (
        "dax_dedupe_file_range_compare advances only the destination: blocks that differ are "
        "shared",
        "both iterators advance in lockstep (6.2)",
    ),
    (frozenset({"no_stale_data", "read_returns_last_write", "dedupe_shares_equal_data"}),),
    ("dedupe-stale-srcmap", "dedupe-lockstep"),
    partial_writes=False,
)

# 5b. Dedupe compares raw pmem, also of unwritten extents (6.12, found by the real-DAX
#     oracle): a fallocated block whose freed pmem still holds old data "equals" a written
#     block of that data, and the destination is remapped to the unwritten extent (a hole).
HISTORY += pair(
    5,
    ("write", "read", "fallocate", "punch", "fdatasync", "dedupe"),
    Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=7),
    "dedupe_compare",
    "raw-media",
    "lockstep",
    "history 5; real-DAX oracle on Debian 6.12.118: fs/dax.c dax_range_compare_iter memcmp()s "
    "the pmem of an unwritten extent (reproducer in docs/real-dax.md)",
    (
        "dax_range_compare_iter compares an unwritten extent's raw pmem: stale bytes equal to "
        "the destination's data make FIDEDUPERANGE replace written data by a hole",
        "dedupe compares what read(2) returns: an unwritten extent reads as zeros",
    ),
    (
        frozenset(
            {
                "no_stale_data",
                "no_stale_data_after_crash",
                "read_returns_last_write",
                "dedupe_shares_equal_data",
            }
        ),
    ),
    ("dedupe-raw-media", "dedupe-file-view"),
    partial_writes=False,
)

# 6. DMA pin vs punch/truncate: with DAX the DMA target is the filesystem block itself.
HISTORY += pair(
    6,
    ("mmap", "fault", "write", "read", "punch", "truncate", "pin", "dma"),
    Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=9),
    "break_layouts",
    "none",
    "wait",
    "history 6; 4.18/4.19 dax_layout_busy_page + xfs_break_dax_layouts, 'ext4: handle "
    "layout changes to pinned DAX mapping'; xfstests generic/503",
    (
        "punch hole and truncate free a block whose page an O_DIRECT read into a DAX mapping "
        "still has pinned (before dax_layout_busy_page)",
        "punch and truncate wait while dax_layout_busy_page finds a pinned page (4.19)",
    ),
    (frozenset({"pinned_pages_stay_allocated", "no_kernel_warning", "read_returns_last_write"}),),
    ("dma-pin-ignored", "dax-layout-busy-page"),
    partial_writes=False,
)

# 7. MAP_SYNC, split into its decisions: which mappings ->iomap_begin flags IOMAP_F_DIRTY
#    for, and whether the fault acts on it at all.
_SYNC_SCOPE = (
    "mmap",
    "fault",
    "store",
    "flush",
    "write",
    "read",
    "fallocate",
    "fsync",
    "msync",
    "crash",
    "evict",
)
_SYNC_BOUNDS = Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=8)
_SYNC_CITE = (
    "history 7; 4.15 MAP_SYNC: 'dax: Implement dax_finish_sync_fault()', 'xfs: "
    "support for synchronous DAX faults' (IOMAP_F_DIRTY when xfs_ipincount); "
    "xfstests generic/470"
)
HISTORY += [
    Design(
        "map-sync-dirty-if-new",
        "h7",
        "IOMAP_F_DIRTY only when this fault allocated: a MAP_SYNC write fault over a block "
        "write(2) allocated but the log has not committed maps it writable unsynced",
        families=_SYNC_SCOPE,
        bounds=_SYNC_BOUNDS,
        cite=_SYNC_CITE,
        iomap_dirty="new",
        expect_violated=frozenset({"durable_after_sync"}),
        partial_writes=False,
    ),
    Design(
        "map-sync-no-sync-fault",
        "h7",
        "MAP_SYNC accepted by mmap but the fault never returns VM_FAULT_NEEDDSYNC",
        families=_SYNC_SCOPE,
        bounds=_SYNC_BOUNDS,
        cite=_SYNC_CITE,
        sync_fault="never",
        expect_violated=frozenset({"durable_after_sync"}),
        partial_writes=False,
    ),
    Design(
        "map-sync-dirty-if-pinned",
        "h7",
        "IOMAP_F_DIRTY whenever the inode has unlogged metadata, and the fault fsyncs "
        "before the PTE is writable (4.15)",
        families=_SYNC_SCOPE,
        bounds=_SYNC_BOUNDS,
        cite=_SYNC_CITE,
        partial_writes=False,
    ),
]

# 8. Immutable extents: every operation that moves extents must be refused, including
#    the ones that shift them (defrag, collapse/insert range).
HISTORY += pair(
    8,
    ("write", "read", "seal", "punch", "collapse_range", "insert_range", "fdatasync"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=7),
    "seal_checks",
    "no-shift",
    "all",
    "history 8; 2017 FALLOC_FL_SEAL_BLOCK_MAP / S_IOMAP_IMMUTABLE proposal (not merged); "
    "Chinner: reflink, defrag and CoW all need to move extents",
    (
        "a sealed block map refuses punch and reflink but not collapse/insert range, which "
        "shift the extents",
        "a sealed block map refuses every change, collapse and insert range included",
    ),
    (frozenset({"immutable_extents_never_move"}),),
    ("seal-ignores-collapse", "seal-refuses-collapse"),
    seal="no-reflink",
    partial_writes=False,
)

# 9. PMD vs PTE entries.
_PMD_CITE = "history 9; xfstests generic/437 and generic/428"
HISTORY += pair(
    9,
    ("mmap", "fault", "pmd_fault", "write", "read", "truncate"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=2, depth=7),
    "pmd_conflict",
    "index-only",
    "xas_find_conflict",
    "history 9; 2016 4K zero-page entries left under a PMD, 2018 XArray conversion "
    "(xas_find_conflict in grab_mapping_entry)",
    (
        "a PMD fault looks up only the aligned index: another process's 4 KiB zero-page entry "
        "stays inside the new PMD entry",
        "grab_mapping_entry's xas_find_conflict sends the PMD fault back to PTEs",
    ),
    (frozenset({"pmd_excludes_pte"}),),
    ("pmd-lookup-index-only", "pmd-find-conflict"),
    partial_writes=False,
    pmd_pfn_entries=True,
)
HISTORY += pair(
    9,
    ("mmap", "fault", "pmd_fault", "write", "read", "truncate"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=7),
    "new_invalidate",
    "faults-only",
    "always",
    "history 9; 4.12 'dax: fix data corruption due to stale mmap reads'; xfstests generic/428",
    (
        "write(2) into a hole under a zero page (PTE or PMD) does not invalidate it: mmap reads "
        "keep returning zeros",
        "write(2) invalidates an IOMAP_F_NEW range before copying (4.12)",
    ),
    (frozenset({"read_returns_last_write", "mapping_matches_extents"}),),
    ("write-keeps-zero-page", "write-invalidates-zero-page"),
    partial_writes=False,
)
HISTORY += pair(
    9,
    ("mmap", "mmap_private", "munmap", "fault", "pmd_fault", "store", "write", "read", "truncate"),
    Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=6),
    "private_pmd_split",
    "none",
    "split",
    "history 9; xfstests generic/437 (t_mmap_cow_race): 'mm: avoid spurious 'bad pmd' "
    "warning messages', 'dax: Fix race between colliding PMD & PTE entries' (the race "
    "itself is issue 11)",
    (
        "a MAP_PRIVATE write fault installs an anonymous PTE under the process's live PMD mapping",
        "the private write fault splits the PMD mapping first (falls back to PTEs)",
    ),
    (frozenset({"pmd_excludes_pte"}),),
    ("pmd-private-no-split", "pmd-private-split"),
    partial_writes=False,
    pmd_pfn_entries=True,
)

HISTORY += pair(
    9,
    ("mmap", "pmd_fault", "pmd_write_fault", "store", "write", "fdatasync"),
    Bounds(files=1, blocks=2, phys=2, tokens=2, procs=1, depth=7),
    "pmd_mkclean",
    "pte-only",
    "wrprotect",
    "history 9; 4.10 f729c8c9b24f 'dax: wrprotect pmd_t in dax_mapping_entry_mkclean' "
    "(issue 25: PMD write faults)",
    (
        "writeback cleans a dirty PMD entry but leaves the PMD writable: a store through it "
        "dirties no entry and the next fdatasync flushes nothing",
        "dax_entry_mkclean write-protects and cleans the PMD (4.10), so the next store "
        "faults and re-dirties the entry",
    ),
    (frozenset({"durable_after_sync"}),),
    ("pmd-mkclean-pte-only", "pmd-mkclean-wrprotect"),
    partial_writes=False,
    pmd_pfn_entries=True,
)

# 10. Toggling S_DAX while mapped.
HISTORY += pair(
    10,
    ("mmap", "munmap", "fault", "store", "write", "read", "dax_toggle", "evict_inode"),
    Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=7),
    "dax_toggle",
    "immediate",
    "on-evict",
    "history 10; 2018 chattr +j on a mapped DAX file; 5.8 per-inode DAX "
    "(FS_XFLAG_DAX takes effect at inode eviction, d_mark_dontcache); xfstests "
    "generic/605-608",
    (
        "clearing FS_XFLAG_DAX flips S_DAX at once, under a live DAX mapping",
        "S_DAX follows FS_XFLAG_DAX only when the inode is evicted (5.8)",
    ),
    (frozenset({"dax_flag_changes_only_when_unmapped"}),),
    ("dax-toggle-immediate", "dax-toggle-on-evict"),
    partial_writes=False,
)

for _d in HISTORY:
    register_design(_d)
