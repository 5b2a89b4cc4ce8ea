"""Coverage scopes (issue 28): designs whose job is to make the gate decide spec branches
that no seed, history or race design's scope reaches, so a design change there cannot pass
the gate unseen.  Each is the merged kernel's behaviour (:class:`Design`'s defaults, sealing
as Chinner proposed where ``seal`` is in scope) in a scope that combines operations the
other designs never combine; ``seed`` is ``cov``.  ``daxcheck coverage`` measures what they
add (docs/coverage.md); the gate pins their verdicts like every other design's.  A race
scope's depth bound lets the search exhaust its reachable space, as the race designs' do.
"""

from __future__ import annotations

from .designs import Design, register_design
from .state import Bounds

SCOPE_SEED = "cov"
"""The ``seed`` of every coverage scope."""


def is_coverage_scope(design: Design) -> bool:
    """Whether ``design`` is a coverage scope: explored by the gate and ``daxcheck
    coverage``, left out of ``daxcheck check`` without ``--design`` (the main job)."""
    return design.seed == SCOPE_SEED


SCOPES = (
    Design(
        "cov-zero-range",
        SCOPE_SEED,
        "FALLOC_FL_ZERO_RANGE over shared (reflinked), pinned and mapped blocks",
        families=(
            "mmap",
            "fault",
            "store",
            "write",
            "reflink",
            "zero_range",
            "pin",
            "fdatasync",
            "crash",
        ),
        bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=5),
        symmetric=("proc", "tok"),  # a pin names its file: no file symmetry
        cite="issue 28: ZERO_RANGE never ran with reflink or with mmap/stores",
    ),
    Design(
        "cov-unshare",
        SCOPE_SEED,
        "FALLOC_FL_UNSHARE_RANGE over holes, shared and exclusive blocks, sealed files",
        families=("mmap", "fault", "write", "reflink", "unshare", "seal", "fallocate", "punch"),
        bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=5),
        seal="no-reflink",
        cite="issue 28: unshare only ever ran over shared blocks",
    ),
    Design(
        "cov-unshare-enospc",
        SCOPE_SEED,
        "FALLOC_FL_UNSHARE_RANGE of a mapped, shared block with no free pmem block left",
        families=("mmap", "fault", "write", "reflink", "unshare"),
        bounds=Bounds(files=2, blocks=2, phys=2, tokens=1, procs=1, depth=5),
        cite="issue 28: unshare never ran out of space (xfs_reflink_unshare -> ENOSPC "
        "from xfs_bmapi_write when the CoW fork cannot get a block)",
    ),
    Design(
        "cov-shift-mapped",
        SCOPE_SEED,
        "COLLAPSE_RANGE / INSERT_RANGE under mappings, stores and pinned pages",
        families=(
            "mmap",
            "fault",
            "store",
            "write",
            "collapse_range",
            "insert_range",
            "pin",
            "seal",
        ),
        bounds=Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=5),
        seal="no-reflink",
        cite="issue 28: collapse/insert never ran with mappings",
    ),
    Design(
        "cov-remap-eof",
        SCOPE_SEED,
        "FICLONERANGE and FIDEDUPERANGE across EOF and onto sealed files",
        families=("write", "truncate", "reflink_range", "dedupe", "seal"),
        bounds=Bounds(files=2, blocks=2, phys=3, tokens=1, procs=1, depth=5),
        seal="no-reflink",
        cite="issue 28: remap ranges never crossed EOF",
    ),
    Design(
        "cov-recover-reflink-6.1",
        SCOPE_SEED,
        "log recovery of reflinked files with 6.1's xfs_inode_supports_dax, which gives a "
        "file that shares a block no S_DAX when its inode is read back",
        families=("mmap", "fault", "write", "reflink", "fdatasync", "crash"),
        bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=5),
        reflink_dax="dropped-on-load",
        cite="issue 28: xlog_recover's reflink_dax rule ran in no scope (6.1's "
        "xfs_inode_supports_dax: 'Only supported on non-reflinked files', removed in v6.3)",
    ),
    Design(
        "cov-truncate-sync-race",
        SCOPE_SEED,
        "fdatasync and a crash inside the split truncate (after truncate_setsize, before "
        "xfs_itruncate_extents), racing a DAX fault",
        families=("mmap", "write", "setattr_size", "dax_fault", "fdatasync", "crash"),
        bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=30, threads=2),
        partial_writes=False,
        cite="issue 28: a log force or crash never landed inside the split truncate; "
        "this scope found the split truncate keeping a sync's promise for data it "
        "had already cut off (fixed in SetattrSize.truncate_setsize)",
    ),
    Design(
        "cov-mkwrite-punch",
        SCOPE_SEED,
        "a hole punch and an munmap between the steps of dax_pfn_mkwrite",
        families=("mmap", "write", "fault", "store", "munmap", "punch", "dax_mkwrite"),
        bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=30, threads=2),
        partial_writes=False,
        cite="issue 28: nothing zapped a PTE between the steps of the mkwrite race",
    ),
    Design(
        "cov-punch-two-files",
        SCOPE_SEED,
        "the fault vs hole-punch race with two files and two pmem blocks, so the block a "
        "stale PTE maps and the block an extent names can differ",
        families=("mmap", "write", "fault", "punch_hole"),
        bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=40, threads=2),
        partial_writes=False,
        symmetric=("proc", "tok"),  # the split punch names its file: no file symmetry
        cite="issue 28: race designs with one pmem block cannot tell two blocks apart",
    ),
    Design(
        "cov-short-copy",
        SCOPE_SEED,
        "write(2) whose user copy ends short (write_short) returns the bytes copied; only "
        "they are the data written and i_size grows only over them",
        families=("mmap", "fault", "store", "write", "write_short", "read", "fdatasync", "crash"),
        bounds=Bounds(files=1, blocks=1, phys=2, tokens=2, procs=1, depth=6),
        cite="issue 25; fs/dax.c dax_iomap_iter (xfer < map_len: -EFAULT, return done), 4.19 "
        "a77d4786 'dax: Report bytes remaining for dax_iomap_actor'",
    ),
)

for _d in SCOPES:
    register_design(_d)
