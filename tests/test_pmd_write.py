"""Issue 25: PMD write faults (dax_iomap_pmd_fault with FAULT_FLAG_WRITE), writeback
write-protecting PMDs (dax_entry_mkclean) and the MAP_PRIVATE PMD split as a hook
(split_huge_pmd)."""

from __future__ import annotations

import random

from helpers import Fault, Fdatasync, Mmap, PmdFault, Store, Write, field, model, run

from daxcheck.checker.concrete.executor import replay_concrete
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import ALL_FAMILIES, DESIGNS, Design
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import OPT_IN_FAMILIES, MmapPrivate, PmdWriteFault
from daxcheck.spec.state import ORDER_PMD, PTE_ANON, PTE_RO, PTE_RW

A = 0
FAMS = ALL_FAMILIES + ("pmd_write_fault",)


def written_pair(m, *more):
    """Both blocks of file a written (one aligned run at p0-p1), then ``more``."""
    return run(m, Write(A, 0, 0, 1, 1), Write(A, 1, 0, 1, 1), *more)


def test_pmd_write_fault_maps_the_run_writable_and_tags_the_pmd_entry_dirty():
    m = model(pmd_pfn_entries=True, families=FAMS)
    s = written_pair(m, Mmap(0, A, False), PmdWriteFault(0, A))
    assert field(m, s, "pmd_pfn", A) == 1 and field(m, s, "pmd_map", 0, A) == 1
    for x in (0, 1):
        assert field(m, s, "pte_kind", 0, A, x) == PTE_RW
        assert field(m, s, "pte_pfn", 0, A, x) == x
        assert field(m, s, "xa_order", A, x) == ORDER_PMD
        assert field(m, s, "xa_dirty", A, x) == 1
        assert field(m, s, "page_mapping", x) == A + 1
    assert PROPERTIES["pmd_excludes_pte"].holds(m.L, s)  # a writable PMD mirrors its pfns


def test_pmd_mkwrite_of_a_read_only_pmd_keeps_its_entry_and_dirties_it():
    m = model(pmd_pfn_entries=True, families=FAMS)
    s = written_pair(m, Mmap(0, A, False), PmdFault(0, A))
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_RO, PTE_RO]
    assert [field(m, s, "xa_dirty", A, x) for x in (0, 1)] == [0, 0]
    s = run(m, PmdWriteFault(0, A), s=s)
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_RW, PTE_RW]
    assert [field(m, s, "xa_dirty", A, x) for x in (0, 1)] == [1, 1]
    assert [field(m, s, "page_mapping", p) for p in (0, 1)] == [A + 1, A + 1]
    assert PROPERTIES["no_kernel_warning"].holds(m.L, s)  # no second association
    # once writable there is nothing to make writable: the fault is not taken again
    assert m.next_state(s, PmdWriteFault(0, A)) is None


def test_writeback_write_protects_a_pmd_so_the_next_store_faults():
    m = model(pmd_pfn_entries=True, families=FAMS)
    s = written_pair(m, Mmap(0, A, False), PmdWriteFault(0, A), Fdatasync(A))
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_RO, PTE_RO]
    assert [field(m, s, "xa_dirty", A, x) for x in (0, 1)] == [0, 0]
    assert m.next_state(s, Store(0, A, 0, 0, 2)) is None  # read-only: the store faults
    s = run(m, PmdWriteFault(0, A), Store(0, A, 0, 0, 2), s=s)
    assert field(m, s, "xa_dirty", A, 0) == 1


def test_pte_only_mkclean_leaves_the_pmd_writable_and_loses_the_store():
    m = model(pmd_pfn_entries=True, families=FAMS, pmd_mkclean="pte-only")
    s = written_pair(m, Mmap(0, A, False), PmdWriteFault(0, A), Fdatasync(A))
    assert [field(m, s, "pte_kind", 0, A, x) for x in (0, 1)] == [PTE_RW, PTE_RW]
    s = run(m, Store(0, A, 0, 0, 2), Fdatasync(A), s=s)
    assert field(m, s, "xa_dirty", A, 0) == 0
    assert field(m, s, "media", 0, 0) == 1 and field(m, s, "cache", 0, 0) == 2  # not flushed


def test_pte_mkclean_is_unchanged_for_4k_mappings():
    for setting in ("wrprotect", "pte-only"):
        m = model(families=FAMS, pmd_mkclean=setting)
        s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, True), Fdatasync(A))
        assert field(m, s, "pte_kind", 0, A, 0) == PTE_RO, setting


def test_pmd_write_fault_falls_back_on_private_holes_unwritten_and_shared():
    m = model(pmd_pfn_entries=True, families=FAMS)
    s = written_pair(m)
    p = run(m, MmapPrivate(0, A), s=s)
    assert m.next_state(p, PmdWriteFault(0, A)) is None  # dax_fault_check_fallback: CoW
    h = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False))
    assert m.next_state(h, PmdWriteFault(0, A)) is None  # block 1 beyond EOF / a hole
    # a 4 KiB entry of its own in the range is a conflict: fall back
    c = run(m, Mmap(0, A, False), Fault(0, A, 0, False), s=s)
    assert m.next_state(c, PmdWriteFault(0, A)) is None


def test_pmd_write_fault_is_opt_in():
    assert "pmd_write_fault" in OPT_IN_FAMILIES and "pmd_write_fault" not in ALL_FAMILIES
    m = DaxModel(DESIGNS["cow-srcmap"])
    assert not any(a.name == "pmd_write_fault" for a in m.actions)


def test_split_huge_pmd_is_a_hook_the_setting_selects():
    seen = []

    class Spy(Design):
        def split_huge_pmd(self, L, d, n, f):
            seen.append((n, f))
            return super().split_huge_pmd(L, d, n, f)

    base = DESIGNS["pmd-private-split"]
    spy = Spy(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    m = DaxModel(spy.variant(families=FAMS, pmd_pfn_entries=True), model().bounds)
    s = written_pair(m, MmapPrivate(0, A), PmdFault(0, A), Fault(0, A, 0, True))
    assert seen and seen[-1] == (0, A)
    assert field(m, s, "pmd_map", 0, A) == 0 and field(m, s, "pte_kind", 0, A, 0) == PTE_ANON
    # the setting is an alias selecting the hook body that does not split
    m2 = model(pmd_pfn_entries=True, families=FAMS, private_pmd_split="none")
    s2 = written_pair(m2, MmapPrivate(0, A), PmdFault(0, A), Fault(0, A, 0, True))
    assert field(m2, s2, "pmd_map", 0, A) == 1


def test_the_pmd_mkclean_pair_is_found_and_fixed():
    props = list(PROPERTIES.values())
    bad = explore(DaxModel(DESIGNS["pmd-mkclean-pte-only"]), props)
    good = explore(DaxModel(DESIGNS["pmd-mkclean-wrprotect"]), props)
    assert bad.verdicts["durable_after_sync"].status == VIOLATED
    assert {k for k, v in bad.verdicts.items() if v.status == VIOLATED} == {"durable_after_sync"}
    assert {v.status for v in good.verdicts.values()} == {HOLDS}


def test_opt_in_families_refine_on_pmem_bytes_along_random_walks():
    """The byte-level replay follows PMD write faults and short writes (with every other
    family, at wider bounds): refinement holds after every step of seeded random walks."""
    m = model(pmd_pfn_entries=True, families=ALL_FAMILIES + OPT_IN_FAMILIES)
    fired = set()
    for seed in range(6):
        rnd, s, acts = random.Random(seed), m.init_states()[0], []
        for _ in range(10):
            succ = list(m.successors(s))
            opt = [(i, t) for i, t in succ if m.actions[i].name in OPT_IN_FAMILIES]
            i, s = rnd.choice(opt if opt and rnd.random() < 0.7 else succ)
            acts.append(m.actions[i])
        fired |= {a.name for a in acts}
        rep = replay_concrete(m, acts, crash_states=8)
        assert rep.refinement_ok and rep.steps == len(acts)
    assert set(OPT_IN_FAMILIES) <= fired
