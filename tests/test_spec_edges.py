"""Spec behaviour no shipped design's exploration pins down, found unchecked by mutation
testing (bench/mutants.py; each test names the surviving mutants it kills, see
bench/mutants_survivors.md).  Unit tests per action, like tests/test_actions.py."""

import importlib.util
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest
from helpers import WIDE, Fault, Mmap, Reflink, Seal, Write, field, model, run

from daxcheck import registries
from daxcheck.spec.kernel import warn as k
from daxcheck.spec.ops import (
    Action,
    ActionDefinitionError,
    Dedupe,
    Dma,
    Fallocate,
    MmapPrivate,
    Pin,
    PmdFault,
    ZeroRange,
    action,
)
from daxcheck.spec.state import PTE_ANON, PTE_NONE, STALE, UNWRITTEN, WARNINGS

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
    assert m.next_state(s, ZeroRange(B, 0, 0, 1)) is None  # a hole, no free block
    assert m.next_state(s, ZeroRange(A, 0, 0, 1)) is not None  # written: in place
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), Write(A, 1, 0, 1, 1))
    assert m.next_state(s, ZeroRange(A, 0, 0, 0)) is None  # shared: CoW, no block
    assert m.next_state(s, ZeroRange(A, 1, 0, 0)) is not None  # not shared: in place
    m = model("immutable-no-reflink")
    s = run(m, Write(A, 0, 0, 0, 1), Seal(A))
    assert m.next_state(s, ZeroRange(A, 0, 0, 1)) is None
    assert m.next_state(s, ZeroRange(A, 0, 0, 0)) is None


def test_dma_completion_records_the_write_at_the_pinned_offset_only():
    """The DMA's ghost write goes to the (file, index) the pin was taken through, not to
    other blocks of that file or the same index of another file (mutant: And -> Or)."""
    m = model(families=("mmap", "fault", "write", "pin", "dma"))
    s = run(
        m,
        Write(A, 0, 0, 1, 1),
        Write(A, 1, 0, 1, 1),
        Write(B, 0, 0, 1, 1),
        Mmap(0, A, False),
        Fault(0, A, 0, True),
        Pin(0, A, 0),
    )
    s = run(m, Dma(field(m, s, "ext_pblk", A, 0), 2), s=s)
    written = {
        (f, x): [field(m, s, "ghost_written", f, x, g, 1) for g in (0, 1)]
        for f, x in ((A, 0), (A, 1), (B, 0))
    }
    assert written == {(A, 0): [1, 1], (A, 1): [0, 0], (B, 0): [0, 0]}
    assert [field(m, s, "ghost_last", f, x, 0) for f, x in ((A, 0), (A, 1), (B, 0))] == [2, 1, 1]


def test_private_write_fault_splitting_a_pmd_clears_the_other_ptes():
    """A MAP_PRIVATE write fault under a DAX PMD splits it (zap_huge_pmd): the PTEs that
    mirrored the PMD are cleared, pfn included, the faulting one becomes anonymous
    (mutant: zap_huge_pmd's If branches swapped, leaving stale pfns)."""
    m = model(pmd_pfn_entries=True, private_pmd_split="split")
    s = run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1), MmapPrivate(0, A), PmdFault(0, A))
    assert field(m, s, "pmd_map", 0, A) == 1 and field(m, s, "pte_pfn", 0, A, 1) == 1
    s = run(m, Fault(0, A, 0, True), s=s)
    assert field(m, s, "pmd_map", 0, A) == 0
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_ANON, PTE_NONE]
    assert [field(m, s, "pte_pfn", 0, A, x) for x in (0, 1)] == [0, 0]


def test_dedupe_compares_source_and_destination_in_lockstep_by_default():
    """The default ``dedupe_compare`` walks both files together: a 2-block range whose
    second blocks differ is refused, though each destination block equals the source's
    first (mutant: the default set to "stale-srcmap")."""
    s0 = [Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 2), Write(B, 0, 0, 1, 1), Write(B, 1, 0, 1, 1)]
    m = model()
    assert m.next_state(run(m, *s0), Dedupe(A, B, 0, 0, 2)) is None
    m = model(dedupe_compare="stale-srcmap")
    assert m.next_state(run(m, *s0), Dedupe(A, B, 0, 0, 2)) is not None


def test_always_cow_zeroes_the_edges_of_an_unwritten_source_by_default():
    """XFS always_cow: a partial write over an unwritten extent goes to a new block whose
    other segments read zeros with the default ``cow_edges`` (mutant: default "stale")."""
    for edges, seg0 in (({}, 0), ({"cow_edges": "stale"}, STALE)):
        m = model(cow_fork="always", **edges)
        s = run(m, Write(A, 0, 0, 1, 1), Fallocate(A, 1), Write(A, 1, 1, 1, 2))
        p = field(m, s, "ext_pblk", A, 1)
        assert [field(m, s, "media", p, g) for g in (0, 1)] == [seg0, 2]


def test_kernel_warning_messages_must_be_non_empty_strings():
    """kernel_warning refuses a non-string and an empty message (mutant: or -> and)."""
    with registries.isolated():
        for bad in ("", 5, None):
            with pytest.raises(k.SpecError):
                k.kernel_warning(bad)
        assert k.kernel_warning("xfs_edge: declared") in WARNINGS


def _user_module(tmp_path, monkeypatch, text):
    f = tmp_path / "edge_user.py"
    f.write_text(text)
    spec = importlib.util.spec_from_file_location("edge_user", f)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "edge_user", mod)
    spec.loader.exec_module(mod)
    return mod


def test_warnings_of_a_users_class_and_instance_are_declared(tmp_path, monkeypatch):
    """declare_warnings_of reads the source file of a class or of an instance's class
    (mutant: the two cases swapped, nothing declared)."""
    mod = _user_module(
        tmp_path,
        monkeypatch,
        "from daxcheck.spec.fsdax import warn_on\n"
        "class Hooked:\n"
        "    def hook(self, L, d):\n"
        "        warn_on(L, d, True, 'xfs_edge: from a class')\n",
    )
    with registries.isolated():
        k.declare_warnings_of(mod.Hooked)
        assert "xfs_edge: from a class" in WARNINGS
    with registries.isolated():
        k.declare_warnings_of(mod.Hooked())
        assert "xfs_edge: from a class" in WARNINGS


def _family(family):
    """A do-nothing action family class named ``family`` (not registered)."""

    @dataclass(frozen=True)
    class Family(Action):
        name: ClassVar[str] = family

        def apply(self, m, s):
            return None

        @classmethod
        def instances(cls, L, D):
            return []

    return Family


def test_an_action_family_name_belongs_to_one_class():
    """@action: a second class taking a registered family's name is refused, the same
    class registered again is accepted (mutant: the comparison negated)."""
    with registries.isolated():
        with pytest.raises(ActionDefinitionError, match="already registered"):
            action(_family("write"))
        edge = _family("edge_family")
        assert action(edge) is edge and action(edge) is edge
