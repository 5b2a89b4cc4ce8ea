"""Transaction (Lipton) reduction by kernel locks (issue 26, checker/explicit/reduction.py):
on every race design, reduced and unreduced searches give the same verdicts and the same
shortest violation depths in operations; a planted lock bug is still found (and would be
hidden by a classification that trusted a lock nobody takes); counterexamples replay; the
``--reduce lipton`` option's errors and fall-back."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import dax, thorough_for

from daxcheck.checker.engine import EngineOptions
from daxcheck.checker.explicit import reduction
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.explicit.reduction import LiptonEngine, explore_lipton, ops_depth
from daxcheck.checker.results import VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec import locks
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.scopes import is_coverage_scope

RACES = sorted(n for n, d in DESIGNS.items() if d.threaded and not is_coverage_scope(d))
ALL = list(PROPERTIES.values())

HEAVY = {
    "busy-page-no-unmap",
    "busy-page-wait-holds-mmaplock",
    "mkwrite-unlocked",
    "pmd-pte-fault-no-recheck",
    "pmd-pte-fault-recheck",
    "xfs-break-dax-layouts",
}
"""Designs whose three searches take more than a few seconds at the default scope."""

BIG = [
    "fault-punch-mmaplock",
    "fault-punch-unlocked",
    "fault-truncate-mmaplock",
    "fault-truncate-unlocked",
    "fault-write-entry-lock",
    "fault-write-late-entry-lock",
]
"""Race designs checked at --threads 3 --files 2 (thorough): the unreduced search in
operation order (the per-state explorer) of these finishes within a minute each on a
loaded 2-core machine; bench/bench_races.py compares the others' state counts."""


def _ops(model, verdict):
    return ops_depth(model, [i for i, _ in verdict.trace])


def _replays(model, trace):
    """Every step of ``trace`` is enabled where it is taken and gives the next state."""
    s = trace[0][1]
    assert trace[0][0] == -1 and s in model.init_states()
    for i, ns in trace[1:]:
        s = model.next_state(s, model.actions[i])
        assert s == ns


def _compare(model):
    """Reduced vs unreduced (same search order, in operations) vs the default BFS:
    identical verdicts; identical shortest depths in operations; reduced traces replay."""
    red = explore_lipton(model, ALL)
    full = explore_lipton(model, ALL, reduce=False)
    bfs = explore(model, ALL)
    assert red.stats.states <= full.stats.states
    for p in bfs.verdicts:
        vr, vf, vb = red.verdicts[p], full.verdicts[p], bfs.verdicts[p]
        assert vr.status == vf.status == vb.status, p
        if vb.status == VIOLATED:
            assert _ops(model, vr) == _ops(model, vf) <= _ops(model, vb), p
            _replays(model, vr.trace)
    return red, full


@pytest.mark.parametrize("name", thorough_for(RACES, HEAVY))
def test_reduced_and_unreduced_agree_at_the_default_scope(name):
    red, full = _compare(DaxModel(DESIGNS[name]))
    assert red.stats.por.startswith("lipton")


@pytest.mark.thorough
@pytest.mark.parametrize("name", BIG)
def test_reduced_and_unreduced_agree_at_three_threads_two_files(name):
    d = DESIGNS[name]
    red, full = _compare(DaxModel(d, d.bounds.replace(threads=3, files=2, depth=60)))
    assert red.stats.states < full.stats.states


def test_the_reduction_merges_steps_under_a_lock():
    """On a holding design the lock-protected steps run as blocks: fewer states, and the
    classification finds right movers (acquires) and left movers (releases)."""
    m = DaxModel(DESIGNS["fault-truncate-mmaplock"])
    red = explore_lipton(m, ALL)
    full = explore_lipton(m, ALL, reduce=False)
    assert red.stats.states * 2 <= full.stats.states
    tx = reduction.Transactions(m, ALL, [reduction.action_footprint(m, a) for a in m.actions])
    kinds = set(tx.kinds.values())
    assert {"right", "left"} <= kinds and tx.active


class _FaultIgnoresMmaplock(type(DESIGNS["fault-punch-mmaplock"])):
    """Planted bug: the hole punch takes XFS_MMAPLOCK_EXCL but page faults do not take
    it shared, so holding it does not keep faults out."""

    def xfs_ilock_mmaplock(self, op):
        return op != "fault"


def _planted():
    base = DESIGNS["fault-punch-mmaplock"]
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    return DaxModel(_FaultIgnoresMmaplock(**fields))


def test_a_lock_that_faults_ignore_does_not_hide_the_bug(monkeypatch):
    """The punch's steps under MMAPLOCK are not movers against a fault that ignores the
    lock, so the reduced search finds the race at the unreduced depth in operations; a
    classification that believed the fault waits for MMAPLOCK would hide it."""
    m = _planted()
    red, full = _compare(m)
    bad = {p for p, v in full.verdicts.items() if v.status == VIOLATED}
    assert "mapping_matches_extents" in bad
    assert {p for p, v in red.verdicts.items() if v.status == VIOLATED} == bad
    real = locks.atomic_needs_of

    def believed(D, L, a):
        extra = (locks.Need("mmap-shared", a.file),) if a.name == "fault" else ()
        return real(D, L, a) + extra

    monkeypatch.setattr(reduction.locks, "atomic_needs_of", believed)
    hidden = explore_lipton(m, ALL)
    assert hidden.verdicts["mapping_matches_extents"].status != VIOLATED


def test_designs_without_threads_fall_back_and_say_so():
    m = DaxModel(DESIGNS["iomap-hole-size"])
    res = LiptonEngine().check(EngineOptions(m, tuple(ALL)))
    plain = explore(m, ALL)
    assert res.stats.states == plain.stats.states
    assert "no kernel threads" in res.stats.por and "unreduced" in res.stats.por
    assert {p: v.status for p, v in res.verdicts.items()} == {
        p: v.status for p, v in plain.verdicts.items()
    }


def _branches_on_state(L, s):
    """A predicate the taint backend cannot follow (Python ``if`` on a state value)."""
    if s[L.size[0]] == 0:
        return True
    return True


def test_an_unanalysable_property_turns_the_reduction_off():
    m = DaxModel(DESIGNS["fault-punch-mmaplock"])
    opaque = dataclasses.replace(ALL[0], name="opaque", fn=_branches_on_state, each=None)
    tx = reduction.Transactions(m, [opaque], [reduction.action_footprint(m, a) for a in m.actions])
    assert not tx.active and "property opaque cannot be analysed" in tx.why
    res = LiptonEngine().check(EngineOptions(m, (opaque,)))
    assert "unreduced" in res.stats.por and res.stats.states == explore(m, [opaque]).stats.states


@pytest.mark.parametrize(
    "extra, expect",
    [
        (["--engine", "z3"], "the explicit engine only"),
        (["--exact"], "--exact"),
        (["--por"], "--por"),
    ],
)
def test_unsupported_combinations_are_one_line_errors(extra, expect):
    r = dax("check", "--design", "fault-punch-mmaplock", "--reduce", "lipton", *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_check_reduce_lipton_on_the_command_line(tmp_path):
    r = dax(
        "check",
        "--design",
        "fault-punch-mmaplock",
        "--design",
        "iomap-hole-size",
        "--reduce",
        "lipton",
        "-v",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "iomap-hole-size: lipton reduction off (the design has no kernel threads)" in r.stdout
    assert "lipton:" in r.stdout and "atomic blocks" in r.stdout
