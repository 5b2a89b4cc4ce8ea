"""Random simulation: finds the seed designs' violations, shrinks them close to the BFS
shortest depth, goes deeper than the default bound, and never reports "holds"."""

import json
import subprocess
import sys

import pytest

from daxcheck.checker.gate import DEFAULT_MANIFEST, load_manifest
from daxcheck.checker.results import NOT_FOUND, VIOLATED
from daxcheck.checker.simulate import SimulationError, replay_until_violation, shrink, simulate
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

MANIFEST = load_manifest(DEFAULT_MANIFEST)["designs"]
BROKEN = sorted(n for n, d in DESIGNS.items() if d.expect_violated)


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
