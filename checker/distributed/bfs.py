"""Hash-partitioned, level-synchronous breadth-first search on Ray (PReach's scheme), with
a two-phase exchange: fingerprints first, states only where they are expanded.

``N`` Ray actors (:class:`PartitionWorker`) split two things differently:

* **Duplicate detection by hash.**  Worker ``r`` owns the fingerprints ``fp`` with
  ``fp % N == r``: the visited set of those states is its alone, and only it decides
  whether such a state is new.
* **Expansion by range.**  Each level's states are numbered by their BFS position (the
  order in which the one-process explorer meets them); worker ``r`` expands a contiguous
  range of positions, about ``1/N`` of the level.  The children a worker builds then form
  a contiguous range of the next level too (their keys ``parent position * nA + action``
  lie in its parents' range), so positions are prefix sums of the workers' counts and a
  state's words stay where they were built; only the imbalance moves between neighbours.

The driver (:class:`DistributedExplorer`) explores the first levels itself, as one
process, until a frontier holds a chunk's worth of states (:data:`HANDOFF`); the workers
take the search over from that frontier (each its range, every fingerprint so far marked,
the key-table entries evaluated so far).  From there one BFS level is four rounds driven
by the driver:

1. ``expand``: every worker runs its frontier, chunk by chunk, through the batched
   explorer's own successor machinery (:class:`~daxcheck.checker.explicit.levels.BatchedExplorer`:
   key tables per read set, the array backend, fingerprint deltas) and de-duplicates the
   candidates within the chunk and against its own visited set, where every fingerprint it
   met this level or before is marked (its own and those owned by others: a later
   candidate has a larger key).  No state is built yet: per chunk it keeps the new
   candidates' keys, fingerprints and key-table entries, and it sends each owner only the
   fingerprints it owns (``(k,)`` uint64, 8 bytes per candidate).
2. ``resolve``: every owner decides, per sender, which of the fingerprints it received
   are new: not visited before this level and not met by a lower-ranked worker (its own
   candidates included).  It answers each sender with one bool per fingerprint, and marks
   its own candidates that a lower-ranked sender met first as lost.
3. ``build``: every worker builds the words of its winning candidates (exactly one build
   per new state, as in one process), checks the pending properties on them, and keeps
   them, in key order, as its part of the next level.
4. ``finish``: transition counts per action (up to the parent where the one-process engine
   would stop), the number of new states that count, the level's links; when the search
   goes on, the slices of the next frontier that belong to another worker's range are
   cut off, and the key-table entries the worker evaluated in the level are handed out
   (``adopt`` takes both in: a projection one worker evaluated is not evaluated again by
   another in a later level).

So positions, the first violating state of each property, the stop of a run whose
properties are all violated, ``--max-states`` and every counterexample trace are those of
the one-process engine.  A level ends when every worker has answered the round (Ray's
``get`` on all of them): the "drained" condition of the scheme.  Counterexamples are
rebuilt as the one-process explorer does, by re-executing the actions of the path (its
``_trace``) from the initial state; the path comes from the per-level links (the key of
each state: 8 bytes) each worker keeps for the range it built.

Not supported with N >= 2 (the CLI refuses them): ``--exact`` and ``--symmetry``.  A
``time_limit`` is checked by the workers between chunks, and every round runs under the
worker's :func:`daxcheck.usercode.deadline` (a user's hook or predicate still running at
the limit is interrupted, naming its ``file:line``); the driver waits :data:`KILL_AFTER`
seconds more, then kills the workers that have not answered (a user's code that swallows
the stop) and replaces them after the run.  The result is then incomplete, with the
levels completed.
"""

from __future__ import annotations

import time

import numpy as np

from ..engine import Budget, EngineOptions
from ..explicit.frontier import join_pieces
from ..explicit.levels import BatchedExplorer, ExploreError
from ..results import CheckResult, InputError, Stats
from .spec import ModelSpec
from .workers import (  # noqa: F401 (re-exported)
    KILL_AFTER,
    PartitionWorker,
    WorkerPool,
    WorkerTimeLimit,
    owner,
    shared_pool,
    split,
    worker_pool,
)

U64 = np.uint64


HANDOFF = None
"""States in the first frontier the workers take over from the driver
(:class:`DistributedExplorer`; None: one chunk of the batched explorer, 0: the workers
explore from level 0)."""


class _Deadline(Exception):
    """The time limit stopped the workers (the message: the reason the result gives)."""


class DistributedExplorer(BatchedExplorer):
    """The driver of a distributed BFS of ``model`` over the workers of ``pool``: same
    arguments and :class:`CheckResult` as :class:`BatchedExplorer` (``exact`` and
    ``symmetry`` are not supported).  The driver explores the first levels itself, as the
    one-process explorer does, up to the first level whose frontier holds at least
    ``handoff`` states (default :data:`HANDOFF`: one chunk of the batched explorer; 0: the
    workers from level 0): split over the workers, a smaller level costs each of them a
    chunk's fixed costs and four rounds of messages for a fraction of a chunk's work (on
    cow-single-iomap --depth 7 the first four levels, 22,000 states, took 0.5-0.7 s over
    two workers; the driver explores them in 0.3 s, building its explorer included).  The
    workers build their model meanwhile (:meth:`PartitionWorker.prepare`), then take the
    search over (:meth:`PartitionWorker.start`: their range of that frontier, every
    fingerprint so far, the key-table entries evaluated so far) and the driver keeps no
    state set; every deeper level is theirs (module docstring).  Counterexamples are
    rebuilt here from the links of the driver's levels and those the workers keep.
    ``budget.time_limit`` is checked between chunks in the driver's levels, between levels
    after, and bounds every wait for the workers (past it they are killed and replaced:
    the result is incomplete).  ``stats_out`` (a dict, optional) receives ``handoff`` (the
    level the workers took over, None: the driver did the whole search),
    ``driver_seconds`` and ``setup_seconds`` (until the handoff, and of it) and per worker
    level measurements: seconds per round and worker, candidates, fingerprints sent
    between workers, bytes moved, and the key-table entries the workers took from each
    other at the level's end (``shared_entries``)."""

    def __init__(
        self,
        model,
        props,
        pool,
        spec,
        depth=None,
        budget=None,
        progress=None,
        progress_every=0.25,
        stats_out=None,
        handoff=None,
    ):
        super().__init__(model, props, depth, budget or Budget(), progress, progress_every)
        self.pool, self.spec = pool, spec
        self.stats_out = stats_out if stats_out is not None else {}
        handoff = HANDOFF if handoff is None else handoff
        self.handoff = self.chunk if handoff is None else handoff
        self.deadline = None
        self.calls = []  # ObjectRefs of the calls of the current level

    def _get(self, refs):
        """``ray.get(refs)``; raises :class:`_Deadline` when a worker's deadline stopped a
        user's code, or :data:`KILL_AFTER` seconds past the time limit."""
        try:
            if self.deadline is None:
                return self.pool.ray.get(refs)
            left = max(0.0, self.deadline + KILL_AFTER - time.perf_counter())
            return self.pool.ray.get(refs, timeout=left)
        except self.pool.ray.exceptions.GetTimeoutError:
            raise _Deadline(
                f"time limit {self.budget.time_limit:g}s reached (the Ray "
                f"workers did not stop: killed)"
            ) from None
        except WorkerTimeLimit as e:
            raise _Deadline(e.reason) from None

    def _path(self, depth, idx):
        h = None if self.handed is None else self.handed[0]
        if h is None or depth <= h:  # a level the driver explored
            return super()._path(depth, idx)
        actors = self.pool.actors
        steps, i = [], idx
        for lvl in range(depth, h, -1):
            found = [k for k in self._get([a.link.remote(lvl, i) for a in actors]) if k is not None]
            if len(found) != 1:
                raise ExploreError(f"level {lvl}: position {i} owned by {len(found)} workers")
            i, a = divmod(found[0], self.nA)
            steps.append(a)
        steps.reverse()
        i, before = super()._path(h, i)
        return i, before + steps

    def run(self) -> CheckResult:
        """Explore breadth-first: the first levels here, then over the workers (see the
        class and module docstrings)."""
        budget = self.budget
        self.stats_out["handoff"] = None
        if budget.time_limit is not None:
            self.deadline = time.perf_counter() + budget.time_limit
        self.pool.revive()
        self._track(
            [
                a.prepare.remote(self.spec, self.depth, budget.time_limit, budget.time_limit)
                for a in self.pool.actors
            ]
        )
        level, complete, stopped = self._levels()
        t0 = self.t0
        try:
            if self.handed is None:  # the driver did it all: the workers idle again
                if not self._settle():
                    self.pool.kill()
                return self._result(level, complete, stopped, t0)
            return self._run(t0)
        except _Deadline as e:
            if not self._settle():
                # Stuck (a user's code that swallows the stop) or still running: replaced
                # (WorkerPool.revive), the next run starts on idle workers.
                self.pool.kill()
                self._settle(0.5)
            return self._result(self.stats.depth, complete=False, stopped=str(e), t0=t0)

    def _track(self, refs):
        """``refs`` (ObjectRefs, or lists of them from calls with several returns), noted
        as the calls of this level; returned as given."""
        for r in refs:
            self.calls.extend(r if isinstance(r, list) else [r])
        return refs

    def _settle(self, wait=None) -> bool:
        """Wait for the calls of this level until :data:`KILL_AFTER` seconds past the time
        limit (or ``wait`` seconds; no time limit: until they end) and fetch every result
        that came (Ray logs the errors of results never fetched); whether they all came (a
        worker runs its calls in order: then every worker is idle)."""
        ray, refs = self.pool.ray, self.calls
        if wait is None and self.deadline is not None:
            wait = max(0.0, self.deadline + KILL_AFTER - time.perf_counter())
        done, rest = ray.wait(refs, num_returns=len(refs), timeout=wait) if refs else ([], [])
        for r in done:
            try:
                ray.get(r)
            except Exception:  # the stop itself, or a round whose input was stopped
                pass
        self.calls = rest
        return not rest

    def _run(self, t0) -> CheckResult:
        level, frontier_n = self._hand_over(t0)
        complete, stopped = False, None
        self.stats.depth = level
        per_level = self.stats_out.setdefault("levels", [])
        while self.pending:
            if frontier_n == 0:
                complete = True
                break
            if level >= self.depth:
                break
            kept, stopped = self._round(level, t0, per_level)
            self.stats.depth = level + 1
            if self.progress is not None:
                self.stats.states = self.n_states
                self.stats.seconds = time.perf_counter() - t0
                self.progress(self.stats)
            if stopped:
                break
            frontier_n = kept
            level += 1
        self.stats_out["memory"] = self._get([a.memory.remote() for a in self.pool.actors])
        return self._result(level, complete, stopped, t0)

    def _hand_over(self, t0):
        """Give the driver's frontier, visited fingerprints and key-table entries to the
        workers (``start``); ``(level, frontier size)`` they continue from."""
        ray, actors, N = self.pool.ray, self.pool.actors, self.pool.n
        level, frontier, frontier_n = self.handed
        self.stats_out["handoff"] = level
        self.stats_out["driver_seconds"] = time.perf_counter() - t0
        self._get(self.calls)  # prepare: done by now, its errors raised here
        self.calls = []
        words, fps = (
            join_pieces(frontier)
            if frontier
            else (np.zeros((self.packing.nw, 0), U64), np.zeros((1, 0), U64))
        )
        visited, tables = ray.put(self.visited.array()), ray.put(self.table_delta({}))
        self.visited = None  # the workers' from now on, as the key tables
        self.groups.clear()
        self.cgroups.clear()
        b = split(frontier_n, N)
        self._get(
            self._track(
                [
                    a.start.remote(
                        level,
                        self.packing.bits,
                        words[:, b[w] : b[w + 1]],
                        fps[:, b[w] : b[w + 1]],
                        b[w],
                        visited,
                        tables,
                    )
                    for w, a in enumerate(actors)
                ]
            )
        )
        self.handed = (level, None, frontier_n)  # the frontier is the workers' now
        del words, fps, frontier, visited, tables
        self.calls = []
        self.stats_out["setup_seconds"] = (
            time.perf_counter() - t0 - self.stats_out["driver_seconds"]
        )
        return level, frontier_n

    def _round(self, level, t0, per_level):
        """One level on the workers (``expand``, ``resolve``, ``build``, ``finish``, and
        the key-table entries ``adopt``ed with the next level); ``(states kept, why the
        run stops or None)``.  Appends the level's figures to ``per_level``."""
        actors, N = self.pool.actors, self.pool.n
        lt = time.perf_counter()
        keep = level + 1 < self.depth
        outs, ans, built = self._expand_resolve_build(keep, per_level)
        infos = self._get([o[N] for o in outs])
        rinfos = self._get([r[N] for r in ans])
        offsets, cut, stopped, first, last = self._stop_point(built, t0)
        go_on = keep and last is None and not stopped
        done = self._finish(actors, last, cut, offsets, go_on)
        for d in done:
            self.fired += d[0]
        kept = sum(d[1] for d in done)
        self.n_states += kept
        if first:
            self.record(
                {n: g for n, (g, _, _) in first.items()},
                level + 1,
                {g: U64(fp) for g, _, fp in first.values()},
                0,
            )
        per_level.append(
            level_figures(level + 1, kept, time.perf_counter() - lt, infos, rinfos, built, done)
        )
        return kept, stopped

    def _expand_resolve_build(self, keep, per_level):
        """Rounds 1-3 of a level (``expand``, ``resolve``, ``build``; the previous level's
        ``adopt`` calls collected meanwhile, their shared entries counted into
        ``per_level[-1]``): ``(expand refs, resolve refs, build answers)``."""
        actors, N = self.pool.actors, self.pool.n
        adopted, self.calls = self.calls, []
        outs = self._track(
            [a.expand.options(num_returns=N + 1).remote(self.pending) for a in actors]
        )
        ans = self._track(
            [
                a.resolve.options(num_returns=N + 1).remote(*[outs[v][w] for v in range(N)])
                for w, a in enumerate(actors)
            ]
        )
        built = self._get(
            self._track(
                [
                    a.build.remote(self.pending, keep, *[ans[u][w] for u in range(N)])
                    for w, a in enumerate(actors)
                ]
            )
        )
        self.calls += adopted
        merged = self._get(adopted)
        if merged and per_level:  # the previous level's entries, merged at its end
            per_level[-1]["shared_entries"] = sum(merged)
        return outs, ans, built

    def _stop_point(self, built, t0):
        """Where the level stops, from the ``build`` answers: ``(offsets, cut, stopped,
        first, last)``: each worker's first global position (and the total last), the
        ``--max-states`` cut (None), why the run stops (None), the first violation per
        property (:func:`first_violations`) and the last parent expanded (None: all)."""
        budget = self.budget
        offsets = [0]
        for b in built:
            offsets.append(offsets[-1] + b[0])
        total, cut, stopped = offsets[-1], None, None
        if budget.max_states is not None and self.n_states + total >= budget.max_states:
            cut = max(0, budget.max_states - self.n_states)
            stopped = f"max-states {budget.max_states} reached"
        first = first_violations(built, offsets, cut)
        last = None
        if first and len(first) == len(self.pending):
            last = max(key // self.nA for _, key, _ in first.values())
        elif cut is not None:
            last = self._parent_at(cut - 1, offsets) if cut > 0 else -1
        if (
            not stopped
            and budget.time_limit is not None
            and time.perf_counter() - t0 >= budget.time_limit
        ):
            stopped = f"time limit {budget.time_limit:g}s reached"
        return offsets, cut, stopped, first, last

    def _finish(self, actors, last, cut, offsets, go_on):
        """Round 4 (``finish``) and, when the search goes on, the next ranges ``adopt``ed
        (fetched with the next level's results); the workers' ``finish`` answers."""
        N = self.pool.n
        bounds = split(offsets[-1], N) if go_on else None
        fins = self._track(
            [
                a.finish.options(num_returns=N + 2).remote(last, cut, offsets[w], bounds)
                for w, a in enumerate(actors)
            ]
        )
        done = self._get([f[0] for f in fins])
        self.calls = []
        if go_on:  # fetched with the next level's results
            self._track(
                [
                    a.adopt.remote(
                        *[fins[v][1 + w] for v in range(N)],
                        *[None if v == w else fins[v][N + 1] for v in range(N)],
                    )
                    for w, a in enumerate(actors)
                ]
            )
        return done

    def _parent_at(self, pos, offsets):
        """Parent position of the state at global position ``pos`` of the level being
        built (``offsets``: the first position each worker built)."""
        w = max(v for v in range(self.pool.n) if offsets[v] <= pos)
        return self._get(self.pool.actors[w].key.remote(pos - offsets[w])) // self.nA


def first_violations(built, offsets, cut) -> dict:
    """Per property, ``(global position, key, fingerprint)`` of the first state of the
    level violating it, from the workers' ``build`` answers (``built``; worker ``w``'s
    states start at ``offsets[w]``), ignoring positions at or past ``cut`` (a
    ``--max-states`` cut; None: none)."""
    first = {}
    for w, (_, f, _) in enumerate(built):
        for name, (i, key, fp) in f.items():
            g = offsets[w] + i
            if (cut is None or g < cut) and (name not in first or g < first[name][0]):
                first[name] = (g, key, fp)
    return first


def level_figures(level, kept, seconds, infos, rinfos, built, done) -> dict:
    """The statistics of one distributed level (``stats_out["levels"]``): states kept,
    seconds, candidates, fresh, per worker and round the seconds and CPU seconds, bytes
    and states sent (8 B per fingerprint, 1 B per answer, the words moved)."""
    sent = sum(i["sent_states"] for i in infos)
    return {
        "level": level,
        "states": kept,
        "seconds": seconds,
        "candidates": sum(i["candidates"] for i in infos),
        "fresh": sum(i["fresh"] for i in infos),
        "round_seconds": [
            [i["seconds"], r["seconds"], b[2]["seconds"]] for i, r, b in zip(infos, rinfos, built)
        ],
        "round_cpu": [[i["cpu"], r["cpu"], b[2]["cpu"]] for i, r, b in zip(infos, rinfos, built)],
        "sent_bytes": 9 * sent + sum(d[2] for d in done),
        "sent_states": sent,
        "moved_states": sum(d[3] for d in done),
    }


def explore_distributed(
    model,
    props,
    pool,
    depth=None,
    budget=None,
    progress=None,
    progress_every=0.25,
    stats_out=None,
    handoff=None,
) -> CheckResult:
    """Distributed BFS of ``model`` (a :class:`~daxcheck.spec.model.DaxModel` whose design
    and properties the workers can rebuild by name: :class:`~.spec.ModelSpec`) for the
    Property list ``props`` on the workers of ``pool`` (:class:`WorkerPool`), from the
    first level whose frontier holds ``handoff`` states or more (default: one chunk; 0:
    from level 0; :class:`DistributedExplorer`).  The result (states, transitions,
    verdicts, depths, traces) is the one-process
    :func:`~daxcheck.checker.explicit.levels.explore_batched`'s."""
    return DistributedExplorer(
        model,
        props,
        pool,
        ModelSpec.of(model, props),
        depth,
        budget,
        progress,
        progress_every,
        stats_out,
        handoff,
    ).run()


class DistributedEngine:
    """The explicit BFS over Ray workers (``distributed``, ``check --workers N``) behind the
    :class:`~daxcheck.checker.engine.Engine` interface: reads ``pool`` (a
    :class:`WorkerPool`, required), ``depth``, ``budget``, ``progress``/``progress_every``,
    ``handoff`` and ``stats_out``; the result is the one-process ``bfs`` engine's.  Raises
    InputError for what it does not support (``exact``, ``symmetry``, ``checkpoint``, no
    pool)."""

    name = "distributed"
    stats_type = Stats

    def check(self, options: EngineOptions) -> CheckResult:
        o = options
        what = (
            "--exact"
            if o.exact
            else "--symmetry"
            if o.symmetry
            else "--checkpoint/--resume"
            if o.checkpoint is not None
            else None
        )
        if what:
            raise InputError(f"{what} is not supported with --workers N >= 2")
        if o.pool is None:
            raise InputError("the distributed engine needs a worker pool (--workers N)")
        return explore_distributed(
            o.model,
            list(o.properties),
            o.pool,
            o.depth,
            o.budget,
            o.progress,
            o.progress_every,
            o.stats_out,
            o.handoff,
        )
