"""The seed designs: the five seed threads' variants of the fsdax kernel (seeds 000-004),
each a :class:`~daxcheck.spec.designs.Design` with its scope (families explored, default
bounds), the settings that make it the variant, ``expect_violated`` and ``cite``.

Registered in :data:`~daxcheck.spec.designs.DESIGNS` when :mod:`daxcheck.spec.catalog`
imports this module (first, so the seed designs lead the registry's order); the Design
class, its settings and hooks are in :mod:`daxcheck.spec.designs`.
"""

from __future__ import annotations

from typing import Any

from .designs import Design, register_design
from .state import Bounds

_REFLINK: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "store",
        "flush",
        "write",
        "read",
        "reflink",
        "punch",
        "fdatasync",
        "crash",
    ),
    bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=7),
    partial_writes=False,
)
_IMMUTABLE: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "store",
        "flush",
        "write",
        "read",
        "seal",
        "reflink",
        "punch",
        "fdatasync",
        "crash",
    ),
    bounds=Bounds(files=2, blocks=1, phys=3, tokens=1, procs=1, depth=6),
    partial_writes=False,
)
_SYNC: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "store",
        "flush",
        "write",
        "read",
        "fallocate",
        "punch",
        "fdatasync",
        "crash",
    ),
    bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=7),
    partial_writes=False,
)
_MIXED: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "store",
        "flush",
        "write",
        "read",
        "fallocate",
        "fdatasync",
        "crash",
    ),
    bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=2, depth=6),
    partial_writes=False,
)
_COW: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "store",
        "flush",
        "write",
        "read",
        "reflink",
        "punch",
        "fdatasync",
        "crash",
    ),
    bounds=Bounds(files=2, blocks=1, phys=3, tokens=2, procs=1, depth=5),
)
_HOLE: dict[str, Any] = dict(
    families=(
        "mmap",
        "fault",
        "pmd_fault",
        "store",
        "flush",
        "write",
        "read",
        "fallocate",
        "punch",
        "fdatasync",
    ),
    bounds=Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=5),
    partial_writes=False,
)

SEED_DESIGNS = (
    Design(
        "reflink-single-owner",
        "002",
        "reflink on fsdax with one page->mapping per pmem page (the dax_associate_entry TODO)",
        page_owner="single-owner",
        expect_violated=frozenset({"no_page_two_mappings", "no_kernel_warning"}),
        cite="seed 002 (Rodrigues/Wilcox 2021); WARN_ON_ONCE(page->mapping) in dax_associate_entry",
        **_REFLINK,
    ),
    Design(
        "reflink-shared-count",
        "002",
        "reflink on fsdax with PAGE_MAPPING_DAX_SHARED and page->share (5.19/6.2)",
        cite="seed 002; 6.2 'fsdax: introduce page->share for fsdax in reflink mode'",
        **_REFLINK,
    ),
    Design(
        "reflink-refused",
        "002",
        "DAX and reflink exclusive (XFS until 5.18)",
        reflink="refused",
        cite="seed 002; XFS 'DAX and reflink cannot be used together' (until 5.18)",
        **_REFLINK,
    ),
    Design(
        "immutable-extents",
        "001",
        "sealed block map, but sealed files can be reflinked and CoW'd",
        seal="reflink-allowed",
        expect_violated=frozenset({"immutable_extents_never_move", "durable_after_sync"}),
        cite="seed 001 (Wong/Chinner 2017, FALLOC_FL_SEAL_BLOCK_MAP)",
        **_IMMUTABLE,
    ),
    Design(
        "immutable-no-reflink",
        "001",
        "sealed inodes refuse reflink and CoW (Chinner: mutually exclusive)",
        seal="no-reflink",
        cite="seed 001 (Chinner's reply)",
        **_IMMUTABLE,
    ),
    Design(
        "userspace-flush",
        "004",
        "userspace flush is a durability point on any mapping; metadata never synced",
        flush_durable_mode="any",
        mmap_map_sync=False,
        expect_violated=frozenset({"durable_after_sync"}),
        cite="seed 004 (Chinner/Lutomirski 2017, daxfile)",
        **_SYNC,
    ),
    Design(
        "map-sync",
        "004",
        "MAP_SYNC: the fault syncs metadata before the PTE becomes writable (4.15)",
        cite="seed 004; 4.15 'mm: Define MAP_SYNC and VM_SYNC flags', generic/470",
        **_SYNC,
    ),
    Design(
        "mixed-dirty-tracking",
        "004",
        "a MAP_SYNC writer puts the inode in userspace-sync mode; fsync of another "
        "process's plain mapping flushes nothing",
        usync_mode=True,
        expect_violated=frozenset({"durable_after_sync"}),
        cite="seed 004 (Chinner on mixed per-inode sync modes)",
        **_MIXED,
    ),
    Design(
        "cow-single-iomap",
        "003",
        "CoW through one iomap with IOMAP_F_COW: unaligned head/tail left uncopied",
        cow="single-iomap",
        expect_violated=frozenset(
            {
                "no_stale_data",
                "no_stale_data_after_crash",
                "durable_after_sync",
                "read_returns_last_write",
            }
        ),
        cite="seed 003 (Hellwig/Chinner 2019, btrfs DAX IOMAP_F_COW)",
        **_COW,
    ),
    Design(
        "cow-srcmap",
        "003",
        "CoW with a source map: head/tail copied, zeroed for an unwritten source (5.19)",
        cite="seed 003; 5.5 'iomap: use a srcmap for a read-modify-write I/O', 5.19 "
        "'fsdax: Introduce dax_iomap_cow_copy()'",
        **_COW,
    ),
    Design(
        "cow-in-core-refcount",
        "003",
        "in-place overwrite decided by the in-core refcount alone: a block whose sharing an "
        "uncommitted CoW remap broke is overwritten in place, and a crash hands it back to "
        "the other file (model finding)",
        shared_check="in-core",
        expect_violated=frozenset({"durable_after_sync", "no_stale_data_after_crash"}),
        cite="model finding, reproduced on XFS by the kernel oracle (tests/test_oracle.py)",
        **_COW,
    ),
    Design(
        "hole-size-unknown",
        "000",
        "the PMD fault trusts a hole length the filesystem never reported (buffer_head)",
        hole_size="unknown",
        expect_violated=frozenset({"mapping_matches_extents", "read_returns_last_write"}),
        cite="seed 000 (Williams/Wilcox 2016, get_block b_size)",
        **_HOLE,
    ),
    Design(
        "iomap-hole-size",
        "000",
        "->iomap_begin reports the true hole length; PMD zero page only over real holes",
        cite="seed 000; iomap-based DAX faults (4.10)",
        **_HOLE,
    ),
)

for _d in SEED_DESIGNS:
    register_design(_d)
