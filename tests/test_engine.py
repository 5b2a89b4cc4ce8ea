"""The one engine interface (issue 24): every search strategy behind ``Engine.check``.

Each registered engine is checked against the function it wraps (same verdicts, depths,
traces, statistics), the runner's entry points against the engines, and the options an
engine does not support against a one-line InputError.
"""

from __future__ import annotations

import pytest

from daxcheck.checker import engines, runner
from daxcheck.checker.engine import Budget, Engine, EngineOptions, get
from daxcheck.checker.explicit.explore import explore, explore_states
from daxcheck.checker.results import HOLDS, INCOMPLETE, VIOLATED, InputError
from daxcheck.checker.simulate import simulate
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

SHIPPED = [p for p in PROPERTIES.values() if p.origin == "shipped"]


def summary(res):
    """What two runs of the same search must agree on."""
    return (
        {k: (v.status, v.depth, v.complete, v.trace) for k, v in res.verdicts.items()},
        res.stats.states,
        res.stats.transitions,
        res.stats.depth,
        res.stats.stopped,
    )


def model(name, depth=None):
    d = DESIGNS[name]
    return DaxModel(d, d.bounds.replace(depth=depth) if depth is not None else d.bounds)


def test_every_strategy_is_registered_behind_the_protocol():
    assert set(engines.ENGINES) == {
        "bfs",
        "reference",
        "lipton",
        "bmc",
        "prove",
        "simulate",
        "distributed",
        "swarm",
    }
    for name, e in engines.ENGINES.items():
        assert isinstance(e, Engine) and e.name == name and get(name) is e


def test_an_unknown_engine_is_one_line_of_bad_input():
    with pytest.raises(InputError, match=r"unknown engine 'dfs' \(valid: bfs, reference, "):
        get("dfs")


def test_the_options_are_frozen():
    o = EngineOptions(model("map-sync", 2), tuple(SHIPPED))
    with pytest.raises(AttributeError):
        o.depth = 3
    assert o.time_limit is None
    assert EngineOptions(o.model, budget=Budget(time_limit=2)).time_limit == 2


@pytest.mark.parametrize("name", ["userspace-flush", "map-sync"])
def test_explicit_engines_equal_the_explorers(name):
    m = model(name, 5)
    o = EngineOptions(m, tuple(SHIPPED))
    bfs, ref = get("bfs").check(o), get("reference").check(o)
    assert summary(bfs) == summary(explore(m, SHIPPED)) == summary(ref)
    assert summary(ref) == summary(explore_states(m, SHIPPED))
    assert any(v.status == VIOLATED for v in bfs.verdicts.values()) == (name == "userspace-flush")


def test_a_budget_reaches_the_engine():
    m = model("cow-srcmap")
    r = get("bfs").check(EngineOptions(m, tuple(SHIPPED), budget=Budget(max_states=200)))
    assert r.stats.stopped == "max-states 200 reached"
    assert {v.status for v in r.verdicts.values()} <= {INCOMPLETE, VIOLATED}


def test_bmc_engine_finds_the_explicit_engines_shortest_violation():
    m = model("userspace-flush", 4)
    p = PROPERTIES["durable_after_sync"]
    seen = []
    r = get("bmc").check(EngineOptions(m, (p,), progress=seen.append))
    ex = explore(m, [p])
    assert r.verdicts[p.name].status == VIOLATED == ex.verdicts[p.name].status
    assert r.verdicts[p.name].depth == ex.verdicts[p.name].depth == 4
    assert [s.depth for s in seen] == list(range(len(seen))) and seen


def test_prove_engine_gives_verdicts_and_the_proof():
    m = model("map-sync")
    p = PROPERTIES["refcounts_consistent"]
    out = {}
    r = get("prove").check(EngineOptions(m, (p,), max_k=2, stats_out=out))
    v = r.verdicts[p.name]
    assert (v.status, v.complete) == (HOLDS, True)
    assert [x.status for x in out["proof"].results] == ["proved"] and v.depth == out["proof"].k
    with pytest.raises(InputError, match="induction depth k must be an int in 1..30"):
        get("prove").check(EngineOptions(m, (p,), k=0))


def test_prove_design_returns_the_refuted_trace():
    m = model("userspace-flush")
    p = PROPERTIES["durable_after_sync"]
    got = runner.run_prove(m, [p], k=5, command="daxcheck prove")  # refuted in the base case
    assert got.incomplete is None and got.run.results[0].status == "refuted"
    t = got.traces[p.name]
    assert t.depth == 4 and t.meta["engine"] == "z3 k-induction base case"
    with pytest.raises(InputError, match="largest induction depth max-k"):
        runner.check_prove_arguments(None, 31)


def test_simulate_engine_equals_simulate():
    m = model("userspace-flush")
    o = EngineOptions(m, tuple(SHIPPED), depth=40, runs=30, seed=3)
    a = get("simulate").check(o)
    b = simulate(m, SHIPPED, depth=40, runs=30, seed=3)
    assert summary(a) == summary(b) and a.stats.walks == b.stats.walks == 30
    with pytest.raises(InputError, match="depth"):
        get("simulate").check(EngineOptions(m, tuple(SHIPPED), depth=0))


def test_distributed_engines_refuse_what_they_do_not_support():
    m = model("map-sync", 2)
    for kw, what in (
        ({"exact": True}, "--exact"),
        ({"symmetry": True}, "--symmetry"),
        ({}, "needs a worker pool"),
    ):
        with pytest.raises(InputError, match=what):
            get("distributed").check(EngineOptions(m, tuple(SHIPPED), **kw))


def test_runner_runs_the_engines_by_name():
    m = model("userspace-flush", 5)
    c = runner.run_check(m, SHIPPED, command="daxcheck check")
    assert summary(c.result) == summary(get("bfs").check(EngineOptions(m, tuple(SHIPPED))))
    assert set(c.traces) == {n for n, v in c.result.verdicts.items() if v.status == VIOLATED}
    assert all(t.meta["engine"] == "explicit" for t in c.traces.values())
    with pytest.raises(InputError, match="unknown engine 'tlc' \\(valid: explicit, z3\\)"):
        runner.run_check(m, SHIPPED, engine="tlc")
