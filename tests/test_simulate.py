"""Random simulation: finds the seed designs' violations, shrinks them close to the BFS
shortest depth, goes deeper than the default bound, and never reports "holds"."""

import json
import subprocess
import sys

import numpy as np
import pytest

from daxcheck.checker.explicit.walks import LockstepWalks
from daxcheck.checker.gate import DEFAULT_MANIFEST, load_manifest
from daxcheck.checker.results import NOT_FOUND, VIOLATED
from daxcheck.checker.simulate import (
    SimulationError,
    action_weights,
    replay_until_violation,
    shrink,
    simulate,
)
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

MANIFEST = load_manifest(DEFAULT_MANIFEST)["designs"]
BROKEN = sorted(n for n, d in DESIGNS.items() if d.expect_violated)
ALL = list(PROPERTIES.values())


@pytest.mark.parametrize("name", BROKEN)
def test_finds_every_seed_violation_and_shrinks_near_the_bfs_depth(name):
    m = DaxModel(DESIGNS[name])
    props = [PROPERTIES[p] for p in sorted(DESIGNS[name].expect_violated)]
    r = simulate(m, props, depth=200, runs=None, time_limit=60, seed=0)
    for p in props:
        v = r.verdicts[p.name]
        bfs = MANIFEST[name]["verdicts"][p.name]["depth"]
        assert v.status == VIOLATED, p.name
        assert bfs <= v.depth <= bfs + 2
        acts = [m.actions[i] for i, _ in v.trace[1:]]
        assert replay_until_violation(m, acts, p) == acts  # the reference semantics


def test_finds_the_depth_6_violation_the_default_bound_misses():
    """cow-in-core-refcount's no_stale_data needs 6 steps (BFS); the default BFS depth is 5.
    The walk's shrunk trace is 1-minimal, not necessarily shortest (seed 0: 7 steps since
    fdatasync of a clean inode forces no log)."""
    m = DaxModel(DESIGNS["cow-in-core-refcount"])
    assert (
        m.bounds.depth == 5
        and MANIFEST["cow-in-core-refcount"]["verdicts"]["no_stale_data"]["verdict"] == "holds"
    )
    v = simulate(m, [PROPERTIES["no_stale_data"]], runs=None, time_limit=60, seed=0).verdicts[
        "no_stale_data"
    ]
    assert v.status == VIOLATED and m.bounds.depth < v.depth <= 7


def test_shrunk_trace_is_one_minimal():
    m = DaxModel(DESIGNS["cow-single-iomap"])
    p = PROPERTIES["durable_after_sync"]
    r = simulate(m, [p], runs=None, time_limit=60, seed=3)
    acts = [m.actions[i] for i, _ in r.verdicts[p.name].trace[1:]]
    assert shrink(m, acts, p) == acts
    for i in range(len(acts)):
        assert replay_until_violation(m, acts[:i] + acts[i + 1 :], p) is None


def test_a_fixed_design_is_not_found_never_holds():
    m = DaxModel(DESIGNS["iomap-hole-size"])
    r = simulate(m, list(PROPERTIES.values()), depth=50, runs=30, seed=1)
    assert {v.status for v in r.verdicts.values()} == {NOT_FOUND}
    assert r.exit_code() == 0 and r.stats.walks == 30


def test_same_seed_same_result():
    m = DaxModel(DESIGNS["cow-single-iomap"])
    a = simulate(m, list(PROPERTIES.values()), runs=20, seed=7)
    b = simulate(m, list(PROPERTIES.values()), runs=20, seed=7)
    assert {k: (v.status, v.trace) for k, v in a.verdicts.items()} == {
        k: (v.status, v.trace) for k, v in b.verdicts.items()
    }


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(depth=0), "walk depth"),
        (dict(runs=0), "runs"),
        (dict(runs=None), "needs --runs or --time-limit"),
        (dict(weights={"teleport": 1}), "teleport"),
        (dict(weights={"write": -1}), "non-negative"),
    ],
)
def test_bad_parameters_are_named(kw, msg):
    m = DaxModel(DESIGNS["map-sync"])
    with pytest.raises(SimulationError, match=msg):
        simulate(m, list(PROPERTIES.values()), **kw)


def dax(*args, cwd=None):
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_cli_simulate_saves_a_trace_that_replays(tmp_path):
    r = dax(
        "simulate",
        "--design",
        "hole-size-unknown",
        "--runs",
        "50",
        "--out",
        str(tmp_path),
        "--swarm",
        "--weights",
        "crash=0",
    )
    assert r.returncode == 12 and "shrunk from" in r.stdout, r.stdout + r.stderr
    f = tmp_path / "hole-size-unknown__mapping_matches_extents.itf.json"
    assert json.loads(f.read_text())["#meta"]["engine"].startswith("simulate")
    assert dax("replay", str(f)).returncode == 12
    r = dax("simulate", "--design", "map-sync", "--weights", "write")
    assert r.returncode == 2 and "FAMILY=WEIGHT" in r.stderr


# ---------------------------------------------------------------- batched walks (issue 26)
SHALLOW = sorted(
    (name, p)
    for name, e in MANIFEST.items()
    for p, v in e["verdicts"].items()
    if v["verdict"] == "violated" and v["depth"] <= 6
)
SHALLOW_DESIGNS = sorted({n for n, _ in SHALLOW})
FAST_SUBSET = ("hole-size-unknown", "dedupe-raw-media", "busy-page-wait-holds-mmaplock")


def _finds_shallow_violations_at_default_settings(name):
    props = [PROPERTIES[p] for n, p in SHALLOW if n == name]
    r = simulate(DaxModel(DESIGNS[name]), props, time_limit=60)  # default runs, depth, seed
    missed = [p.name for p in props if r.verdicts[p.name].status != VIOLATED]
    assert not missed, f"{name}: {missed} not found in {r.stats.walks} walks"


@pytest.mark.parametrize("name", FAST_SUBSET)
def test_batched_finds_shallow_violations_at_default_settings(name):
    assert name in SHALLOW_DESIGNS
    _finds_shallow_violations_at_default_settings(name)


@pytest.mark.thorough
@pytest.mark.parametrize("name", SHALLOW_DESIGNS)
def test_batched_finds_every_shallow_violation_within_60s(name):
    """Every violation BFS finds at depth <= 6 is found by the default simulation."""
    _finds_shallow_violations_at_default_settings(name)


def test_lockstep_walks_follow_the_reference_semantics():
    """Every walk's actions replay with ``model.next_state`` (each enabled where taken) to
    the very state the packed words hold, and a family weighted 0 is never taken."""
    m = DaxModel(DESIGNS["cow-single-iomap"])
    crash = [i for i, a in enumerate(m.actions) if a.name == "crash"]
    assert crash

    def weights_of(rng, n):
        w = np.ones((n, len(m.actions)))
        w[:, crash] = 0.0
        return w

    walks = LockstepWalks(m, [], 12, 5, weights_of, runs=64, batch=64)
    for _ in range(10):
        walks.step()
    rows = walks.ex.packing.unpack_rows(walks.words)
    assert walks.states > 0
    for slot in range(64):
        s = m.init_states()[0]
        for i in walks.actions_of(slot):
            assert i not in crash
            s = m.next_state(s, m.actions[i])
            assert s is not None
        assert s == bytes(rows[slot])


def test_swarm_weights_differ_per_walk_and_leave_families_out():
    fams = ["a", "b", "c", "d"]
    rng = np.random.Generator(np.random.PCG64(1))
    w = action_weights(rng, 500, ["a", "a", "b", "c", "d"], fams, None, swarm=True)
    assert w.shape == (500, 5) and (w[:, 0] == w[:, 1]).all()  # one weight per family
    assert 0.2 < (w == 0).mean() < 0.4 and len({tuple(r) for r in w}) > 450
    fixed = action_weights(rng, 3, ["a", "b"], fams, {"b": 0}, swarm=False)
    assert fixed.tolist() == [[1.0, 0.0]] * 3


def test_batched_same_seed_same_walks_and_counts():
    m = DaxModel(DESIGNS["dedupe-stale-srcmap"])
    runs = [simulate(m, ALL, runs=256, depth=20, seed=11, swarm=True) for _ in range(2)]
    a, b = ({k: (v.status, v.trace) for k, v in r.verdicts.items()} for r in runs)
    assert a == b and any(v[0] == VIOLATED for v in a.values())
    assert (runs[0].stats.states, runs[0].stats.found) == (
        runs[1].stats.states,
        runs[1].stats.found,
    )
    other = simulate(m, ALL, runs=256, depth=20, seed=12, swarm=True)
    assert other.stats.found != runs[0].stats.found or other.stats.states != runs[0].stats.states


def test_batched_and_reference_walks_agree_on_verdicts():
    """Different random choices, the same bugs: both engines find hole-size-unknown's two
    violations and report only traces the reference semantics reproduce."""
    m = DaxModel(DESIGNS["hole-size-unknown"])
    props = [PROPERTIES[p] for p in sorted(DESIGNS["hole-size-unknown"].expect_violated)]
    for batched in (True, False):
        r = simulate(m, props, runs=200, depth=30, seed=2, batched=batched)
        for p in props:
            v = r.verdicts[p.name]
            assert v.status == VIOLATED
            acts = [m.actions[i] for i, _ in v.trace[1:]]
            assert replay_until_violation(m, acts, p) == acts
