"""Tests of the Z3 layer, the BMC and k-induction engines and the byte-offset queries.

The cross-check runs both engines on every shipped design x property and requires
identical verdicts and identical shortest counterexample depths.
"""

from __future__ import annotations

import pytest
from helpers import COVERAGE_SCOPES, thorough_for

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import EXIT_INCOMPLETE, HOLDS, INCOMPLETE, VIOLATED
from daxcheck.checker.symbolic import smt
from daxcheck.checker.symbolic.engine import (
    EngineDisagreement,
    ProveError,
    SymbolicModel,
    bmc,
    prove,
)
from daxcheck.checker.symbolic.queries import PAGE_SIZE, PMD_SIZE, QUERIES, QueryError, get_query
from daxcheck.properties import PROPERTIES
from daxcheck.properties.registry import Property
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import field_domain
from daxcheck.spec.vocab import SymbolicUseError

PROPS = list(PROPERTIES.values())

# Depth at which the default run cross-checks each design (the design's default depth
# where BMC takes a few seconds; the full default depth of the rest is in the slow test).
# The history designs (fsdax-history.md 1-10) are cross-checked to depth 4: their bugs are
# shallow, and each violation is cross-checked at its own depth by
# test_bmc_finds_seed_violation_at_explore_depth (depth 5 costs ~3x more, mostly the dedupe
# pair's all-segments compare).
CROSS_DEPTH_CAP = 5
HISTORY_CROSS_DEPTH_CAP = 4


def _cross_depth(d):
    cap = HISTORY_CROSS_DEPTH_CAP if d.seed.startswith("h") else CROSS_DEPTH_CAP
    return min(d.bounds.depth, cap)


# ----------------------------------------------------------------------------- smt layer
def test_three_valued_results():
    x = smt.z3.Int("x")
    s = smt.Solver()
    with s.frame():
        s.add(x > 1, x < 3)
        out = s.check()
        assert out.result is smt.Result.REFUTED and out.value(x) == 2
    with s.frame():
        s.add(x > 1, x < 2)
        assert s.check().result is smt.Result.CONFIRMED
    # frames retract: the unsat constraint is gone again
    assert s.check().result is smt.Result.REFUTED


def test_timeout_is_unknown_not_a_pass():
    a, b, c = smt.z3.Ints("a b c")
    s = smt.Solver()
    s.set_option("timeout", 1)
    # Fermat n=3: hard for the nonlinear solver within 1 ms.
    s.add(a > 0, b > 0, c > 0, a * a * a + b * b * b == c * c * c)
    out = s.check()
    assert out.result is smt.Result.UNKNOWN and out.reason
    with pytest.raises(ValueError):
        out.value(a)


def test_expired_deadline_answers_unknown():
    s = smt.Solver(smt.Deadline(1e-9))
    out = s.check()
    assert out.result is smt.Result.UNKNOWN and out.reason == "time limit"
    with pytest.raises(ValueError, match="positive"):
        smt.Deadline(0)


def test_bmc_time_limit_is_incomplete_exit_75():
    m = DaxModel(DESIGNS["map-sync"])
    r = bmc(m, PROPS, depth=60, time_limit=0.5)
    assert {v.status for v in r.verdicts.values()} == {INCOMPLETE}
    assert r.exit_code() == EXIT_INCOMPLETE
    assert r.stats.stopped


def _if_on_state(L, s):
    if s[L.size[0]] == 0:  # noqa: SIM103 (the Python `if` on a state value is the test)
        return True
    return False


def _index_by_state(L, s):
    return s[s[L.size[0]]] == 0


def test_symbolic_use_error_names_function_and_construct():
    m = DaxModel(DESIGNS["map-sync"])
    sm = SymbolicModel(m)
    with pytest.raises(SymbolicUseError) as e:
        sm.prop_term(Property("if_on_state", _if_on_state, "doc"))
    msg = str(e.value)
    assert "\n" not in msg
    assert "_if_on_state" in msg and "test_symbolic.py" in msg and "truth test" in msg
    assert "if s[L.size[0]] == 0" in msg
    with pytest.raises(SymbolicUseError) as e:
        sm.prop_term(Property("index_by_state", _index_by_state, "doc"))
    assert "_index_by_state" in str(e.value) and "index" in str(e.value)
    # ... and the explicit engine still evaluates them
    assert _if_on_state(m.L, m.L.init_state()) is True


def test_field_domains_cover_reachable_states():
    m = DaxModel(DESIGNS["cow-srcmap"], DESIGNS["cow-srcmap"].bounds.replace(depth=3))
    seen = {m.L.init_state()}
    frontier = list(seen)
    for _ in range(3):
        frontier = [
            ns for s in frontier for _, ns in m.successors(s) if ns not in seen and not seen.add(ns)
        ]
    doms = [set(field_domain(m.L, o)) for o in range(m.L.width)]
    bad = [(m.L.label(o), s[o]) for s in seen for o in range(m.L.width) if s[o] not in doms[o]]
    assert not bad


# ----------------------------------------------------------------------------- BMC
def _check_trace(m, prop, v):
    """A verdict trace replays step by step through the explicit semantics and ends in a
    state violating ``prop``."""
    assert v.trace[0][0] == -1 and v.trace[0][1] == m.init_states()[0]
    assert len(v.trace) == v.depth + 1
    for (_, s), (i, ns) in zip(v.trace, v.trace[1:]):
        assert m.actions[i].apply(m, s) == ns
    assert not prop.fn(m.L, v.trace[-1][1])


# Designs where one of the two tests below takes 7-19 s (--durations on this VM): run
# under -m thorough; the rest by default (each seed bug stays cross-checked or BMC-found).
HEAVY_CROSS = {
    "cow-srcmap",
    "immutable-no-reflink",
    "cow-in-core-refcount",
    "dedupe-lockstep",
    "cow-single-iomap",
}
HEAVY_BMC = {"immutable-extents"}


@pytest.mark.parametrize("name", thorough_for(list(DESIGNS), HEAVY_CROSS | COVERAGE_SCOPES))
def test_cross_check_engines(name):
    """Both engines, every shipped property: identical verdicts, identical shortest
    counterexample depths, and every BMC counterexample replays."""
    d = DESIGNS[name]
    depth = _cross_depth(d)
    m = DaxModel(d, d.bounds.replace(depth=depth))
    ex = explore(m, PROPS)
    z3r = bmc(m, PROPS)
    for p in PROPS:
        e, z = ex.verdicts[p.name], z3r.verdicts[p.name]
        assert e.status in (HOLDS, VIOLATED) and z.status == e.status, (p.name, e, z)
        if e.status == VIOLATED:
            assert z.depth == e.depth, p.name
            _check_trace(m, p, z)
        else:
            assert z.depth == depth


@pytest.mark.parametrize(
    "name", thorough_for([n for n, d in DESIGNS.items() if d.expect_violated], HEAVY_BMC)
)
def test_bmc_finds_seed_violation_at_explore_depth(name):
    """Each violating seed design's expected violation: BMC (run to exactly the depth
    explore reports) finds it at the same shortest depth, with a replayable trace."""
    d = DESIGNS[name]
    m = DaxModel(d)
    props = [PROPERTIES[p] for p in sorted(d.expect_violated)]
    ex = explore(m, props)
    depth = max(v.depth for v in ex.verdicts.values())
    z = bmc(m, props, depth=depth)
    for p in props:
        assert ex.verdicts[p.name].status == VIOLATED
        assert z.verdicts[p.name].status == VIOLATED
        assert z.verdicts[p.name].depth == ex.verdicts[p.name].depth
        _check_trace(m, p, z.verdicts[p.name])


@pytest.mark.slow
@pytest.mark.thorough
@pytest.mark.parametrize(
    "name",
    [
        n
        for n, d in DESIGNS.items()
        if d.bounds.depth > CROSS_DEPTH_CAP and not d.seed.startswith(("h", "r"))
    ],
)
def test_cross_check_engines_full_depth(name):
    d = DESIGNS[name]
    m = DaxModel(d)
    ex = explore(m, PROPS)
    z3r = bmc(m, PROPS)
    for p in PROPS:
        e, z = ex.verdicts[p.name], z3r.verdicts[p.name]
        assert z.status == e.status, (p.name, e, z)
        if e.status == VIOLATED:
            assert z.depth == e.depth
            _check_trace(m, p, z)


def test_disagreement_is_an_error_not_a_verdict():
    # A predicate that answers differently on concrete and symbolic states.
    def liar(L, s):
        return True if isinstance(s, bytes) else s[L.size[0]] != 0

    m = DaxModel(DESIGNS["map-sync"])
    with pytest.raises(EngineDisagreement):
        bmc(m, [Property("liar", liar, "doc")], depth=2)


# ----------------------------------------------------------------------------- prove
def test_prove_holds_at_every_depth():
    m = DaxModel(DESIGNS["map-sync"])
    r = prove(m, PROPERTIES["refcounts_consistent"], max_k=2)
    assert r.status == "proved" and r.k >= 1
    assert "holds at every depth" in r.lines(m.L)[0]


def test_prove_refutes_with_shortest_trace():
    m = DaxModel(DESIGNS["userspace-flush"])
    p = PROPERTIES["durable_after_sync"]
    r = prove(m, p, max_k=5)
    ex = explore(m, [p])
    assert r.status == "refuted" and r.k == ex.verdicts[p.name].depth
    assert not p.fn(m.L, r.trace[-1][1])


def test_prove_not_inductive_shows_cti_diff():
    m = DaxModel(DESIGNS["map-sync"])
    r = prove(m, PROPERTIES["no_stale_data"], k=1, lemmas="none")
    assert r.status == "not inductive" and r.k == 1
    acts, states = r.cti
    assert len(states) == 2 and not PROPERTIES["no_stale_data"].fn(m.L, states[-1])
    assert m.next_state(states[0], acts[0]) == states[1]
    text = "\n".join(r.lines(m.L))
    assert "step 1" in text and "->" in text


def test_prove_bad_arguments():
    m = DaxModel(DESIGNS["map-sync"])
    with pytest.raises(ProveError, match="1..30"):
        prove(m, PROPERTIES["refcounts_consistent"], k=0)
    with pytest.raises(ProveError, match="max-k"):
        prove(m, PROPERTIES["refcounts_consistent"], max_k=0)
    with pytest.raises(ProveError, match="lemmas"):
        prove(m, PROPERTIES["refcounts_consistent"], lemmas="all")


# ----------------------------------------------------------------------------- queries
def _cow_offending(copy, pos, ln, off):
    """Python re-computation of the CoW query's byte arithmetic (64-bit)."""
    end = pos + ln
    start = pos & ~(PAGE_SIZE - 1)
    pg_end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    assert ln > 0 and start <= off < pg_end
    written = pos <= off < end
    if copy == "single-iomap":
        return not written
    head_off = pos & (PAGE_SIZE - 1)
    rel = off - start
    copy_all = head_off == 0 and end == pg_end
    filled = (
        (copy_all and rel < ln)
        or (head_off and rel < head_off)
        or (end < pg_end and head_off + ln <= rel < head_off + ln + pg_end - end)
    )
    return not (written or filled)


def _pmd_offending(report, v):
    pmd, fault, hole_end, hole_start, isize = (
        v["pmd"],
        v["fault"],
        v["hole_end"],
        v["hole_start"],
        v["i_size"],
    )
    assert pmd == fault & ~(PMD_SIZE - 1) and hole_start <= fault < hole_end < isize
    length = PMD_SIZE if report == "unknown" else min(hole_end - pmd, PMD_SIZE)
    return length >= PMD_SIZE and hole_end < pmd + PMD_SIZE


@pytest.mark.parametrize("name", list(QUERIES))
def test_queries_answer_as_the_seed_says(name):
    q = get_query(name)
    r = q.run(time_limit=60)
    assert r.status == q.expect, r.lines()
    assert r.lines()[0].startswith(name)
    if r.status == "sat":
        assert r.values
        for v in r.values:
            if name.startswith("cow"):
                assert _cow_offending("single-iomap", v["pos"], v["len"], v["byte"])
            else:
                assert _pmd_offending("unknown", v)
    else:
        assert r.proof


def test_query_registry_errors():
    with pytest.raises(QueryError, match="known"):
        get_query("nope")
    with pytest.raises(QueryError, match="positive"):
        get_query("cow-srcmap").run(time_limit=-1)
