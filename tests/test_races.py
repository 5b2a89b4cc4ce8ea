"""Threads, locks and split operations (issue 11): the race designs with both engines and
replay, no_deadlock, the partial-order reduction, and threads=1 leaving the atomic designs
alone."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import dax_here, thorough_for

from daxcheck.checker.concrete.executor import replay_concrete
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.symbolic.engine import bmc, prove_all
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops.races import SPLIT_FAMILIES, SplitOp
from daxcheck.spec.scopes import is_coverage_scope
from daxcheck.spec.state import Bounds, BoundsError

RACES = sorted(n for n, d in DESIGNS.items() if d.threaded and not is_coverage_scope(d))
"""The race designs (seed r<n>); the threaded coverage scopes are tests/test_scopes.py's."""
BROKEN = [n for n in RACES if DESIGNS[n].expect_violated]
FIXED = [n for n in RACES if not DESIGNS[n].expect_violated]
ALL = list(PROPERTIES.values())


def test_race_designs_pair_up_and_cite():
    """At least six race designs, every one with a citation, every broken one with a
    fixed design in the same scope, and every split family in some design's scope."""
    assert len(BROKEN) >= 5 and len(FIXED) >= 4
    for n in RACES:
        assert DESIGNS[n].cite and DESIGNS[n].bounds.threads == 2
    for n in BROKEN:
        d = DESIGNS[n]
        assert any(
            DESIGNS[f].families == d.families and DESIGNS[f].seed == d.seed for f in FIXED
        ), n
    assert set(SPLIT_FAMILIES) <= {f for n in RACES for f in DESIGNS[n].families}


def test_atomic_designs_have_no_thread_state():
    """threads=1 leaves every design without split operations as it was: no thread or
    lock field in its states, no ``threads`` in its bounds' dict (traces, manifest)."""
    for _n, d in DESIGNS.items():
        if d.threaded:
            continue
        m = DaxModel(d)
        assert not m.L.races and m.L.waits_for is None
        assert "th_op" not in m.L.specs and "threads" not in m.bounds.as_dict()
    assert Bounds().threads == 1
    with pytest.raises(BoundsError, match="threads"):
        Bounds(threads=4).validate()


@pytest.mark.parametrize("name", RACES)
def test_race_design_verdicts_cover_the_whole_space(name):
    """Each race design violates exactly its expected properties, and every "holds" covers
    the whole reachable space at its default bounds (the frontier emptied)."""
    d = DESIGNS[name]
    r = explore(DaxModel(d), ALL)
    got = {p for p, v in r.verdicts.items() if v.status == VIOLATED}
    assert got == set(d.expect_violated)
    assert all(v.complete for v in r.verdicts.values() if v.status == HOLDS)


@pytest.mark.parametrize("name", BROKEN)
def test_race_trace_names_each_thread_and_replays_on_pmem(name):
    """Each broken race design's shortest counterexample interleaves steps of split
    operations, each naming its thread, and replays byte-level on pmem.  (That Z3 finds
    the same violations at the same depth is test_symbolic's
    test_bmc_finds_seed_violation_at_explore_depth, which covers every broken design.)"""
    d = DESIGNS[name]
    m = DaxModel(d)
    props = [PROPERTIES[p] for p in sorted(d.expect_violated)]
    ex = explore(m, props)
    for p in props:
        v = ex.verdicts[p.name]
        acts = [m.actions[i] for i, _ in v.trace[1:]]
        steps = [a for a in acts if isinstance(a, SplitOp)]
        assert steps and all(f"thread=T{a.thread}" in a.describe() for a in steps)
        rep = replay_concrete(m, acts, prop=p.name)
        assert rep.refinement_ok and rep.reproduced, (p.name, rep.symptoms)


@pytest.mark.parametrize("name", FIXED)
def test_bmc_holds_on_the_fix_to_the_race_depth(name):
    """Z3 finds nothing on the fixed designs to the depth of their broken partner's
    deepest counterexample (the explicit engine covers the whole space)."""
    d = DESIGNS[name]
    partner = next(
        DESIGNS[b]
        for b in BROKEN
        if DESIGNS[b].families == d.families and DESIGNS[b].seed == d.seed
    )
    props = [PROPERTIES[p] for p in sorted(partner.expect_violated)]
    depth = max(v.depth for v in explore(DaxModel(partner), props).verdicts.values())
    z = bmc(DaxModel(d), props, depth=depth)
    assert all(v.status == HOLDS for v in z.verdicts.values())


def _variant(name, **hooks):
    """Design ``name`` with the kernel hooks ``hooks`` replaced (a user's variant)."""
    d = DESIGNS[name]
    cls = type("Variant", (Design,), hooks)
    return cls(**{f.name: getattr(d, f.name) for f in dataclasses.fields(Design)})


def _reachable(m):
    seen, todo = set(m.init_states()), list(m.init_states())
    while todo:
        for _, t in m.successors(todo.pop()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def test_i_rwsem_serialises_hole_punches_and_write():
    """xfs_file_fallocate holds i_rwsem (XFS_IOLOCK_EXCL) across the whole split hole
    punch: in no reachable state are both threads inside a punch, and write(2), which
    takes it too, is disabled while a punch holds it.  A variant whose
    ``xfs_ilock_iolock`` takes nothing lets both punches run at once."""
    code = list(SPLIT_FAMILIES).index("punch_hole") + 1  # th_op of a hole punch

    def inside(m, s):
        return [t for t in m.L.threads if s[m.L.th_op[t]] == code]

    m = DaxModel(DESIGNS["busy-page-unmap"])
    writes = [a for a in m.actions if a.name == "write"]
    held = 0
    for s in _reachable(m):
        assert len(inside(m, s)) <= 1
        if s[m.L.io_excl[0]]:
            held += 1
            assert inside(m, s) and all(m.next_state(s, a) is None for a in writes)
    assert held > 0
    loose = DaxModel(_variant("busy-page-unmap", xfs_ilock_iolock=lambda self, op: False))
    assert any(len(inside(loose, s)) == 2 for s in _reachable(loose))


def test_split_punch_runs_the_free_file_space_hooks():
    """The split hole punch's steps call the ``xfs_flush_unmap_range`` and ``xfs_bunmapi``
    hooks, the two halves of ``xfs_free_file_space``: a variant whose flush forgets to
    unmap (only dax_writeback_one) leaves a PTE over the freed block on the design that
    otherwise holds."""

    def no_unmap(self, L, d, f, x):
        self.dax_writeback_one(L, d, f, x)

    prop = [PROPERTIES["mapping_matches_extents"]]
    assert (
        explore(DaxModel(DESIGNS["fault-punch-mmaplock"]), prop)
        .verdicts["mapping_matches_extents"]
        .status
        == HOLDS
    )
    v = explore(
        DaxModel(_variant("fault-punch-mmaplock", xfs_flush_unmap_range=no_unmap)), prop
    ).verdicts["mapping_matches_extents"]
    assert v.status == VIOLATED


FAST_PROOFS = {"fault-punch-unlocked", "fault-punch-mmaplock"}
"""The pair proved in the default run (about 4 s); the other race designs' proofs (about
40 s) run with ``-m thorough``."""
DEADLOCK_NOT_INDUCTIVE = {
    # A hole punch waiting for a busy page has dropped MMAPLOCK in this design and holds it
    # in its broken partner: which locks a thread holds at a step depends on the design's
    # lock discipline, which the design-independent lemma
    # threads_hold_only_their_operations_locks cannot state (it says "may hold", not
    # "holds"), so an arbitrary start state with the punch at xfs_wait_dax_page but
    # without i_rwsem lets write(2) run into a state the prover cannot rule out.
    "xfs-break-dax-layouts"
}


@pytest.mark.parametrize("name", thorough_for(RACES, set(RACES) - FAST_PROOFS))
def test_prove_on_race_designs_never_proves_a_reachable_violation(name):
    """k-induction (k <= 2, shipped lemmas) over the split steps: no "unknown"; nothing
    exploration violates is proved; ``no_deadlock`` is proved wherever it holds (the
    waits-for relation is a function of the lock fields and program counters alone)."""
    m = DaxModel(DESIGNS[name])
    ex = explore(m, ALL)
    run = prove_all(m, ALL, max_k=2)
    got = {r.prop: r.status for r in run.results}
    assert "unknown" not in got.values()
    for p, v in ex.verdicts.items():
        if v.status == VIOLATED:
            assert got[p] != "proved", p
    if ex.verdicts["no_deadlock"].status == HOLDS:
        want = "not inductive" if name in DEADLOCK_NOT_INDUCTIVE else "proved"
        assert got["no_deadlock"] == want


def test_no_deadlock_names_the_cycle_of_waiters():
    """The hold-MMAPLOCK wait deadlocks with the O_DIRECT read that pinned the page: the
    failing item is the cycle T0 -> T1 -> T0, and replay names each wait."""
    m = DaxModel(DESIGNS["busy-page-wait-holds-mmaplock"])
    v = explore(m, [PROPERTIES["no_deadlock"]]).verdicts["no_deadlock"]
    assert v.status == VIOLATED and [str(i) for i in v.items] == ["T0 -> T1 -> T0"]
    rep = replay_concrete(m, [m.actions[i] for i, _ in v.trace[1:]], prop="no_deadlock")
    assert rep.reproduced
    text = " ".join(rep.symptoms)
    assert "(punch_hole at xfs_wait_dax_page) waits for pin of the page under a[0]" in text
    assert "(dio_read at gup_page1) waits for MMAPLOCK a (shared)" in text


def test_livelock_is_found_where_threads_deadlock_and_not_on_the_fixes():
    """A thread that can never finish its operation: both threads of the hold-MMAPLOCK
    design get stuck (already once the punch holds MMAPLOCK after the read pinned its first
    page); on every fixed race design every thread can always finish."""
    from daxcheck.checker.explicit.progress import stuck_threads

    m = DaxModel(DESIGNS["busy-page-wait-holds-mmaplock"])
    r = stuck_threads(m)
    assert r.complete and sorted(s.thread for s in r.stuck) == [0, 1]
    last = r.stuck[0].trace[-1][1]
    assert all(last[m.L.th_op[t]] != 0 for t in m.L.threads)
    for n in FIXED:
        r = stuck_threads(DaxModel(DESIGNS[n]))
        assert r.complete and not r.stuck, n
    code, out, err = dax_here(
        "check",
        "--quiet",
        "--no-write",
        "--livelock",
        "--design",
        "busy-page-wait-holds-mmaplock",
        "--property",
        "no_deadlock",
    )
    assert code == 12 and "livelock: busy-page-wait-holds-mmaplock: thread T0" in out


@pytest.mark.parametrize("name", RACES)
def test_partial_order_reduction_keeps_every_verdict(name):
    """Reduced and full searches: same verdicts (every violation of the full space is
    found in the reduced one), both complete; the reduced space is no larger, and the
    reference and batched explorers reduce identically."""
    m = DaxModel(DESIGNS[name])
    full = explore(m, ALL)
    red = explore(m, ALL, por=True)
    ref = explore(m, ALL, por=True, batched=False)
    for p in ALL:
        assert red.verdicts[p.name].status == full.verdicts[p.name].status, p.name
        assert ref.verdicts[p.name].status == full.verdicts[p.name].status, p.name
    assert red.stats.states <= full.stats.states
    assert ref.stats.states == red.stats.states
    assert red.stats.por is not None


def test_reduction_prunes_interleavings_when_invisible():
    """Checking only no_deadlock (the lock steps are then invisible), the reduction gives
    some states an ample set and explores fewer states, with the same verdict (1,267 of
    1,299 on the pin race; see bench/bench_por.py for why so few)."""
    m = DaxModel(DESIGNS["busy-page-no-unmap"])
    props = [PROPERTIES["no_deadlock"]]
    full, red = explore(m, props), explore(m, props, por=True)
    assert red.verdicts["no_deadlock"].status == full.verdicts["no_deadlock"].status == HOLDS
    assert red.stats.states < full.stats.states
    assert "ample sets at 0 " not in red.stats.por


def test_check_threads_flag_and_bad_bound(tmp_path):
    """``--threads 1`` runs a race design with one kernel thread (the pin race needs only
    one: the pin is an atomic action) and still finds it, and the trace replays naming the
    thread; ``--threads 4`` is one line and exit 2."""
    code, out, err = dax_here(
        "check",
        "--quiet",
        "--design",
        "busy-page-no-unmap",
        "--threads",
        "1",
        "--property",
        "pinned_pages_stay_allocated",
        "--out",
        str(tmp_path),
    )
    assert code == 12, err
    trace = tmp_path / "busy-page-no-unmap__pinned_pages_stay_allocated.itf.json"
    code, out, err = dax_here("replay", str(trace))
    assert code == 12 and "thread=T0" in out, out + err
    code, out, err = dax_here("check", "--design", "busy-page-no-unmap", "--threads", "4")
    assert code == 2 and "threads" in err and len(err.splitlines()) == 1
