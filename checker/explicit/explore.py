"""Breadth-first bounded exploration (the explicit-state engine).

Level-by-level BFS from the model's initial states with de-duplication in a
:class:`~daxcheck.checker.store.StateStore`, so the first violation of each property is a
shortest counterexample (TLC, stateright).  Every new state is checked against every
property not yet violated; the search stops early once all are violated.  Budgets
(``max_states``, ``time_limit``) end the run with INCOMPLETE verdicts for the properties
not yet violated, never with a false "holds".
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from operator import itemgetter

from ..engine import INTERRUPTED, Budget, EngineOptions  # noqa: F401 (re-exported)
from ..results import HOLDS, INCOMPLETE, VIOLATED, CheckResult, Stats, Verdict
from .checkpoint import CheckpointError
from .levels import explore_batched
from .por import AmpleSets
from .readset import read_set
from .store import StateStore
from .transitions import MemoSuccessors, action_footprint


class _Conjunct:
    """One conjunct of a property (the whole property if it was not declared per item),
    evaluated once per distinct projection of the state onto its read set
    (:func:`~daxcheck.checker.readset.read_set`); unmemoised if it cannot be analysed."""

    __slots__ = ("fn", "L", "key", "cache", "reads")
    LIMIT = 2_000_000

    def __init__(self, fn, L):
        self.fn, self.L = fn, L
        rs = read_set(fn, L)
        self.reads = None if rs is None else frozenset(rs)
        # A conjunct that cannot be analysed is memoised on the whole state (exact).
        self.key = (
            (lambda s: s)
            if rs is None
            else (
                itemgetter(*rs)
                if len(rs) > 1
                else ((lambda s, o=rs[0]: s[o]) if rs else (lambda s: ()))
            )
        )
        self.cache = {}

    def fill(self, s) -> bool:
        """Evaluate on ``s`` and remember the answer for its projection."""
        if len(self.cache) >= self.LIMIT:
            self.cache.clear()
        r = self.cache[self.key(s)] = bool(self.fn(self.L, s))
        return r

    def holds(self, s) -> bool:
        r = self.cache.get(self.key(s))
        return self.fill(s) if r is None else r


def explore(
    model,
    props,
    depth: int | None = None,
    budget: Budget = Budget(),
    progress: Callable[[Stats], None] | None = None,
    progress_every: float = 0.25,
    *,
    memo: bool = True,
    batched: bool = True,
    exact: bool = False,
    symmetry=False,
    checkpoint=None,
    por: bool = False,
) -> CheckResult:
    """Explore ``model`` breadth-first to ``depth`` (default: the model's bound) checking
    the :class:`~daxcheck.properties.Property` list ``props``.

    By default the batched explorer (:mod:`.levels`: whole frontier chunks through the
    array backend, 64-bit fingerprints; ``exact=True`` compares full states instead;
    ``symmetry=True`` reduces by the design's symmetric index sets, checked as it goes) runs.
    ``batched=False`` runs the reference per-state explorer below (memoised on read sets);
    ``memo=False`` additionally computes successors with the plain
    :meth:`DaxModel.successors` (reference semantics).  Both give the same states, verdicts,
    depths and traces.  ``por=True``: partial-order reduction by ample sets on a race
    design (:mod:`.por`; same verdicts when the search is complete, possibly deeper
    counterexamples; the statistics say how many states were reduced).
    ``progress(stats)`` is called about every ``progress_every``
    seconds.  ``checkpoint``: a :class:`.checkpoint.CheckpointOptions` (batched explorer
    only; see :mod:`.checkpoint`).  Returns a :class:`CheckResult` with one :class:`Verdict` per property
    (counterexample traces as ``[(action index, state)]``) and :class:`Stats`.
    """
    if batched and memo:
        return explore_batched(
            model,
            props,
            depth,
            budget,
            progress,
            progress_every,
            exact=exact,
            symmetry=symmetry,
            checkpoint=checkpoint,
            por=por,
        )
    if checkpoint is not None:
        raise CheckpointError("checkpoints are saved by the batched explorer only")
    return explore_states(model, props, depth, budget, progress, progress_every, memo=memo, por=por)


def explore_states(
    model,
    props,
    depth: int | None = None,
    budget: Budget = Budget(),
    progress: Callable[[Stats], None] | None = None,
    progress_every: float = 0.25,
    *,
    memo: bool = True,
    por: bool = False,
) -> CheckResult:
    """The reference explorer: one state at a time, successors memoised per action on its
    read set (:class:`~.transitions.MemoSuccessors`), or plain with ``memo=False``; states
    kept whole in a :class:`~.store.StateStore` (no probabilistic step).  Same arguments and
    result as :func:`explore`."""
    return ReferenceRun(
        model, props, depth, budget, progress, progress_every, memo=memo, por=por
    ).run()


def reference_successors(model, props, footprints, *, memo: bool, por: bool):
    """``(successors, ample)``: the reference explorer's successor function ``s ->
    [(action index, state)]`` (memoised on read sets unless ``memo`` is False) and, with
    ``por``, the :class:`~.por.AmpleSets` filtering it (None without)."""
    successors = (
        MemoSuccessors(model, footprints=footprints).successors if memo else model.successors
    )
    ample = None
    if por:
        ample = AmpleSets(model, props, footprints)
        if ample.active:
            plain = successors

            def successors(s):
                succ = list(plain(s))
                i = ample.choose(s, {j for j, _ in succ})
                return succ if i < 0 else [(j, ns) for j, ns in succ if j == i]

    return successors, ample


def budget_stop(budget: Budget, n: int, seconds: float) -> str | None:
    """Why ``budget`` ends a search that has ``n`` states after ``seconds`` (the
    ``Stats.stopped`` text), or None."""
    if budget.max_states is not None and n >= budget.max_states:
        return f"max-states {budget.max_states} reached"
    if budget.time_limit is not None and seconds >= budget.time_limit:
        return f"time limit {budget.time_limit:g}s reached"
    return budget.stopped()


class ReferenceRun:
    """One run of the reference explorer (:func:`explore_states`, same arguments): the
    state store, the memoised property conjuncts, and per action the conjuncts it can
    change (``affected``): every state already discovered satisfies every property still
    pending, so a successor whose action writes nothing a conjunct reads inherits its
    parent's "holds" and the conjunct is not re-evaluated."""

    def __init__(self, model, props, depth, budget, progress, progress_every, memo, por):
        self.model, self.props, self.L = model, props, model.L
        self.budget, self.progress, self.progress_every = budget, progress, progress_every
        footprints = [action_footprint(model, a) for a in model.actions]
        self.successors, self.ample = reference_successors(
            model, props, footprints, memo=memo, por=por
        )
        self.depth = model.bounds.depth if depth is None else depth
        self.store = StateStore()
        self.stats = Stats()
        self.fired = [0] * len(model.actions)
        self.verdicts: dict[str, Verdict] = {}
        self.conj = {
            p.name: [_Conjunct(fn, self.L) for _, fn in p.conjuncts(self.L)] for p in props
        }
        self.pending = list(props)
        self.affected = []
        for fp in footprints:
            w = None if fp is None else frozenset(fp[1])
            self.affected.append(
                {
                    p.name: [
                        c for c in self.conj[p.name] if w is None or c.reads is None or c.reads & w
                    ]
                    for p in props
                }
            )
        self.flat = self.flatten()

    def flatten(self):
        """Per action, the pending properties' affected conjuncts in one list, as
        ``(key, cache, conjunct)`` for the inlined check in :meth:`level`."""
        return [
            [(c.key, c.cache, c) for p in self.pending for c in aff[p.name]]
            for aff in self.affected
        ]

    def check(self, sid, s, level):
        """Check state ``sid`` (``s``, at ``level``) against every pending property."""
        bad = [p for p in self.pending if not all(c.holds(s) for c in self.conj[p.name])]
        if bad:
            for p in bad:
                items = p.failing_items(self.L, s)
                self.verdicts[p.name] = Verdict(
                    p.name,
                    VIOLATED,
                    level,
                    trace=self.store.path(sid),
                    items=[i for i in items if i is not None],
                )
            self.pending = [p for p in self.pending if p.name not in self.verdicts]
            self.flat = self.flatten()

    def run(self) -> CheckResult:
        """Level by level from the initial states to the depth bound, the empty frontier,
        every property violated or a budget; the :class:`CheckResult`."""
        self.t0 = time.perf_counter()
        self.next_tick = self.t0 + self.progress_every
        frontier = []
        for s in self.model.init_states():
            sid = self.store.add(s, -1, -1)
            if sid >= 0:
                frontier.append(sid)
                self.check(sid, s, 0)
        level = 0
        complete = False
        while self.pending:
            if not frontier:
                complete = True
                break
            if level >= self.depth:
                break
            frontier = self.level(frontier, level)
            if self.stats.stopped:
                break
            level += 1
        return self.result(level, complete)

    def level(self, frontier, level) -> list:
        """Expand the states ``frontier`` (ids) of ``level``; the new states' ids.  Stops
        early (``stats.stopped``) when a budget runs out."""
        states, add = self.store.states, self.store.add
        successors, fired, stats = self.successors, self.fired, self.stats
        progress = self.progress
        nxt = []
        for sid in frontier:
            s = states[sid]
            for i, ns in successors(s):
                fired[i] += 1
                if ns is s:
                    continue
                nid = add(ns, sid, i)
                if nid < 0:
                    continue
                nxt.append(nid)
                for key, cache, c in self.flat[i]:
                    r = cache.get(key(ns))
                    if r is None:
                        r = c.fill(ns)
                    if not r:
                        self.check(nid, ns, level + 1)
                        break
            if not self.pending:
                break
            n = len(states)
            if n & 255 == 0 or progress is not None:
                now = time.perf_counter()
                stats.stopped = budget_stop(self.budget, n, now - self.t0)
                if progress is not None and now >= self.next_tick:
                    stats.states, stats.depth, stats.seconds = n, level, now - self.t0
                    progress(stats)
                    self.next_tick = now + self.progress_every
                if stats.stopped:
                    break
        return nxt

    def result(self, level, complete) -> CheckResult:
        """The :class:`CheckResult` of a run that ended at ``level``."""
        model, stats, verdicts = self.model, self.stats, self.verdicts
        stats.states = len(self.store.states)
        stats.depth = level
        stats.seconds = time.perf_counter() - self.t0
        by_family = Counter()
        stats.transitions = sum(self.fired)
        for i, c in enumerate(self.fired):
            by_family[model.actions[i].name] += c
        stats.fired = dict(by_family)
        stats.por = None if self.ample is None else self.ample.describe()
        for p in self.pending:
            if stats.stopped:  # every state at <= level was checked
                verdicts[p.name] = Verdict(p.name, INCOMPLETE, level)
            else:
                verdicts[p.name] = Verdict(p.name, HOLDS, level, complete=complete)
        families = list(dict.fromkeys(a.name for a in model.actions))
        never = [f for f in families if by_family.get(f, 0) == 0]
        ordered = {p.name: verdicts[p.name] for p in self.props}
        return CheckResult(model.design.name, model.bounds.as_dict(), ordered, stats, never)


class BfsEngine:
    """The default explicit engine (``bfs``): the batched breadth-first explorer
    (:func:`~.levels.explore_batched`) behind the :class:`~daxcheck.checker.engine.Engine`
    interface.  Reads ``depth``, ``budget``, ``progress``/``progress_every``, ``exact``,
    ``symmetry``, ``por`` and ``checkpoint`` of the options; raises CheckpointError for an
    unusable checkpoint."""

    name = "bfs"
    stats_type = Stats

    def check(self, options: EngineOptions) -> CheckResult:
        o = options
        return explore(
            o.model,
            list(o.properties),
            o.depth,
            o.budget,
            o.progress,
            o.progress_every,
            exact=o.exact,
            symmetry=o.symmetry,
            checkpoint=o.checkpoint,
            por=o.por,
        )


class ReferenceEngine:
    """The reference explicit engine (``reference``): one state at a time
    (:func:`explore_states`; ``memo=False`` in the options: plain
    :meth:`~daxcheck.spec.model.DaxModel.successors`), the oracle the batched explorer is
    tested against.  No checkpoints (CheckpointError), no symmetry or exact mode (states
    are always compared whole)."""

    name = "reference"
    stats_type = Stats

    def check(self, options: EngineOptions) -> CheckResult:
        o = options
        if o.checkpoint is not None:
            raise CheckpointError("checkpoints are saved by the batched explorer only")
        return explore_states(
            o.model,
            list(o.properties),
            o.depth,
            o.budget,
            o.progress,
            o.progress_every,
            memo=o.memo,
            por=o.por,
        )
