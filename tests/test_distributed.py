"""The Ray path (checker/distributed/): the hash-partitioned BFS gives the one-process
explorer's states, transitions, verdicts, depths and traces; ``check/simulate --workers``
through the CLI; bad options and a missing Ray are one-line errors.

One local Ray session (4 logical CPUs: 2 partition actors, 2 for simulate's tasks) is
shared by the whole module; the tests that need no Ray run without starting it."""

import json
import sys

import pytest

from daxcheck.checker.cli import main
from daxcheck.checker.explicit import Budget
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

ALL = list(PROPERTIES.values())
# A subset of the shipped designs at their default bounds for CI: one per family of
# mechanisms, violated and holding, including the largest (cow-srcmap, 137,705 states).
# test_every_design (slow) runs them all.
CI_DESIGNS = (
    "hole-size-unknown",
    "map-sync",
    "dedupe-stale-srcmap",
    "pmd-lookup-index-only",
    "reflink-single-owner",
    "immutable-extents",
    "cow-srcmap",
)


def _summary(r):
    return (
        r.stats.states,
        r.stats.depth,
        r.stats.fired,
        r.stats.transitions,
        r.never_fired,
        {k: (v.status, v.depth, v.complete, v.items, v.trace) for k, v in r.verdicts.items()},
    )


@pytest.fixture(scope="module")
def pool():
    pytest.importorskip("ray")
    from daxcheck.checker.distributed import bfs, workers
    from daxcheck.checker.distributed.session import ray_session

    with ray_session(4) as ray:
        p = bfs.shared_pool(ray, 2)
        try:
            yield p
        finally:
            workers.SHARED_POOLS.clear()
            p.close()


@pytest.fixture
def from_level_0(monkeypatch):
    """The workers explore every level: no level is left to the driver (at the default
    handoff, one chunk, the driver would explore most of these small designs alone)."""
    from daxcheck.checker.distributed import bfs

    monkeypatch.setattr(bfs, "HANDOFF", 0)


def _same_as_one_process(pool, m, props, budget=Budget(), handoff=None, stats=None):
    from daxcheck.checker.distributed.bfs import explore_distributed

    a = explore(m, props, budget=budget)
    b = explore_distributed(m, props, pool, budget=budget, handoff=handoff, stats_out=stats)
    assert _summary(b) == _summary(a)
    return b


@pytest.mark.parametrize("name", CI_DESIGNS)
def test_two_workers_equal_the_one_process_explorer(pool, name, from_level_0):
    """Same states, transitions per family, verdicts, depths, failing items and the very
    same counterexample traces, every property, default bounds."""
    stats = {}
    _same_as_one_process(pool, DaxModel(DESIGNS[name]), ALL, stats=stats)
    assert stats["handoff"] == 0


def test_workers_take_over_from_the_driver_mid_search(pool):
    """The driver explores the levels whose frontier is below ``handoff`` states, then the
    workers go on from its frontier, visited set and key tables: the one-process result,
    with counterexamples found on either side of the handoff (their traces run through the
    driver's links and the workers'), and a --max-states cut after it."""
    m = DaxModel(DESIGNS["dedupe-stale-srcmap"])  # levels of 8, 56, 304, 1296, 3968 states
    for h, level in ((50, 2), (1000, 4), (3000, 5)):
        stats = {}
        r = _same_as_one_process(pool, m, ALL, handoff=h, stats=stats)
        assert stats["handoff"] == level
        assert {v.depth for v in r.verdicts.values() if v.status == VIOLATED} == {5}
    stats = {}  # violated at depth 3, then level 4 on
    r = _same_as_one_process(
        pool, DaxModel(DESIGNS["hole-size-unknown"]), ALL, handoff=300, stats=stats
    )
    assert stats["handoff"] == 4 and r.stats.depth == 5
    stats = {}
    r = _same_as_one_process(
        pool,
        DaxModel(DESIGNS["cow-srcmap"]),
        ALL,
        Budget(max_states=9000),
        handoff=500,
        stats=stats,
    )
    assert r.stats.states == 9000 and r.stats.stopped and stats["handoff"] >= 2
    stats = {}
    _same_as_one_process(pool, m, ALL, stats=stats)
    assert stats["handoff"] is None  # the default, one chunk: never reached here


def test_stop_when_every_property_is_violated_and_max_states(pool, from_level_0):
    """The one-process engine stops after the parent whose successor violated the last
    pending property, or at exactly --max-states: the workers count the same states and
    transitions (each violated property alone, all together, and a cut mid-level)."""
    d = DESIGNS["read-fault-unshared-flag"]
    m = DaxModel(d)
    violated = [PROPERTIES[p] for p in sorted(d.expect_violated)]
    for props in [[p] for p in violated] + [violated]:
        _same_as_one_process(pool, m, props)
    r = _same_as_one_process(pool, DaxModel(DESIGNS["map-sync"]), ALL, Budget(max_states=333))
    assert r.stats.states == 333 and r.stats.stopped


class _InProcess:
    """The partition workers of a distributed BFS run one after the other in this process:
    just enough of Ray's API (``actor.method.remote``, ``.options(num_returns=k)``,
    ``get``, ``wait``) for :class:`DistributedExplorer`, to check the rounds' logic with
    any number of workers without starting Ray."""

    class _Ref:
        def __init__(self, value):
            self.value = value

    class _Method:
        def __init__(self, fn, n=1):
            self.fn, self.n = fn, n

        def options(self, num_returns=1):
            return _InProcess._Method(self.fn, num_returns)

        def remote(self, *args):
            out = self.fn(*[a.value if isinstance(a, _InProcess._Ref) else a for a in args])
            return [_InProcess._Ref(x) for x in out] if self.n > 1 else _InProcess._Ref(out)

    class _Actor:
        def __init__(self, worker):
            self.worker = worker

        def __getattr__(self, name):
            return _InProcess._Method(getattr(self.worker, name))

    def __init__(self, n):
        from daxcheck.checker.distributed.bfs import PartitionWorker

        self.n, self.ray = n, self
        self.actors = [self._Actor(PartitionWorker(r, n)) for r in range(n)]

    def put(self, value):
        return self._Ref(value)

    def get(self, refs, timeout=None):
        return [r.value for r in refs] if isinstance(refs, list) else refs.value

    def wait(self, refs, num_returns=1, timeout=None):
        return refs, []

    def revive(self):
        pass


def test_three_workers_equal_the_one_process_explorer():
    """Three workers (a state met by several senders goes to the lowest rank; an owner's
    own candidate is lost to a lower-ranked sender): the one-process
    explorer's result, also cut by --max-states (no Ray: the workers run in this
    process)."""
    from daxcheck.checker.distributed.bfs import explore_distributed

    m = DaxModel(DESIGNS["hole-size-unknown"])
    for budget in (Budget(), Budget(max_states=777)):
        for handoff, level in ((0, 0), (30, 3)):
            stats = {}
            assert _summary(
                explore_distributed(
                    m, ALL, _InProcess(3), budget=budget, handoff=handoff, stats_out=stats
                )
            ) == _summary(explore(m, ALL, budget=budget))
            assert stats["handoff"] == level


def test_workers_share_their_key_table_entries():
    """At each level's end the workers hand each other the projections they evaluated:
    entries are taken over (and the result is still the one-process explorer's)."""
    from daxcheck.checker.distributed.bfs import explore_distributed

    m = DaxModel(DESIGNS["cow-srcmap"])
    stats = {}
    assert _summary(
        explore_distributed(m, ALL, _InProcess(2), stats_out=stats, handoff=0)
    ) == _summary(explore(m, ALL))
    shared = [lv.get("shared_entries", 0) for lv in stats["levels"]]
    assert sum(shared) > 0 and shared[-1] == 0  # nothing after the last level


@pytest.mark.slow
@pytest.mark.thorough
@pytest.mark.parametrize("name", sorted(set(DESIGNS) - set(CI_DESIGNS)))
def test_every_design(pool, name):
    """The one-process result on every design, the workers from level 0 and from the first
    frontier of 100 states or more."""
    for handoff in (0, 100):
        _same_as_one_process(pool, DaxModel(DESIGNS[name]), ALL, handoff=handoff)


def test_cli_check_workers_2_writes_the_same_trace(pool, tmp_path, capsys, from_level_0):
    """``check --workers 2`` (reusing the module's workers) exits as the one-process run
    and writes the same counterexample (ITF states and actions)."""
    args = ["check", "--design", "hole-size-unknown", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "one")]) == 12
    assert (
        main(
            args
            + ["--workers", "2", "--out", str(tmp_path / "two"), "--json", str(tmp_path / "r.json")]
        )
        == 12
    )
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "two").iterdir())
    for f in files:
        one, two = (json.loads((tmp_path / d / f).read_text()) for d in ("one", "two"))
        assert one["states"] == two["states"]
    rows = json.loads((tmp_path / "r.json").read_text())
    assert "hole-size-unknown" in json.dumps(rows)


def test_simulate_workers_is_deterministic_and_finds_the_violation(pool):
    """Walks split over 2 Ray tasks (worker 0 uniform, worker 1 swarm): a seed design's
    violation is found and shrunk to within 2 steps of the BFS depth; the same seed and
    worker count give the same result."""
    from daxcheck.checker.distributed.swarm import simulate_distributed, worker_plan

    m = DaxModel(DESIGNS["dma-pin-ignored"])
    props = [PROPERTIES[p] for p in sorted(DESIGNS["dma-pin-ignored"].expect_violated)]
    bfs = explore(m, props)
    a = simulate_distributed(m, props, 2, depth=60, runs=300, seed=5)
    b = simulate_distributed(m, props, 2, depth=60, runs=300, seed=5)
    for p in props:
        va, vb = a.verdicts[p.name], b.verdicts[p.name]
        assert va.status == VIOLATED and va.trace == vb.trace
        assert bfs.verdicts[p.name].depth <= va.depth <= bfs.verdicts[p.name].depth + 2
    assert a.stats.walks == b.stats.walks and a.stats.found == b.stats.found
    assert [w["runs"] for w in worker_plan(7, 1, 3)] == [3, 2, 2]
    assert [w["swarm"] for w in worker_plan(7, 1, 3)] == [False, True, True]


SPIN = """
import dataclasses
from daxcheck.spec.designs import DESIGNS, Design, register_design


@dataclasses.dataclass(frozen=True)
class Spin(Design):
    def iomap_hole_length(self, L, s, f, x, want):
        while isinstance(s[L.size[f]], int):     # on states, not in the read-set analysis
            {body}
        return super().iomap_hole_length(L, s, f, x, want)


register_design(Spin(**{{**{{f.name: getattr(DESIGNS["iomap-hole-size"], f.name)
                           for f in dataclasses.fields(Design)}}, "name": "spin"}}))
"""


@pytest.mark.parametrize(
    "body, limit, stop",
    [
        ("pass", "2", "in user code {f}:9"),
        (
            "try:\n                while True:\n                    pass\n            except "
            "BaseException:\n                pass",
            "1",
            "(the Ray workers did not stop: killed)",
        ),
    ],
)
def test_time_limit_stops_a_hook_that_never_returns_in_a_worker(
    pool, tmp_path, body, limit, stop, from_level_0
):
    """A user's design hook that never returns inside the Ray workers: --time-limit stops
    it there (naming the user's file:line; the limit leaves the workers' setup time to
    reach the hook on a loaded machine), or, when the hook swallows the stop, the driver
    kills the workers; incomplete, exit 75, one line; the next design runs on new
    workers."""
    from helpers import dax_here

    f = tmp_path / "spin.py"
    f.write_text(SPIN.format(body=body))
    code, out, err = dax_here(
        "check",
        "--designs",
        str(f),
        "--design",
        "spin",
        "--design",
        "map-sync",
        "--workers",
        "2",
        "--time-limit",
        limit,
        "--no-write",
        "--quiet",
    )
    assert code == 75, out + err
    assert f"incomplete: spin: time limit {limit}s reached {stop.format(f=f)}\n" in out
    assert "incomplete: map-sync" not in out and err == ""


@pytest.mark.parametrize(
    "args, msg",
    [
        (["check", "--workers", "0"], "--workers: '0' is not at least 1"),
        (["check", "--workers", "-2"], "--workers: '-2' is not at least 1"),
        (["check", "--ray-address", "auto"], "--ray-address needs --workers N with N >= 2"),
        (["simulate", "--workers", "1", "--ray-address", "auto"], "--ray-address needs"),
        (["check", "--workers", "2", "--exact"], "--exact is not supported with --workers"),
        (["check", "--workers", "2", "--symmetry"], "--symmetry is not supported"),
        (["check", "--workers", "2", "--engine", "z3"], "--engine z3 is not supported"),
    ],
)
def test_bad_distributed_options_are_one_line_errors(args, msg, capsys):
    with pytest.raises(SystemExit) if "is not at least" in msg else _no_raise():
        code = main(args + ["--design", "map-sync", "--no-write"])
        assert code == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_without_ray_workers_2_says_how_to_install(monkeypatch, capsys):
    from daxcheck.checker.distributed import workers

    monkeypatch.setattr(workers, "SHARED_POOLS", {})
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    for cmd in (["check"], ["simulate", "--runs", "3"]):
        assert main(cmd + ["--workers", "2", "--design", "map-sync", "--no-write"]) == 2
        err = capsys.readouterr().err
        assert err == (
            "daxcheck: error: --workers N>=2 needs Ray: pip install 'daxcheck[distributed]'\n"
        )


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
