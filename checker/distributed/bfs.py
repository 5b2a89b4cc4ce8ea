"""Hash-partitioned, level-synchronous breadth-first search on Ray (PReach's scheme).

``N`` Ray actors (:class:`PartitionWorker`) each own the states whose 64-bit Zobrist
fingerprint ``fp`` has ``fp % N`` equal to their rank: they keep the visited set of those
fingerprints and the frontier of those states.  One BFS level is four rounds driven by
:class:`DistributedExplorer`:

1. ``expand``: every worker runs its frontier, chunk by chunk, through the batched
   explorer's own successor machinery (:class:`~daxcheck.checker.explicit.levels.BatchedExplorer`:
   key tables per read set, the array backend, fingerprint deltas, de-duplication within
   the chunk and against its own visited set, where the fingerprints it sent to other
   owners are marked too), builds the new states' bit-packed words and cuts them by owner
   into one message per worker: NumPy arrays (packing widths, words
   ``(nw, k)`` uint64, fingerprints ``(k,)`` uint64, BFS keys ``(k,)`` int64), moved by
   Ray's object store, never as Python objects.
2. ``merge``: every owner de-duplicates what it received (the smallest BFS key of each
   fingerprint wins), drops the fingerprints it has visited, checks the pending properties
   on the new states, adds them to its visited set and keeps them, sorted by key, as its
   share of the next frontier.
3. ``rank``: the BFS key of a new state is ``parent's global position * nA + action``,
   exactly the order in which the one-process explorer meets candidates (parent order,
   then action order); a state's global position in the new level is the number of new
   keys smaller than its own, summed over the workers (each worker receives the others'
   sorted keys).  So positions, the first violating state of each property, the stop of a
   run whose properties are all violated, and every counterexample trace are those of the
   one-process engine.
4. ``finish``: transition counts per action (up to the parent where the one-process engine
   would stop) and the number of new states that count.

A level ends when every worker has answered the round (Ray's ``get`` on all of them): the
"drained" condition of the scheme.  Counterexamples are rebuilt as the one-process
explorer does, by re-executing the actions of the path (its ``_trace``) from the initial
state; the path comes from the per-level links ``(position, key)`` each worker keeps for
its states (16 bytes per state).

Not supported with N >= 2 (the CLI refuses them): ``--exact`` and ``--symmetry``.  A
``time_limit`` is checked between levels (the one-process engine checks between chunks).
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from ..explicit.explore import Budget
from ..explicit.levels import BatchedExplorer, ExploreError, default_chunk
from ..explicit.packing import Packing, repack
from ..results import CheckResult
from .session import DistributedError, ray_session

U64 = np.uint64
WORKER_CHUNK_SCALE = 4
"""A worker's frontier chunks are this many times the one-process explorer's: every worker
fills its own key tables, and the array backend's cost per fill is mostly fixed (one pass
of the spec's Python per vocabulary operation), so fewer, larger chunks pay it less often
(measured on cow-single-iomap --depth 6: about 10% less work per level)."""


CHECK_CHUNK = 1 << 17
"""New states per property check in ``merge`` (the check's cost per call is mostly fixed:
one pass over the conjuncts' read sets)."""


def owner(fps: np.ndarray, n: int) -> np.ndarray:
    """Rank of the worker owning each fingerprint of ``fps`` (uint64): ``fp % n``."""
    return (fps % U64(n)).astype(np.intp)


def _gather(pieces, idx):
    """Columns ``idx`` (indices into the concatenation of the ``(nw, k_i)`` arrays
    ``pieces``) as one ``(nw, len(idx))`` array, without concatenating the pieces."""
    out = np.empty((pieces[0].shape[0], idx.size), dtype=U64)
    lo = 0
    for p in pieces:
        hi = lo + p.shape[1]
        m = np.flatnonzero((idx >= lo) & (idx < hi))
        if m.size:
            out[:, m] = p[:, idx[m] - lo]
        lo = hi
    return out


def _empty_msg(packing):
    return (packing.bits, np.zeros((packing.nw, 0), U64), np.zeros(0, U64),
            np.zeros(0, np.int64))


def _msg_bytes(msg) -> int:
    return sum(a.nbytes for a in msg[1:])


class PartitionWorker:
    """One partition of a distributed BFS (a Ray actor; see the module docstring).  The
    methods are the rounds of a level; the state between them lives in the actor.
    ``rank``/``n``: this worker's partition and the number of partitions."""

    def __init__(self, rank: int, n: int):
        self.rank_, self.n = rank, n
        self.E = None

    # ------------------------------------------------------------------ setup
    def setup(self, spec, depth: int) -> int:
        """Build the model of ``spec`` (:class:`~.spec.ModelSpec`) for a search to
        ``depth``; keep the initial states this worker owns (global positions: their
        index among the distinct initial states).  Returns the number kept."""
        model, props = spec.build()
        chunk = default_chunk(len(model.actions)) * WORKER_CHUNK_SCALE
        self.E = E = BatchedExplorer(model, props, depth, Budget(), chunk=chunk)
        words0, fps0, _ = E._initial()
        mine = np.flatnonzero(owner(fps0[0], self.n) == self.rank_)
        fp = fps0[0][mine]
        E.visited.add(np.sort(fp))
        self.front = (words0[:, mine], fps0[:, mine])
        self.pos = mine.astype(np.int64)        # global positions of the frontier, sorted
        self.levels = [(self.pos, self.pos)]    # per level: (positions, links)
        self.own = None
        self.cand = []
        return int(mine.size)

    # ------------------------------------------------------------------ rounds
    def expand(self):
        """Round 1: successors of this worker's frontier, cut by owner.  Returns ``n + 1``
        values: one message per worker (this worker's own is kept here: None), then
        ``{"candidates", "sent_bytes", "sent_states", "seconds"}``."""
        t0 = time.perf_counter()
        E, n, nA = self.E, self.n, self.E.nA
        outs = [[] for _ in range(n)]       # per destination: (words, fps) pieces
        keys = [[] for _ in range(n)]
        self.cand = []                      # (action, parent positions) of every candidate
        queue = [self.front] if self.front[1].shape[1] else []
        self.front = None
        base, ncand = 0, 0
        while queue:
            words, fps, (cfp, cok, ents, rows_by) = E._next_chunk(queue, outs)
            ncand += cok.shape[0]
            nok, nfp, _ = E._dedupe(cfp, cok, words, ents)
            del cfp, cok
            parents, acts = nok // nA, nok % nA
            nwords = E._build(words, parents, acts, ents)
            ppos = self.pos[base:base + fps.shape[1]]
            key = ppos[parents] * nA + acts
            dest = owner(nfp[0], n)
            # Fingerprints sent to other owners are marked in this worker's visited set:
            # any later candidate with one of them (this level: a larger key; a later level:
            # a state its owner has by then) is dropped here, before being built and sent.
            foreign = dest != self.rank_
            if foreign.any():
                E.visited.add(np.sort(nfp[0][foreign]))
            for w in range(n):
                sel = np.flatnonzero(dest == w)
                if sel.size:
                    outs[w].append((nwords[:, sel], nfp[:, sel]))
                    keys[w].append(key[sel])
            for i, rows in rows_by.items():
                if rows.size:
                    self.cand.append((i, ppos[rows]))
            base += fps.shape[1]
        msgs, sent, sent_states = [], 0, 0
        for w in range(n):
            if outs[w]:
                m = (E.packing.bits, np.concatenate([p[0] for p in outs[w]], axis=1),
                     np.concatenate([p[1][0] for p in outs[w]]), np.concatenate(keys[w]))
            else:
                m = _empty_msg(E.packing)
            if w == self.rank_:
                self.own = m
                msgs.append(None)
            else:
                sent += _msg_bytes(m)
                sent_states += m[2].shape[0]
                msgs.append(m)
        info = {"candidates": ncand, "sent_bytes": sent, "sent_states": sent_states,
                "seconds": time.perf_counter() - t0}
        return (*msgs, info)

    def merge(self, pending, keep, *msgs):
        """Round 2: de-duplicate the messages addressed to this worker (``msgs``: one per
        worker, this worker's own None), drop visited fingerprints, check the ``pending``
        properties on the new states, add them to the visited set and (``keep``: the level
        will be expanded) keep their words.  Returns ``(sorted keys, count)``."""
        E = self.E
        parts = [m for m in msgs if m is not None] + [self.own]
        self.own = None
        cap = E.packing.cap.copy()
        for m in parts:
            if m[0] != E.packing.bits:
                cap = np.maximum(cap, Packing(m[0]).cap)
        if E.packing.widened(cap) is not None:
            E._repack_all(cap, [])
        words = [m[1] if m[0] == E.packing.bits else repack(m[1], Packing(m[0]), E.packing)
                 for m in parts]
        fps = np.concatenate([m[2] for m in parts])
        key = np.concatenate([m[3] for m in parts])
        del parts
        # Each message is sorted by key (chunks in parent order, each chunk's new states in
        # key order), so this stable sort merges a few sorted runs.
        o = np.argsort(key, kind="stable")
        # The one-process de-duplication on positions in key order: the first occurrence of
        # each fingerprint, none visited (sorted fingerprints in ``fresh``).
        nidx, nfp, fresh = E._dedupe(fps[o][None], np.arange(o.size, dtype=np.int64),
                                     None, None)
        sel = o[nidx]
        if fresh is not None:        # None: no candidate at all
            E.visited.add(fresh)
        self.nfp, self.nkey = nfp[0], key[sel]
        self.nwords = _gather(words, sel)
        del words, fps, key, o
        E.pending = list(pending)
        self.first = {}
        acts = self.nkey % E.nA
        step = CHECK_CHUNK
        for lo in range(0, self.nkey.size, step):
            for name, i in E._check(self.nwords[:, lo:lo + step],
                                    acts[lo:lo + step]).items():
                self.first.setdefault(name, lo + i)
        if not keep:
            self.nwords = self.nwords[:, :0]
        return self.nkey, int(self.nkey.size)

    def rank(self, *others):
        """Round 3: global positions of the new states from the other workers' sorted
        keys; the new states become the frontier.  Returns, per property violated here,
        ``(position, key, fingerprint)`` of its first violating state."""
        K = self.nkey
        g = np.arange(K.size, dtype=np.int64)
        for o in others:
            g += np.searchsorted(o, K)
        self.pos = g
        self.levels.append((g, K))
        self.front = (self.nwords, self.nfp[None])
        self.nwords = None
        return {name: (int(g[i]), int(K[i]), int(self.nfp[i])) for name, i in self.first.items()}

    def finish(self, last, cut):
        """Round 4: transitions per action of the parents at positions ``<= last`` (all:
        None), and the number of new states at positions ``< cut`` (all: None) whose
        parent is ``<= last``."""
        nA = self.E.nA
        fired = np.zeros(nA, dtype=np.int64)
        for i, pp in self.cand:
            fired[i] += pp.size if last is None else int(np.count_nonzero(pp <= last))
        self.cand = []
        g, K = self.levels[-1]
        ok = np.ones(K.size, dtype=bool)
        if last is not None:
            ok &= K // nA <= last
        if cut is not None:
            ok &= g < cut
        return fired, int(np.count_nonzero(ok))

    def link(self, level: int, pos: int):
        """The key (parent position * nA + action) of the state at global position
        ``pos`` of ``level`` if this worker owns it, else None."""
        g, K = self.levels[level]
        i = int(np.searchsorted(g, pos))
        return int(K[i]) if i < g.size and g[i] == pos else None

    def cpu_seconds(self) -> float:
        """CPU time (user + system, seconds) this worker process has used so far."""
        t = os.times()
        return t.user + t.system

    def memory(self) -> dict:
        """Bytes held: visited set, per-level links."""
        return {"visited": int(self.E.visited.nbytes),
                "links": int(sum(g.nbytes + k.nbytes for g, k in self.levels))}


class WorkerPool:
    """``n`` :class:`PartitionWorker` actors (one CPU each) on the current Ray session,
    reused for every design of a run; :meth:`close` kills them."""

    def __init__(self, ray, n: int):
        self.ray, self.n = ray, n
        cls = ray.remote(num_cpus=1)(PartitionWorker)
        self.actors = [cls.remote(r, n) for r in range(n)]
        try:
            ray.get([a.__ray_ready__.remote() for a in self.actors])
        except Exception as e:   # ActorDiedError: typically daxcheck missing on a node
            self.close()
            msg = " ".join(str(e).split())[:160]
            raise DistributedError(f"the Ray workers did not start (daxcheck must be "
                                   f"importable by the cluster's Python on every node): "
                                   f"{msg}") from None

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


_SHARED: dict = {}
"""Pools kept open by :func:`shared_pool` (by worker count), reused by :func:`worker_pool`."""


def shared_pool(ray, n: int) -> "WorkerPool":
    """A pool of ``n`` workers on the running session that :func:`worker_pool` reuses
    instead of starting its own (a test session's fixture; the caller closes it)."""
    pool = _SHARED[n] = WorkerPool(ray, n)
    return pool


@contextlib.contextmanager
def worker_pool(n: int, address: str | None = None):
    """A :class:`WorkerPool` of ``n`` workers for the block: the :func:`shared_pool` of
    that size if one is open, else a new one on a :func:`~.session.ray_session` (local
    with ``n`` CPUs, or the cluster at ``address``), closed with the session on every exit
    path.  Raises :class:`~.session.DistributedError` (Ray missing, cannot start)."""
    pool = _SHARED.get(n)
    if pool is not None and pool.actors and pool.ray.is_initialized():
        yield pool
        return
    with ray_session(n, address) as ray:
        pool = WorkerPool(ray, n)
        try:
            yield pool
        finally:
            pool.close()


class DistributedExplorer(BatchedExplorer):
    """The driver of a distributed BFS of ``model`` over the workers of ``pool``: same
    arguments and :class:`CheckResult` as :class:`BatchedExplorer` (``exact`` and
    ``symmetry`` are not supported).  The driver keeps no state set: level 0 is checked
    here, every deeper level by the workers (module docstring); counterexamples are rebuilt
    here from the links the workers keep.  ``stats_out`` (a dict, optional) receives
    per-level measurements: seconds, candidates, states and bytes sent between workers."""

    def __init__(self, model, props, pool, spec, depth=None, budget=None, progress=None,
                 progress_every=0.25, stats_out=None):
        super().__init__(model, props, depth, budget or Budget(), progress, progress_every)
        self.pool, self.spec = pool, spec
        self.stats_out = stats_out if stats_out is not None else {}

    def _path(self, depth, idx):
        ray, actors = self.pool.ray, self.pool.actors
        steps, i = [], idx
        for lvl in range(depth, 0, -1):
            found = [k for k in ray.get([a.link.remote(lvl, i) for a in actors])
                     if k is not None]
            if len(found) != 1:
                raise ExploreError(f"level {lvl}: position {i} owned by {len(found)} workers")
            i, a = divmod(found[0], self.nA)
            steps.append(a)
        steps.reverse()
        return i, steps

    def run(self) -> CheckResult:
        """Explore breadth-first over the workers (see the module docstring)."""
        ray, actors, N = self.pool.ray, self.pool.actors, self.pool.n
        t0 = time.perf_counter()
        budget = self.budget
        ray.get([a.setup.remote(self.spec, self.depth) for a in actors])
        words0, fps0, _ = self._initial()
        self.n_states = frontier_n = fps0.shape[1]
        self._record(self._check(words0), 0, fps0[0], 0)
        level, complete, stopped = 0, False, None
        per_level = self.stats_out.setdefault("levels", [])
        while self.pending:
            if frontier_n == 0:
                complete = True
                break
            if level >= self.depth:
                break
            lt = time.perf_counter()
            keep = level + 1 < self.depth
            outs = [a.expand.options(num_returns=N + 1).remote() for a in actors]
            merged = [a.merge.options(num_returns=2).remote(
                self.pending, keep, *[outs[v][w] for v in range(N)])
                for w, a in enumerate(actors)]
            counts = ray.get([m[1] for m in merged])
            firsts = ray.get([a.rank.remote(*[merged[v][0] for v in range(N) if v != w])
                              for w, a in enumerate(actors)])
            infos = ray.get([o[N] for o in outs])
            total = sum(counts)
            cut = None
            if budget.max_states is not None and self.n_states + total >= budget.max_states:
                cut = max(0, budget.max_states - self.n_states)
                stopped = f"max-states {budget.max_states} reached"
            first = {}
            for f in firsts:
                for name, (g, key, fp) in f.items():
                    if (cut is None or g < cut) and (name not in first or g < first[name][0]):
                        first[name] = (g, key, fp)
            last = None
            if first and len(first) == len(self.pending):
                last = max(key // self.nA for _, key, _ in first.values())
            elif cut is not None:
                last = self._parent_at(cut - 1) if cut > 0 else -1
            done = ray.get([a.finish.remote(last, cut) for a in actors])
            for fired, _ in done:
                self.fired += fired
            kept = sum(k for _, k in done)
            self.n_states += kept
            if first:
                self._record({n: g for n, (g, _, _) in first.items()}, level + 1,
                             {g: U64(fp) for g, _, fp in first.values()}, 0)
            per_level.append({"level": level + 1, "states": kept,
                              "seconds": time.perf_counter() - lt,
                              "candidates": sum(i["candidates"] for i in infos),
                              "expand_seconds": [i["seconds"] for i in infos],
                              "sent_bytes": sum(i["sent_bytes"] for i in infos),
                              "sent_states": sum(i["sent_states"] for i in infos)})
            now = time.perf_counter()
            if not stopped and budget.time_limit is not None and now - t0 >= budget.time_limit:
                stopped = f"time limit {budget.time_limit:g}s reached"
            if self.progress is not None:
                self.stats.states, self.stats.depth = self.n_states, level + 1
                self.stats.seconds = now - t0
                self.progress(self.stats)
            if stopped:
                break
            frontier_n = kept
            level += 1
        self.stats_out["memory"] = ray.get([a.memory.remote() for a in actors])
        return self._result(level, complete, stopped, t0)

    def _parent_at(self, pos):
        """Parent position of the state at global position ``pos`` of the newest level."""
        ray, actors = self.pool.ray, self.pool.actors
        found = [k for k in ray.get([a.link.remote(-1, pos) for a in actors]) if k is not None]
        return found[0] // self.nA


def explore_distributed(model, props, pool, depth=None, budget=None, progress=None,
                        progress_every=0.25, stats_out=None) -> CheckResult:
    """Distributed BFS of ``model`` (a :class:`~daxcheck.spec.model.DaxModel` whose design
    and properties the workers can rebuild by name: :class:`~.spec.ModelSpec`) for the
    Property list ``props`` on the workers of ``pool`` (:class:`WorkerPool`).  The result
    (states, transitions, verdicts, depths, traces) is the one-process
    :func:`~daxcheck.checker.explicit.levels.explore_batched`'s."""
    from .spec import ModelSpec
    return DistributedExplorer(model, props, pool, ModelSpec.of(model, props), depth, budget,
                               progress, progress_every, stats_out).run()
