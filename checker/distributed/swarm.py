"""``simulate --workers N``: the random walks split over N Ray tasks, swarm style (Holzmann,
Joshi and Groce's swarm verification; Spin's swarm mode).

Worker 0 walks exactly as asked (uniform, ``--weights`` or ``--swarm``); every other worker
runs swarm walks (fresh random family weights per walk) from its own seed, so that
different workers leave out different kinds of operations.  Each worker shrinks its own
violations (:func:`~daxcheck.checker.simulate.shrink`).  The result has the one-process
format: per property the shortest shrunk trace over the workers (ties: the lowest worker),
walk numbers counted across workers in worker order.  Given ``seed`` and the number of
workers (and no time limit cutting walks short) the result is deterministic.
"""

from __future__ import annotations

import time

from ..engine import EngineOptions, guarded_run
from ..results import NOT_FOUND, VIOLATED, CheckResult, InputError, Verdict
from ..simulate import Found, SimStats, SimulationError, check_parameters, simulate, walk_options
from .session import ray_session
from .spec import ModelSpec


def worker_plan(runs: int | None, seed: int, n: int, weights=None, *, swarm=False) -> list[dict]:
    """Per worker the keyword arguments of :func:`simulate`: ``runs`` split as evenly as
    possible (the first ``runs % n`` workers one more; None: every worker unbounded, for a
    time limit), seed ``seed * n + k``, worker 0 with the given ``weights``/``swarm``, the
    others swarm.  A worker with no walk is left out."""
    out = []
    for k in range(n):
        r = None if runs is None else runs // n + (1 if k < runs % n else 0)
        if r == 0:
            continue
        out.append(
            {
                "runs": r,
                "seed": seed * n + k,
                "weights": weights if k == 0 else None,
                "swarm": swarm or k > 0,
            }
        )
    return out


def _run_part(spec, depth, time_limit, part):
    """One worker's walks (a Ray task), a user's code contained as in the one-process run."""
    model, props = spec.build()
    return guarded_run(
        model,
        props,
        time_limit,
        lambda: simulate(model, props, depth=depth, time_limit=time_limit, **part),
        SimStats,
    )


def merge_results(model, props, results, plan, depth) -> CheckResult:
    """One :class:`CheckResult` from the workers' ``results`` (in plan order): summed
    statistics, per property the shortest shrunk counterexample (ties: the lowest worker),
    its walk number shifted by the walks of the workers before it."""
    stats = SimStats()
    verdicts, offset = {}, 0
    best = {}
    for res, _part in zip(results, plan):
        st = res.stats
        stats.states += st.states
        stats.walks += st.walks
        stats.deadlocks += st.deadlocks
        stats.stopped = stats.stopped or st.stopped
        for name, v in res.verdicts.items():
            if v.status == VIOLATED and (name not in best or v.depth < best[name][0].depth):
                f = st.found[name]
                best[name] = (v, Found(f.walk + offset if f.walk else 0, f.step, f.raw_length))
        offset += st.walks
    for p in props:
        if p.name in best:
            verdicts[p.name], stats.found[p.name] = best[p.name]
        else:
            verdicts[p.name] = Verdict(p.name, NOT_FOUND, depth)
    stats.depth = depth
    stats.transitions = stats.states
    return CheckResult(model.design.name, model.bounds.as_dict(), verdicts, stats, [])


def simulate_distributed(
    model,
    props,
    workers: int,
    depth=200,
    runs=1000,
    seed=0,
    time_limit=None,
    weights=None,
    *,
    swarm=False,
    address=None,
):
    """:func:`~daxcheck.checker.simulate.simulate` split over ``workers`` Ray tasks
    (module docstring); same arguments and result format.  The parameters are checked in
    this process first (SimulationError); raises
    :class:`~.session.DistributedError` when Ray is missing or cannot start."""
    check_parameters(depth, runs, time_limit, weights)
    plan = worker_plan(runs, seed, workers, weights, swarm=swarm)
    spec = ModelSpec.of(model, props)
    t0 = time.perf_counter()
    with ray_session(workers, address) as ray:
        task = ray.remote(num_cpus=1)(_run_part)
        results = ray.get([task.remote(spec, depth, time_limit, part) for part in plan])
    res = merge_results(model, props, results, plan, depth)
    res.stats.seconds = time.perf_counter() - t0
    return res


class SwarmEngine:
    """Random walks over Ray workers (``swarm``, ``simulate --workers N``) behind the
    :class:`~daxcheck.checker.engine.Engine` interface: reads ``workers``, ``address``,
    ``depth`` (None: 200), ``runs``, ``seed``, ``budget.time_limit``, ``weights`` and
    ``swarm``.  A user's code is contained in each worker (``in_process = False``: the
    driver runs none of it under a deadline).  Raises InputError for bad parameters,
    :class:`~.session.DistributedError` when Ray is missing or cannot start."""

    name = "swarm"
    stats_type = SimStats
    in_process = False

    def check(self, options: EngineOptions) -> CheckResult:
        try:
            return simulate_distributed(
                options.model,
                list(options.properties),
                options.workers,
                **walk_options(options),
                address=options.address,
            )
        except SimulationError as e:
            raise InputError(str(e)) from None
