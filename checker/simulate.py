"""Random simulation: deep random walks for bugs beyond the breadth-first bound.

TLC ``-simulate``, Quint ``run``, stateright and FizzBee all have a random mode for depths
exhaustive search cannot reach.  :func:`simulate` runs seeded random walks from the initial
state: at each step one enabled action is chosen (uniformly, or by per-family weights), and
every property not yet violated is checked on every state reached.  A violation is shrunk by
delta debugging over the action sequence (ddmin, Zeller & Hildebrandt 2002; an action the
shortened sequence has disabled is dropped, as Hypothesis's shrinker would) to a 1-minimal
trace: removing any single action no longer reproduces it.  The shrunk trace is re-executed
with the reference semantics (``model.next_state``) before it is reported, and is saved and
replayed like any counterexample.

*Swarm* mode (Groce et al., ISSTA'12) draws fresh family weights for every walk, some of
them zero, so that different walks leave out different kinds of operations: a bug that
needs a long run of writes without an intervening crash or punch is found much sooner.

Random search never proves anything: a property no walk violates is reported as "not found",
never as "holds".  This module imports no ``rich``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from daxcheck.spec.ops import ACTIONS

from .engine import EngineOptions
from .explicit.transitions import MemoSuccessors
from .explicit.walks import BATCH, LockstepWalks
from .results import NOT_FOUND, VIOLATED, CheckResult, InputError, Stats, Verdict
from .trace import Trace

BATCHED_FROM = 256
"""``simulate`` runs batched (:class:`BatchedSimulation`) from this many walks (``--runs``)
on, and with no walk limit."""


class SimulationError(ValueError):
    """Bad simulation parameters (walk depth, run count, weights); the message names it."""


@dataclass(frozen=True)
class Found:
    """Where a violation was first seen: walk number, step within the walk, and the length
    of the walk's action sequence before shrinking."""

    walk: int
    step: int
    raw_length: int


@dataclass
class SimStats(Stats):
    """:class:`~daxcheck.checker.results.Stats` of a simulation: ``states`` counts states
    visited by walks (with repetition), ``walks`` the walks run, ``deadlocks`` walks that
    ended in a state with no enabled action, ``found`` per violated property a
    :class:`Found`."""

    walks: int = 0
    deadlocks: int = 0
    found: dict = field(default_factory=dict)


def _check_weights(weights):
    for f, w in (weights or {}).items():
        if f not in ACTIONS:
            raise SimulationError(
                f"weight for {f!r}, which is not an action family (known: {', '.join(ACTIONS)})"
            )
        if not isinstance(w, (int, float)) or w < 0:
            raise SimulationError(f"weight {f}={w!r} is not a non-negative number")


def check_parameters(depth, runs, time_limit, weights) -> None:
    """Raise SimulationError naming the first bad parameter of :func:`simulate`."""
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 100_000:
        raise SimulationError(f"walk depth {depth!r} is not an int in 1..100000")
    if runs is not None and (not isinstance(runs, int) or isinstance(runs, bool) or runs < 1):
        raise SimulationError(f"runs={runs!r} is not a positive int")
    if runs is None and time_limit is None:
        raise SimulationError("an unbounded simulation needs --runs or --time-limit")
    _check_weights(weights)


def replay_until_violation(model, actions, prop) -> list | None:
    """Apply ``actions`` from the initial state, skipping any that is disabled where it
    comes, and stop at the first state violating ``prop``.  Returns the actions applied up
    to that state (a trace whose last state violates ``prop``), or None if no state does."""
    L = model.L
    s = model.init_states()[0]
    if not prop.holds(L, s):
        return []
    out = []
    for a in actions:
        ns = model.next_state(s, a)
        if ns is None:
            continue
        out.append(a)
        s = ns
        if not prop.holds(L, s):
            return out
    return None


def shrink(model, actions, prop, budget: float | None = None) -> list:
    """Delta debugging (ddmin) of ``actions``, a sequence reaching a violation of ``prop``:
    the result still reaches it (:func:`replay_until_violation`) and is 1-minimal (dropping
    any single action loses the violation), unless ``budget`` seconds run out first.  Raises
    ValueError if ``actions`` does not reach a violation."""
    cur = replay_until_violation(model, actions, prop)
    if cur is None:
        raise ValueError(f"the sequence does not violate {prop.name}")
    end = None if budget is None else time.monotonic() + budget
    n = 2
    while len(cur) >= 2:
        if end is not None and time.monotonic() > end:
            break
        size = len(cur) / n
        chunks = [cur[round(i * size) : round((i + 1) * size)] for i in range(n)]
        for i in range(n):
            cand = [a for j, c in enumerate(chunks) if j != i for a in c]
            got = replay_until_violation(model, cand, prop)
            if got is not None:
                cur = got
                n = max(n - 1, 2)
                break
        else:
            if n >= len(cur):
                break
            n = min(2 * n, len(cur))
    return cur


def simulate(
    model,
    props,
    depth: int = 200,
    runs: int | None = 1000,
    seed: int = 0,
    time_limit: float | None = None,
    weights: dict | None = None,
    *,
    swarm: bool = False,
    progress: Callable[[Stats], None] | None = None,
    progress_every: float = 0.5,
    batched: bool | None = None,
) -> CheckResult:
    """Random walks of at most ``depth`` steps on ``model`` checking the Property list
    ``props``; stops after ``runs`` walks (None: no limit), ``time_limit`` seconds, or once
    every property is violated.  ``seed`` makes the run reproducible; ``weights`` maps an
    action family to a non-negative weight (default 1; 0 leaves it out; a family this design
    does not have is ignored); ``swarm`` draws
    fresh random weights per walk instead.  Returns a :class:`CheckResult` whose violated
    verdicts carry a shrunk trace ``[(action index, state)]`` (checked against the reference
    semantics) and whose other verdicts have status :data:`NOT_FOUND`; ``stats`` is a
    :class:`SimStats`.  ``batched`` True: the walks run thousands at a time in lockstep
    on the batched explorer's packed states (:class:`BatchedSimulation`); False: one walk
    at a time with the reference semantics (:class:`Simulation`, the oracle the tests
    compare against); None (default): batched unless fewer than :data:`BATCHED_FROM`
    walks are asked for (a step of the lockstep walks has a fixed cost of a few NumPy
    calls per read set that a handful of walks does not repay).  The two draw their
    random choices differently, so the same seed gives each its own (reproducible)
    walks.  Raises SimulationError for bad parameters."""
    check_parameters(depth, runs, time_limit, weights)
    if batched is None:
        batched = runs is None or runs >= BATCHED_FROM
    cls = BatchedSimulation if batched else Simulation
    return cls(model, props, depth, seed, weights, swarm).run(
        runs, time_limit, progress, progress_every
    )


def walk_weights(rng, families, weights, *, swarm: bool) -> dict:
    """Per action family, the weight of one walk: fresh random ones in ``swarm`` mode
    (30% of the families left out), else 1 overridden by ``weights``."""
    if swarm:
        return {f: (rng.random() if rng.random() < 0.7 else 0.0) for f in families}
    w = {f: 1.0 for f in families}
    w.update(weights or {})
    return w


class Simulation:
    """One :func:`simulate` run (same arguments): the seeded generator, the memoised
    successors and property answers, and per violated property where it was first seen
    and the walk's actions (``hits``)."""

    def __init__(self, model, props, depth, seed, weights, swarm):
        self.model, self.props, self.depth = model, props, depth
        self.weights, self.swarm, self.seed = weights, swarm, seed
        self.rng = random.Random(seed)
        self.L = model.L
        self.succ = MemoSuccessors(model).successors
        self.families = sorted({a.name for a in model.actions})
        self.fam_of = [a.name for a in model.actions]
        self.stats = SimStats()
        self.hits: dict = {}
        self.cache: dict = {}

    def violated(self, s) -> tuple:
        """The names of the properties ``s`` violates (memoised)."""
        r = self.cache.get(s)
        if r is None:
            if len(self.cache) > 500_000:
                self.cache.clear()
            r = self.cache[s] = tuple(p.name for p in self.props if not p.holds(self.L, s))
        return r

    def run(self, runs, time_limit, progress, progress_every) -> CheckResult:
        """Walk until ``runs`` walks, ``time_limit`` seconds or every property violated."""
        stats = self.stats
        self.t0 = t0 = time.perf_counter()
        next_tick = t0 + progress_every
        s0 = self.model.init_states()[0]
        for p in self.props:
            if p.name in self.violated(s0):
                self.hits[p.name] = (Found(0, 0, 0), [])
        pending = [p for p in self.props if p.name not in self.hits]
        walk = 0
        while pending and (runs is None or walk < runs):
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                stats.stopped = f"time limit {time_limit:g}s reached"
                break
            walk += 1
            pending = self.walk(walk, s0, pending)
            stats.walks = walk
            now = time.perf_counter()
            if progress is not None and now >= next_tick:
                stats.seconds, stats.depth = now - t0, self.depth
                progress(stats)
                next_tick = now + progress_every
        stats.walks = walk
        return self.result()

    def walk(self, walk, s0, pending) -> list:
        """Walk number ``walk`` from ``s0``; the properties still pending after it."""
        rng, model, stats, fam_of = self.rng, self.model, self.stats, self.fam_of
        w = walk_weights(rng, self.families, self.weights, swarm=self.swarm)
        weighted = self.swarm or self.weights
        s, acts = s0, []
        for step in range(1, self.depth + 1):
            options = [(i, ns) for i, ns in self.succ(s) if w.get(fam_of[i], 1.0) > 0]
            if not options:
                stats.deadlocks += 1
                break
            if weighted:
                i, ns = rng.choices(options, [w[fam_of[i]] for i, _ in options])[0]
            else:
                i, ns = options[rng.randrange(len(options))]
            acts.append(model.actions[i])
            s = ns
            stats.states += 1
            bad = self.violated(s)
            if bad:
                for p in pending:
                    if p.name in bad and p.name not in self.hits:
                        self.hits[p.name] = (Found(walk, step, len(acts)), list(acts))
                pending = [p for p in pending if p.name not in self.hits]
                if not pending:
                    break
        return pending

    def result(self) -> CheckResult:
        """Verdicts: each hit shrunk (:func:`shrink`) and re-executed with the reference
        semantics, NOT_FOUND for the others."""
        model, L, stats, verdicts = self.model, self.L, self.stats, {}
        for p in self.props:
            if p.name in self.hits:
                found, raw = self.hits[p.name]
                small = shrink(model, raw, p, budget=30.0)
                tr = Trace.from_actions(model, small, p.name)  # the reference semantics
                if p.holds(L, tr.states[-1]):  # pragma: no cover - shrink guarantees it
                    raise AssertionError(f"shrunk trace of {p.name} does not violate it")
                verdicts[p.name] = Verdict(
                    p.name,
                    VIOLATED,
                    tr.depth,
                    trace=tr.path(model),
                    items=[i for i in p.failing_items(L, tr.states[-1]) if i is not None],
                )
                stats.found[p.name] = found
            else:
                verdicts[p.name] = Verdict(p.name, NOT_FOUND, self.depth)
        stats.seconds = time.perf_counter() - self.t0
        stats.depth = self.depth
        stats.transitions = stats.states
        return CheckResult(model.design.name, model.bounds.as_dict(), verdicts, stats, [])


def action_weights(rng, n, fam_of, families, weights, *, swarm: bool) -> np.ndarray:
    """``(n, len(fam_of))`` float weights of ``n`` walks starting now, one column per
    action (``fam_of``: each action's family): in ``swarm`` mode fresh random family
    weights per walk (each family left out with probability 0.3), drawn from the NumPy
    Generator ``rng``; else 1 per family overridden by ``weights`` (the same for every
    walk).  The batched counterpart of :func:`walk_weights`."""
    col = np.array([families.index(f) for f in fam_of], dtype=np.intp)
    if swarm:
        w = rng.random((n, len(families)))
        w[rng.random((n, len(families))) >= 0.7] = 0.0
    else:
        w = np.ones((n, len(families)))
        for j, f in enumerate(families):
            w[:, j] = (weights or {}).get(f, 1.0)
    return w[:, col]


class BatchedSimulation(Simulation):
    """One batched :func:`simulate` run: the walks advanced in lockstep
    (:class:`~daxcheck.checker.explicit.walks.LockstepWalks`, ``batch`` at a time, each with
    its own random choices and, in swarm mode, its own family weights); violations are
    shrunk and re-executed with the reference semantics as in :class:`Simulation`."""

    batch = BATCH

    def run(self, runs, time_limit, progress, progress_every) -> CheckResult:
        """Walk until ``runs`` walks, ``time_limit`` seconds or every property violated."""
        stats = self.stats
        self.t0 = t0 = time.perf_counter()
        next_tick = t0 + progress_every

        def weights_of(rng, n):
            fams = self.families
            return action_weights(rng, n, self.fam_of, fams, self.weights, swarm=self.swarm)

        walks = LockstepWalks(
            self.model, self.props, self.depth, self.seed, weights_of, runs, self.batch
        )
        for name in walks.initial_violations():
            self.hits[name] = (Found(0, 0, 0), [])
        pending = {p.name for p in self.props} - set(self.hits)
        while pending and walks.live:
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                stats.stopped = f"time limit {time_limit:g}s reached"
                break
            for name, (walk, step, acts) in walks.step().items():
                raw = [self.model.actions[i] for i in acts]
                self.hits[name] = (Found(walk, step, len(raw)), raw)
                pending.discard(name)
            now = time.perf_counter()
            if progress is not None and now >= next_tick:
                stats.states, stats.walks = walks.states, walks.started
                stats.seconds, stats.depth = now - t0, self.depth
                progress(stats)
                next_tick = now + progress_every
        stats.states, stats.deadlocks = walks.states, walks.deadlocks
        stats.walks = walks.started
        return self.result()


def walk_options(options) -> dict:
    """The walk arguments of :func:`simulate` (and of the Ray engine's
    ``simulate_distributed``) from an :class:`~daxcheck.checker.engine.EngineOptions`:
    ``depth`` (steps per walk; 200 when the run gives none), ``runs``, ``seed``,
    ``time_limit`` (seconds), ``weights`` and ``swarm``."""
    return {
        "depth": 200 if options.depth is None else options.depth,
        "runs": options.runs,
        "seed": options.seed,
        "time_limit": options.time_limit,
        "weights": options.weights,
        "swarm": options.swarm,
    }


class SimulateEngine:
    """Random walks (``simulate``) behind the :class:`~daxcheck.checker.engine.Engine`
    interface: reads ``depth`` (walk length in actions; None: 200), ``runs``, ``seed``,
    ``budget.time_limit``, ``weights``, ``swarm`` and ``progress``.  Verdicts are VIOLATED
    (a shrunk trace) or NOT_FOUND, never HOLDS; stats are :class:`SimStats`.  Raises
    InputError for bad parameters."""

    name = "simulate"
    stats_type = SimStats

    def check(self, options: EngineOptions) -> CheckResult:
        try:
            return simulate(
                options.model,
                list(options.properties),
                **walk_options(options),
                progress=options.progress,
            )
        except SimulationError as e:
            raise InputError(str(e)) from None
