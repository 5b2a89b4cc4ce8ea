"""Unit tests of each action's transition (one or more per action family)."""

from helpers import (
    Crash,
    Evict,
    Fallocate,
    Fault,
    Fdatasync,
    Flush,
    Mmap,
    PmdFault,
    Punch,
    Read,
    Reflink,
    Seal,
    Store,
    Truncate,
    Write,
    field,
    model,
    run,
)

from daxcheck.spec.state import (
    HOLE,
    MM_SYNC,
    PG_NULL,
    PG_SHARED,
    PTE_NONE,
    PTE_RO,
    PTE_RW,
    PTE_ZERO,
    STALE,
    UNWRITTEN,
    WRITTEN,
    XA_EMPTY,
    XA_PFN,
    XA_ZERO,
)

A, B = 0, 1


def test_initial_state_is_empty_files_and_stale_media():
    m = model()
    s = m.init_states()[0]
    assert field(m, s, "size", A) == 0 and field(m, s, "ext_kind", A, 0) == HOLE
    assert all(field(m, s, "media", b, g) == STALE for b in range(4) for g in range(2))
    assert field(m, s, "refcount", 0) == 0


def test_mmap_sets_mode_once_and_map_sync_only_where_offered():
    m = model()
    s = run(m, Mmap(0, A, True))
    assert field(m, s, "mmap_mode", 0, A) == MM_SYNC
    assert m.next_state(s, Mmap(0, A, False)) is None
    m2 = model("userspace-flush")
    assert Mmap(0, A, True) not in m2.index


def test_mmap_sync_enters_userspace_sync_mode_only_in_usync_designs():
    m = model("mixed-dirty-tracking")
    assert field(m, run(m, Mmap(0, A, True)), "usync", A) == 1
    m2 = model("map-sync")
    assert field(m2, run(m2, Mmap(0, A, True)), "usync", A) == 0


def test_fault_beyond_eof_is_disabled_sigbus():
    m = model()
    s = run(m, Mmap(0, A, False))
    assert m.next_state(s, Fault(0, A, 0, False)) is None


def test_write_into_hole_allocates_a_zeroed_block_and_extends_size():
    m = model()
    s = run(m, Write(A, 1, 0, 0, 1))
    assert field(m, s, "size", A) == 2
    assert field(m, s, "ext_kind", A, 1) == WRITTEN
    p = field(m, s, "ext_pblk", A, 1)
    assert field(m, s, "refcount", p) == 1
    assert field(m, s, "media", p, 0) == 1 and field(m, s, "media", p, 1) == 0  # XFS_BMAPI_ZERO
    assert field(m, s, "ghost_written", A, 1, 0, 0) == 1


def test_read_fault_on_hole_maps_zero_page_then_write_fault_allocates():
    m = model()
    s = run(m, Fallocate(A, 0), Mmap(0, A, False), Fault(0, A, 0, False))
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_ZERO
    assert field(m, s, "xa_kind", A, 0) == XA_ZERO
    s = run(m, Fault(0, A, 0, True), s=s)
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "ext_kind", A, 0) == WRITTEN  # unwritten converted
    assert field(m, s, "media", p, 0) == 0  # converted blocks are zeroed
    assert field(m, s, "xa_kind", A, 0) == XA_PFN and field(m, s, "xa_dirty", A, 0) == 1
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_RW and field(m, s, "pte_pfn", 0, A, 0) == p
    assert field(m, s, "page_mapping", p) == A + 1 and field(m, s, "page_index", p) == 0


def test_zero_entry_replacement_unmaps_other_process_zero_pte():
    m = model()
    s = run(
        m,
        Truncate(A, 1),
        Mmap(0, A, False),
        Mmap(1, A, False),
        Fault(0, A, 0, False),
        Fault(1, A, 0, False),
        Fault(0, A, 0, True),
    )
    assert field(m, s, "pte_kind", 1, A, 0) == PTE_NONE
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_RW


def test_read_fault_on_written_block_is_read_only_and_clean():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False))
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_RO
    assert field(m, s, "xa_dirty", A, 0) == 0


def test_map_sync_write_fault_commits_metadata_before_writable_pte():
    m = model()
    s = run(m, Truncate(A, 1), Mmap(0, A, True), Fault(0, A, 0, True))
    assert field(m, s, "jext_kind", A, 0) == WRITTEN and field(m, s, "jsize", A) == 1
    m2 = model()
    s2 = run(m2, Truncate(A, 1), Mmap(0, A, False), Fault(0, A, 0, True))
    assert field(m2, s2, "jext_kind", A, 0) == HOLE


def test_store_goes_to_cache_and_flush_to_media():
    m = model()
    s = run(m, Truncate(A, 1), Mmap(0, A, False), Fault(0, A, 0, True), Store(0, A, 0, 1, 2))
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "cache", p, 1) == 2 and field(m, s, "media", p, 1) == 0
    s = run(m, Flush(0, A, 0), s=s)
    assert field(m, s, "cache", p, 1) == 0 and field(m, s, "media", p, 1) == 2


def test_store_needs_a_writable_pte():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False))
    assert m.next_state(s, Store(0, A, 0, 0, 1)) is None


def test_flush_promise_only_through_writable_map_sync_pte():
    m = model()
    s = run(
        m,
        Truncate(A, 1),
        Mmap(0, A, True),
        Fault(0, A, 0, True),
        Store(0, A, 0, 0, 1),
        Flush(0, A, 0),
    )
    assert field(m, s, "ghost_durable", A, 0, 0) == 2  # token 1 promised
    m2 = model()
    s2 = run(
        m2,
        Truncate(A, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Store(0, A, 0, 0, 1),
        Flush(0, A, 0),
    )
    assert field(m2, s2, "ghost_durable", A, 0, 0) == 0
    m3 = model("userspace-flush")
    s3 = run(
        m3,
        Truncate(A, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Store(0, A, 0, 0, 1),
        Flush(0, A, 0),
    )
    assert field(m3, s3, "ghost_durable", A, 0, 0) == 2


def test_fdatasync_writes_back_dirty_entries_write_protects_and_commits():
    m = model()
    s = run(
        m,
        Truncate(A, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Store(0, A, 0, 0, 1),
        Fdatasync(A),
    )
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "media", p, 0) == 1 and field(m, s, "cache", p, 0) == 0
    assert field(m, s, "xa_dirty", A, 0) == 0
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_RO
    assert field(m, s, "jext_kind", A, 0) == WRITTEN
    assert field(m, s, "ghost_durable", A, 0, 0) == 2


def test_mixed_dirty_tracking_fsync_flushes_nothing_in_usync_mode():
    m = model("mixed-dirty-tracking")
    s = run(
        m,
        Truncate(A, 1),
        Mmap(0, A, True),
        Mmap(1, A, False),
        Fault(1, A, 0, True),
        Store(1, A, 0, 0, 1),
        Fdatasync(A),
    )
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "xa_dirty", A, 0) == 0
    assert field(m, s, "cache", p, 0) == 1  # still only in the CPU cache


def test_fallocate_makes_unwritten_extent_and_read_returns_zeros():
    m = model()
    s = run(m, Fallocate(A, 1))
    assert field(m, s, "ext_kind", A, 1) == UNWRITTEN and field(m, s, "size", A) == 2
    p = field(m, s, "ext_pblk", A, 1)
    assert field(m, s, "media", p, 0) == STALE  # not zeroed: unwritten reads as zeros
    assert m.next_state(s, Fallocate(A, 1)) is None


def test_read_changes_nothing_and_is_disabled_past_eof():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1))
    assert m.next_state(s, Read(A, 0)) is s
    assert m.next_state(s, Read(A, 1)) is None


def test_reflink_shares_blocks_and_frees_destination_blocks():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Write(B, 1, 0, 1, 2))
    old_b = field(m, s, "ext_pblk", B, 1)
    s = run(m, Reflink(A, B), s=s)
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "ext_pblk", B, 0) == p and field(m, s, "refcount", p) == 2
    # FICLONE replaces dst only up to src's EOF: b's block 1 and size stay (kernel oracle)
    assert field(m, s, "ext_pblk", B, 1) == old_b and field(m, s, "refcount", old_b) == 1
    assert field(m, s, "size", B) == 2
    s = run(m, Truncate(B, 0), Reflink(A, B), s=s)
    assert field(m, s, "ext_kind", B, 1) == HOLE and field(m, s, "refcount", old_b) == 0
    assert field(m, s, "size", B) == 1


def test_reflink_refused_and_sealed_rules():
    assert (
        model("reflink-refused").next_state(
            run(model("reflink-refused"), Write(A, 0, 0, 1, 1)), Reflink(A, B)
        )
        is None
    )
    m = model("immutable-no-reflink")
    s = run(m, Seal(A))
    assert m.next_state(s, Reflink(A, B)) is None and m.next_state(s, Reflink(B, A)) is None
    m2 = model("immutable-extents")
    s2 = run(m2, Seal(A))
    assert m2.next_state(s2, Reflink(A, B)) is not None
    assert m2.next_state(s2, Reflink(B, A)) is None  # a sealed destination never


def test_partial_write_to_shared_block_cows_with_srcmap_copy():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), Write(B, 0, 0, 0, 2))
    pa, pb = field(m, s, "ext_pblk", A, 0), field(m, s, "ext_pblk", B, 0)
    assert pa != pb and field(m, s, "refcount", pa) == 1 and field(m, s, "refcount", pb) == 1
    assert field(m, s, "media", pb, 0) == 2 and field(m, s, "media", pb, 1) == 1  # tail copied
    assert field(m, s, "media", pa, 0) == 1


def test_single_iomap_cow_leaves_tail_uncopied():
    m = model("cow-single-iomap")
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), Write(B, 0, 0, 0, 2))
    pb = field(m, s, "ext_pblk", B, 0)
    assert field(m, s, "media", pb, 1) == STALE


def test_cow_from_unwritten_source_zeroes_edges():
    m = model()
    s = run(m, Fallocate(A, 0), Reflink(A, B), Write(B, 0, 1, 1, 2))
    pb = field(m, s, "ext_pblk", B, 0)
    assert field(m, s, "media", pb, 0) == 0 and field(m, s, "media", pb, 1) == 2


def test_write_is_disabled_on_enospc():
    m = model(bounds=model().bounds.replace(phys=1))
    s = run(m, Write(A, 0, 0, 1, 1))
    assert m.next_state(s, Write(A, 1, 0, 1, 1)) is None


def test_seal_fills_unshares_commits_and_refuses_changes():
    m = model("immutable-no-reflink")
    s = run(m, Write(A, 0, 0, 0, 1), Seal(A))
    assert all(field(m, s, "ext_kind", A, x) == WRITTEN for x in (0, 1))
    assert field(m, s, "sealed", A) == 1 and field(m, s, "size", A) == 2
    assert field(m, s, "jext_kind", A, 1) == WRITTEN
    assert [field(m, s, "ghost_seal_pblk", A, x) for x in (0, 1)] == [
        field(m, s, "ext_pblk", A, x) for x in (0, 1)
    ]
    for a in (Punch(A, 0), Truncate(A, 1), Seal(A)):
        assert m.next_state(s, a) is None


def test_immutable_extents_design_moves_a_sealed_extent_on_cow():
    m = model("immutable-extents")
    s = run(m, Seal(A), Reflink(A, B))
    p = field(m, s, "ext_pblk", A, 0)
    s = run(m, Write(A, 0, 0, 1, 1), s=s)
    assert field(m, s, "ext_pblk", A, 0) != p
    m2 = model("immutable-no-reflink")
    s2 = run(m2, Seal(A))
    assert field(m2, run(m2, Write(A, 0, 0, 1, 1), s=s2), "ext_pblk", A, 0) == field(
        m2, s2, "ext_pblk", A, 0
    )


def test_punch_unmaps_disassociates_and_frees():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False))
    p = field(m, s, "ext_pblk", A, 0)
    s = run(m, Punch(A, 0), s=s)
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_NONE and field(m, s, "xa_kind", A, 0) == XA_EMPTY
    assert field(m, s, "page_mapping", p) == PG_NULL and field(m, s, "refcount", p) == 0
    assert field(m, s, "ext_kind", A, 0) == HOLE


def test_freed_block_is_busy_until_log_commit():
    m = model(bounds=model().bounds.replace(phys=1))
    s = run(m, Write(A, 0, 0, 1, 1), Fdatasync(A), Punch(A, 0))
    assert m.next_state(s, Write(B, 0, 0, 1, 2)) is None  # busy extent: not reused yet
    s = run(m, Fdatasync(A), s=s)
    assert m.next_state(s, Write(B, 0, 0, 1, 2)) is not None


def test_truncate_shrinks_and_frees_and_grows():
    m = model()
    s = run(m, Write(A, 1, 0, 1, 1), Truncate(A, 1))
    assert field(m, s, "size", A) == 1 and field(m, s, "ext_kind", A, 1) == HOLE
    s = run(m, Truncate(A, 2), s=s)
    assert field(m, s, "size", A) == 2
    assert m.next_state(s, Truncate(A, 2)) is None


def test_crash_loses_volatile_state_and_recovers_from_journal():
    m = model()
    s = run(
        m,
        Write(A, 0, 0, 1, 1),
        Fdatasync(A),
        Write(A, 1, 0, 1, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Store(0, A, 0, 0, 2),
        Crash(),
    )
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "size", A) == 1 and field(m, s, "ext_kind", A, 1) == HOLE
    assert field(m, s, "cache", p, 0) == 0 and field(m, s, "media", p, 0) == 1
    assert field(m, s, "mmap_mode", 0, A) == 0 and field(m, s, "xa_kind", A, 0) == XA_EMPTY
    assert (
        field(m, s, "refcount", p) == 1 and sum(field(m, s, "refcount", b) for b in range(4)) == 1
    )


def test_evict_writes_back_a_dirty_line_without_flush():
    m = model()
    s = run(m, Truncate(A, 1), Mmap(0, A, False), Fault(0, A, 0, True), Store(0, A, 0, 1, 2))
    p = field(m, s, "ext_pblk", A, 0)
    assert m.next_state(s, Evict(p, 0)) is None
    s = run(m, Evict(p, 1), s=s)
    assert field(m, s, "media", p, 1) == 2 and field(m, s, "cache", p, 1) == 0


def test_pmd_fault_hole_length_decides_zero_page_coverage():
    bad = model("hole-size-unknown")
    s = run(bad, Write(A, 1, 0, 1, 1), Mmap(0, A, False))
    s2 = bad.next_state(s, PmdFault(0, A))
    assert s2 is not None
    assert field(bad, s2, "pte_kind", 0, A, 1) == PTE_ZERO  # zero page over a written block
    good = model("iomap-hole-size")
    assert (
        good.next_state(run(good, Write(A, 1, 0, 1, 1), Mmap(0, A, False)), PmdFault(0, A)) is None
    )
    s3 = run(good, Truncate(A, 2), Mmap(0, A, False), PmdFault(0, A))
    assert field(good, s3, "pmd_zero", A) == 1
    s4 = run(good, Fault(0, A, 1, True), s=s3)  # a PTE write fault downgrades the PMD
    assert field(good, s4, "pmd_zero", A) == 0 and field(good, s4, "pte_kind", 0, A, 0) == PTE_NONE


def test_shared_count_associates_both_owners():
    m = model()
    s = run(
        m,
        Write(A, 0, 0, 1, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, False),
        Reflink(A, B),
        Mmap(0, B, False),
        Fault(0, B, 0, False),
    )
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "page_mapping", p) == PG_SHARED and field(m, s, "page_share", p) == 2
    s = run(m, Punch(B, 0), s=s)
    assert field(m, s, "page_mapping", p) == PG_SHARED and field(m, s, "page_share", p) == 1
    s = run(m, Punch(A, 0), s=s)
    assert field(m, s, "page_mapping", p) == PG_NULL and field(m, s, "page_share", p) == 0


def test_single_owner_overwrites_page_mapping():
    m = model("reflink-single-owner")
    s = run(
        m,
        Write(A, 0, 0, 1, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, False),
        Reflink(A, B),
        Mmap(0, B, False),
        Fault(0, B, 0, False),
    )
    assert field(m, s, "page_mapping", field(m, s, "ext_pblk", A, 0)) == B + 1


def test_write_fault_on_shared_block_copies_whole_block():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), Mmap(0, B, False), Fault(0, B, 0, True))
    pa, pb = field(m, s, "ext_pblk", A, 0), field(m, s, "ext_pblk", B, 0)
    assert pa != pb and field(m, s, "media", pb, 0) == 1 and field(m, s, "media", pb, 1) == 1


def test_in_core_shared_check_overwrites_journal_shared_block_in_place():
    lazy = model("cow-in-core-refcount")
    pre = (Write(A, 0, 0, 1, 1), Reflink(A, B), Fdatasync(A), Write(A, 0, 0, 0, 1))
    s = run(lazy, *pre, Write(B, 0, 0, 1, 2))
    assert field(lazy, s, "jext_pblk", A, 0) == field(lazy, s, "ext_pblk", B, 0)
    safe = model("cow-srcmap")
    s2 = run(safe, *pre, Write(B, 0, 0, 1, 2))
    assert field(safe, s2, "jext_pblk", A, 0) != field(safe, s2, "ext_pblk", B, 0)


def test_finer_segments_explore_every_unaligned_range_and_replay_on_bytes():
    """Bounds.segs=4 (1 KiB segments): a write of the middle two segments of a shared block
    copies the head and the tail around it (dax_iomap_copy_around), on the spec and on
    pmem bytes."""
    from daxcheck.checker.concrete.executor import replay_concrete
    from daxcheck.spec.state import Bounds

    m = model("cow-srcmap", Bounds(files=2, blocks=1, phys=3, tokens=2, procs=1, depth=4, segs=4))
    ranges = {(a.lo, a.hi) for a in m.actions if a.name == "write"}
    assert len(ranges) == 10 and (1, 2) in ranges
    acts = [Write(A, 0, 0, 3, 1), Reflink(A, B), Write(A, 0, 1, 2, 2)]
    s = run(m, *acts)
    p = field(m, s, "ext_pblk", A, 0)
    assert [field(m, s, "media", p, g) for g in range(4)] == [1, 2, 2, 1]
    rep = replay_concrete(m, acts, prop="no_stale_data")
    assert rep.refinement_ok and not rep.symptoms and rep.steps == 3
    assert m.bounds.as_dict()["segs"] == 4 and "segs" not in model().bounds.as_dict()


# ------------------------------------------------------------------ issue 8 families
from daxcheck.spec.ops import (  # noqa: E402
    CollapseRange,
    DaxToggle,
    Dedupe,
    Dma,
    EvictInode,
    InsertRange,
    MmapPrivate,
    Msync,
    Munmap,
    Pin,
    Unshare,
    ZeroRange,
)
from daxcheck.spec.state import MM_NONE, MM_PRIVATE, PTE_ANON  # noqa: E402
from daxcheck.spec.state import UNWRITTEN as UNW


def test_munmap_drops_ptes_but_keeps_entries():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, True), Munmap(0, A))
    assert (
        field(m, s, "mmap_mode", 0, A) == MM_NONE and field(m, s, "pte_kind", 0, A, 0) == PTE_NONE
    )
    assert field(m, s, "xa_kind", A, 0) == XA_PFN and field(m, s, "xa_dirty", A, 0) == 1
    assert m.next_state(s, Munmap(0, A)) is None


def test_private_write_fault_copies_into_an_anonymous_page():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), MmapPrivate(0, A), Fault(0, A, 0, False))
    assert (
        field(m, s, "mmap_mode", 0, A) == MM_PRIVATE and field(m, s, "pte_kind", 0, A, 0) == PTE_RO
    )
    s = run(m, Fault(0, A, 0, True), Store(0, A, 0, 0, 2), s=s)
    assert field(m, s, "pte_kind", 0, A, 0) == PTE_ANON
    assert [field(m, s, "anon", 0, A, 0, g) for g in range(2)] == [2, 1]
    p = field(m, s, "ext_pblk", A, 0)  # the file is untouched
    assert field(m, s, "cache", p, 0) == 0 and field(m, s, "ghost_last", A, 0, 0) == 1
    assert m.next_state(s, Msync(0, A)) is None  # nothing to write back from a private map


def test_pmd_fault_maps_an_aligned_written_extent_read_only():
    m = model(pmd_pfn_entries=True)
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1), Mmap(0, A, False), PmdFault(0, A))
    assert field(m, s, "pmd_pfn", A) == 1 and field(m, s, "pmd_map", 0, A) == 1
    assert [field(m, s, "pte_pfn", 0, A, x) for x in (0, 1)] == [0, 1]
    assert [field(m, s, "page_mapping", p) for p in (0, 1)] == [A + 1, A + 1]
    s = run(m, Punch(A, 1), s=s)  # invalidating one index drops the PMD
    assert field(m, s, "pmd_pfn", A) == 0 and field(m, s, "pte_kind", 0, A, 0) == PTE_NONE
    assert field(m, s, "page_mapping", 0) == PG_NULL


def test_zero_range_whole_block_becomes_unwritten_partial_zeroes_in_place():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), ZeroRange(A, 0, 1, 1))
    p = field(m, s, "ext_pblk", A, 0)
    assert [field(m, s, "media", p, g) for g in (0, 1)] == [1, 0]
    assert field(m, s, "ghost_last", A, 0, 1) == 0
    s = run(m, ZeroRange(A, 0, 0, 1), s=s)
    assert field(m, s, "ext_kind", A, 0) == UNW and field(m, s, "ext_pblk", A, 0) == p
    s2 = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), ZeroRange(A, 0, 0, 0))  # shared: CoW
    q = field(m, s2, "ext_pblk", A, 0)
    assert q != field(m, s2, "ext_pblk", B, 0)
    assert [field(m, s2, "media", q, g) for g in (0, 1)] == [0, 1]


def test_collapse_and_insert_shift_extents_and_ghosts():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 2))
    p1 = field(m, s, "ext_pblk", A, 1)
    c = run(m, CollapseRange(A, 0), s=s)
    assert field(m, c, "size", A) == 1 and field(m, c, "ext_pblk", A, 0) == p1
    assert field(m, c, "ext_kind", A, 1) == HOLE and field(m, c, "ghost_last", A, 0, 0) == 2
    assert m.next_state(s, CollapseRange(A, 1)) is None  # the range reaches EOF
    i = run(m, Truncate(A, 1), InsertRange(A, 0), s=s)
    p0 = field(m, s, "ext_pblk", A, 0)
    assert field(m, i, "size", A) == 2 and field(m, i, "ext_kind", A, 0) == HOLE
    assert field(m, i, "ext_pblk", A, 1) == p0 and field(m, i, "ghost_last", A, 1, 0) == 1
    assert m.next_state(s, InsertRange(A, 0)) is None  # no room past EOF


def test_unshare_copies_a_shared_block_and_nothing_else():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1))
    assert m.next_state(s, Unshare(A, 0)) is None
    s = run(m, Reflink(A, B), Unshare(A, 0), s=s)
    pa, pb = field(m, s, "ext_pblk", A, 0), field(m, s, "ext_pblk", B, 0)
    assert pa != pb and field(m, s, "refcount", pa) == 1 == field(m, s, "refcount", pb)
    assert field(m, s, "media", pa, 1) == 1


def test_dedupe_shares_only_equal_ranges_and_changes_no_contents():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Write(B, 0, 0, 1, 2))
    assert m.next_state(s, Dedupe(A, B, 0, 0, 1)) is None  # FILE_DEDUPE_RANGE_DIFFERS
    s = run(m, Write(B, 0, 0, 1, 1), Dedupe(A, B, 0, 0, 1), s=s)
    assert field(m, s, "ext_pblk", A, 0) == field(m, s, "ext_pblk", B, 0)
    assert field(m, s, "ghost_written", B, 0, 0, 1) == 1 and field(m, s, "ghost_last", B, 0, 0) == 1


def test_pin_blocks_punch_until_the_dma_completes():
    m = model(families=("mmap", "fault", "write", "punch", "truncate", "pin", "dma"))
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, True), Pin(0, A, 0))
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "pinned", p) == 1 and field(m, s, "pin_file", p) == A
    assert m.next_state(s, Punch(A, 0)) is None and m.next_state(s, Truncate(A, 0)) is None
    s = run(m, Dma(p, 2), Punch(A, 0), s=s)
    assert field(m, s, "pinned", p) == 0 and field(m, s, "ghost_written", A, 0, 0, 1) == 1
    bad = model(families=("mmap", "fault", "write", "punch", "pin", "dma"), break_layouts="none")
    s = run(
        bad,
        Write(A, 0, 0, 1, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Pin(0, A, 0),
        Punch(A, 0),
    )
    assert (
        bad.L.show(bad.L.warning, s[bad.L.warning])
        == "dax_disassociate_entry: truncating a pinned page"
    )


def test_dax_flag_takes_effect_at_eviction():
    m = model(families=("mmap", "munmap", "fault", "write", "dax_toggle", "evict_inode"))
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False), DaxToggle(A, False))
    assert field(m, s, "xflag_dax", A) == 0 and field(m, s, "s_dax", A) == 1
    assert m.next_state(s, EvictInode(A)) is None  # still mapped
    s = run(m, Munmap(0, A), EvictInode(A), s=s)
    assert field(m, s, "s_dax", A) == 0 and field(m, s, "xa_kind", A, 0) == 0
    assert m.next_state(s, Mmap(0, A, False)) is None  # no DAX mmap of a non-DAX inode
    imm = model(families=("mmap", "fault", "write", "dax_toggle"), dax_toggle="immediate")
    s = run(
        imm, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False), DaxToggle(A, False)
    )
    assert field(imm, s, "s_dax", A) == 0 and field(imm, s, "pte_kind", 0, A, 0) == PTE_RO
