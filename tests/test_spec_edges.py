"""Spec behaviour no shipped design's exploration pins down, found unchecked by mutation
testing (bench/mutants.py; each test names the surviving mutants it kills, see
bench/mutants_survivors.md).  Unit tests per action, like tests/test_actions.py."""
from daxcheck.spec.actions import Dma, MmapPrivate, Pin, PmdFault, ZeroRange
from daxcheck.spec.state import PTE_ANON, PTE_NONE, UNWRITTEN

from helpers import WIDE, Fault, Mmap, Reflink, Seal, Write, field, model, run

A, B = 0, 1


def test_zero_range_of_a_hole_allocates_an_unwritten_block():
    """fallocate(ZERO_RANGE) of a whole hole block: a new block, unwritten, one owner, and
    i_size extended (mutant: the allocation guard And-ed instead of Or-ed)."""
    m = model()
    s = run(m, ZeroRange(A, 0, 0, 1))
    p = field(m, s, "ext_pblk", A, 0)
    assert field(m, s, "ext_kind", A, 0) == UNWRITTEN and field(m, s, "refcount", p) == 1
    assert field(m, s, "size", A) == 1


def test_zero_range_refused_on_enospc_and_on_a_sealed_file():
    """The guards of ZERO_RANGE, whole block and part of one: no free block for a hole or
    for the CoW of a shared block (ENOSPC), and a sealed block map (mutants: either
    ``require`` deleted)."""
    m = model(bounds=WIDE.replace(phys=2))
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1))
    assert m.next_state(s, ZeroRange(B, 0, 0, 1)) is None          # a hole, no free block
    assert m.next_state(s, ZeroRange(A, 0, 0, 1)) is not None      # written: in place
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), Write(A, 1, 0, 1, 1))
    assert m.next_state(s, ZeroRange(A, 0, 0, 0)) is None          # shared: CoW, no block
    assert m.next_state(s, ZeroRange(A, 1, 0, 0)) is not None      # not shared: in place
    m = model("immutable-no-reflink")
    s = run(m, Write(A, 0, 0, 0, 1), Seal(A))
    assert m.next_state(s, ZeroRange(A, 0, 0, 1)) is None
    assert m.next_state(s, ZeroRange(A, 0, 0, 0)) is None


def test_dma_completion_records_the_write_at_the_pinned_offset_only():
    """The DMA's ghost write goes to the (file, index) the pin was taken through, not to
    other blocks of that file or the same index of another file (mutant: And -> Or)."""
    m = model(families=("mmap", "fault", "write", "pin", "dma"))
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1), Write(B, 0, 0, 1, 1),
            Mmap(0, A, False), Fault(0, A, 0, True), Pin(0, A, 0))
    s = run(m, Dma(field(m, s, "ext_pblk", A, 0), 2), s=s)
    written = {(f, x): [field(m, s, "ghost_written", f, x, g, 1) for g in (0, 1)]
               for f, x in ((A, 0), (A, 1), (B, 0))}
    assert written == {(A, 0): [1, 1], (A, 1): [0, 0], (B, 0): [0, 0]}
    assert [field(m, s, "ghost_last", f, x, 0) for f, x in ((A, 0), (A, 1), (B, 0))] == [2, 1, 1]


def test_private_write_fault_splitting_a_pmd_clears_the_other_ptes():
    """A MAP_PRIVATE write fault under a DAX PMD splits it (zap_huge_pmd): the PTEs that
    mirrored the PMD are cleared, pfn included, the faulting one becomes anonymous
    (mutant: zap_pmd's If branches swapped, leaving stale pfns)."""
    m = model(pmd_pfn_entries=True, private_pmd_split="split")
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1), MmapPrivate(0, A), PmdFault(0, A))
    assert field(m, s, "pmd_map", 0, A) == 1 and field(m, s, "pte_pfn", 0, A, 1) == 1
    s = run(m, Fault(0, A, 0, True), s=s)
    assert field(m, s, "pmd_map", 0, A) == 0
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_ANON, PTE_NONE]
    assert [field(m, s, "pte_pfn", 0, A, x) for x in (0, 1)] == [0, 0]
