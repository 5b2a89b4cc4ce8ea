"""The distributed explorer's workers: one :class:`PartitionWorker` Ray actor per partition,
and the :class:`WorkerPool` that starts, kills, revives and shares them.

A worker owns the states whose fingerprint is its rank modulo N (:func:`owner`) and
expands a contiguous range of each level's BFS positions (:func:`split`); its rounds
(``expand``, ``resolve``, ``build``, ``finish``, ``adopt``) run the one-process explorer's
public chunk methods (:class:`~..explicit.expand.ChunkExpander`: ``next_chunk``,
``dedupe``, ``build``, ``check_states``) on its own
:class:`~..explicit.levels.BatchedExplorer`, each under the worker's deadline until the
run's time limit (:class:`WorkerTimeLimit`).  The driver is
:class:`~.bfs.DistributedExplorer`.  Nothing here imports Ray: a pool is given the ``ray``
module of a :func:`~.session.ray_session`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time

import numpy as np

from daxcheck import registries
from daxcheck.usercode import TimeLimitReached, deadline

from ..engine import Budget
from ..explicit.frontier import join_pieces
from ..explicit.levels import BatchedExplorer
from ..explicit.packing import Packing, repack
from .session import DistributedError, ray_session

U64 = np.uint64


def owner(fps: np.ndarray, n: int) -> np.ndarray:
    """Rank of the worker owning each fingerprint of ``fps`` (uint64): ``fp % n``."""
    return (fps % U64(n)).astype(np.intp)


def split(total: int, n: int) -> list[int]:
    """``n + 1`` boundaries cutting positions ``0..total-1`` into ``n`` contiguous ranges
    of sizes differing by at most one: worker ``r`` expands ``[b[r], b[r + 1])``."""
    return [total * r // n for r in range(n + 1)]


KILL_AFTER = 1.0
"""Seconds past the time limit after which the driver stops waiting for the workers and
kills them (less than :data:`daxcheck.usercode.DEADLINE_GRACE`, after which the driver's
own deadline would interrupt its wait)."""


class WorkerTimeLimit(Exception):
    """A worker's deadline stopped a user's hook or predicate that was still running at the
    time limit; ``reason`` names the user's ``file:line`` (an Exception, so that Ray hands
    it to the driver)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _bounded(method):
    """A round of :class:`PartitionWorker` run under the worker's deadline
    (:func:`daxcheck.usercode.deadline` until the run's time limit): a user's code still
    running then raises :class:`WorkerTimeLimit`."""

    @functools.wraps(method)
    def run(self, *args):
        left = None if self.until is None else max(1e-3, self.until - time.monotonic())
        try:
            with deadline(left):
                return method(self, *args)
        except TimeLimitReached as e:
            raise WorkerTimeLimit(TimeLimitReached(self.limit, e.where).reason()) from None

    return run


class _Chunk:
    """What ``expand`` keeps of one frontier chunk until ``build``: the chunk's ``words``
    under ``packing``, the key tables ``groups`` its entries index (a repack later in the
    level replaces the explorer's tables, not these), ``base`` (its first state's index
    in the worker's frontier), and per new candidate, in key order: ``okey`` (chunk row *
    nA + action), ``fp``, ``entry`` (its parent's entry in its action's table) and
    ``dest`` (the owner of ``fp``); ``order[i]`` is the rank of candidate ``i``'s
    fingerprint among the chunk's (they are sent in that order).  The lowest-ranked
    worker's own candidates are new states as soon as its visited set says so: ``own``
    holds them already built and checked (words, first violating index per property),
    else None."""

    __slots__ = (
        "words",
        "packing",
        "groups",
        "base",
        "okey",
        "fp",
        "entry",
        "dest",
        "order",
        "own",
    )

    def __init__(self, words, packing, groups, base, okey, fp, entry, dest, order, own=None):
        self.words, self.packing, self.groups, self.base = words, packing, groups, base
        self.okey, self.fp, self.entry, self.dest = okey, fp, entry, dest
        self.order, self.own = order, own


class PartitionWorker:
    """One partition of a distributed BFS (a Ray actor; see the module docstring).  The
    methods are the rounds of a level; the state between them lives in the actor.
    ``rank``/``n``: this worker's partition and the number of partitions."""

    def __init__(self, rank: int, n: int):
        self.rank_, self.n = rank, n
        self.E = None
        self.until = None
        self.registries = registries.snapshot()  # before any user file: see setup

    # ------------------------------------------------------------------ setup
    def prepare(
        self, spec, depth: int, time_left: float | None = None, time_limit: float | None = None
    ) -> None:
        """Build the model of ``spec`` (:class:`~.spec.ModelSpec`) and its explorer for a
        search to ``depth`` (while the driver explores the first levels).  ``time_left``:
        seconds until the run's ``time_limit`` (None: unbounded), which bounds every round
        (:class:`WorkerTimeLimit`)."""
        self.until = None if time_left is None else time.monotonic() + time_left
        self.limit = time_limit
        self.E = None
        self._prepare(spec, depth)

    @_bounded
    def _prepare(self, spec, depth):
        registries.restore(self.registries)  # a reused worker: the last run's user files out
        model, props = spec.build()
        self.E = E = BatchedExplorer(model, props, depth, Budget())  # the default chunks
        ridx = {r: j for j, r in enumerate(E.by_reads)}
        self.act_table = np.array([ridx[a.reads] for a in E.infos], dtype=np.intp)

    @_bounded
    def start(self, level: int, bits, words, fps, offset: int, visited, tables) -> int:
        """Take the search over from the driver (:class:`DistributedExplorer`), after
        :meth:`prepare`: this worker's range of the frontier of ``level``, ``words`` ``(nw,
        k)`` and ``fps`` ``(1, k)`` (uint64) under the packing of column widths ``bits``,
        from global position ``offset`` on; ``visited``: every fingerprint of the levels
        so far (sorted uint64), all marked here (owned or not: none is a new state);
        ``tables``: the key-table entries the driver evaluated
        (:meth:`~daxcheck.checker.explicit.levels.BatchedExplorer.table_delta`).  Returns
        ``k``."""
        E = self.E
        E.set_packing(Packing(bits))
        E.visited.add(visited)
        E.merge_tables(tables)
        self.front = [(words, fps)]
        self.offset = offset  # global position of the frontier's first
        self.first_level = level + 1  # self.levels[i]: level first_level + i
        self.levels = []  # per level built here: (offset, keys)
        self.chunks, self.cand, self.lost = [], [], None
        self.marks = E.table_marks()
        return fps.shape[1]

    def _budget(self):
        """Between chunks: :class:`WorkerTimeLimit` once the run's time limit has passed."""
        if self.until is not None and time.monotonic() >= self.until:
            raise WorkerTimeLimit(f"time limit {self.limit:g}s reached")

    # ------------------------------------------------------------------ rounds
    @_bounded
    def expand(self, pending):
        """Round 1: the new candidates of this worker's frontier, kept per chunk
        (:class:`_Chunk`), every one marked in the visited set.  Worker 0 (no lower rank
        can take a state from it) builds the candidates it owns at once and checks the
        ``pending`` properties on them: work moved from its ``build`` round, which is
        the longest (it wins every tie), to this one, where it waits for the others.
        Returns ``n + 1`` values: per owner the fingerprints sent to it (``(k,)`` uint64,
        sorted chunk by chunk; this worker's own: None, kept here), then ``{"candidates",
        "fresh", "sent_states", "seconds", "cpu"}`` (wall-clock and CPU seconds of the
        round)."""
        t0, c0 = time.perf_counter(), time.process_time()
        E, n = self.E, self.n
        queue, self.front = self.front, None
        # cand, per chunk: (global position of its first row, enabled rows per action)
        self.chunks, self.cand = [], []
        E.pending = list(pending)
        out = [[] for _ in range(n)]
        base = ncand = 0
        while queue:
            self._budget()
            words, fps, (cfp, cok, ents, rows_by) = E.next_chunk(queue, [])
            ncand += cok.shape[0]
            self._expand_chunk(words, cfp, cok, ents, base, out)
            del cfp, cok  # before the next chunk is made
            self.cand.append((self.offset + base, rows_by))
            base += fps.shape[1]
        msgs, sent, fresh_n = self._messages(out)
        info = {
            "candidates": ncand,
            "fresh": fresh_n,
            "sent_states": sent,
            "seconds": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
        }
        return (*msgs, info)

    def _expand_chunk(self, words, cfp, cok, ents, base, out) -> None:
        """One frontier chunk of round 1 (first row at local position ``base``): its new
        candidates marked visited, their fingerprints appended per owner to ``out``, the
        chunk kept (:class:`_Chunk`; worker 0 builds and checks the ones it owns)."""
        E, n, nA = self.E, self.n, self.E.nA
        nok, nfp, fresh, order = E.dedupe(cfp, cok, words, ents, order=True)
        del cfp, cok
        fresh = nfp[0, :0] if fresh is None else fresh
        E.visited.add(fresh)
        parents, acts = nok // nA, nok % nA
        ent = np.stack([ents[r] for r in E.by_reads])[self.act_table[acts], parents]
        fp = nfp[0]
        # Sent sorted by fingerprint (runs of one chunk: the owner's sort merges them)
        to = owner(fresh, n)
        dest = to[order]
        for w in range(n):
            out[w].append(fresh[to == w])
        del fresh, to
        own = None
        if self.rank_ == 0:
            sel = np.flatnonzero(dest == 0)
            built = E.build(words, parents[sel], acts[sel], ents)
            own = (built, E.check_states(built, acts[sel]) if sel.size else {})
        self.chunks.append(
            _Chunk(
                words,
                E.packing,
                dict(E.groups),
                base,
                nok,
                fp,
                ent,
                dest.astype(np.int16),
                order,
                own,
            )
        )

    def _messages(self, out):
        """Round 1's messages: per owner the fingerprints sent to it (this worker's own
        kept as ``mine``, None in its place); ``(messages, fingerprints sent, fresh)``."""
        msgs, sent, fresh_n = [], 0, 0
        for w in range(self.n):
            m = np.concatenate(out[w]) if out[w] else np.zeros(0, U64)
            fresh_n += m.size
            if w == self.rank_:
                self.mine = m
                msgs.append(None)
            else:
                sent += m.size
                msgs.append(m)
        return msgs, sent, fresh_n

    @_bounded
    def resolve(self, *msgs):
        """Round 2: which of the fingerprints each worker sent here are new states
        (``msgs``: one array per sender, this worker's own None).  A fingerprint is new
        unless it was visited before this level or a lower-ranked worker (this one
        included) met it this level: the lowest rank has the smallest keys.  This
        worker's own candidates that a lower-ranked sender met first are lost.  Returns
        ``n + 1`` values: per sender one bool per fingerprint it sent (this worker: None),
        then ``{"seconds", "cpu"}``."""
        t0, c0 = time.perf_counter(), time.process_time()
        E, me = self.E, self.rank_
        mine = self.mine
        self.mine = None
        mo = ms = None  # this worker's candidates sorted: when needed
        lost = np.zeros(mine.size, dtype=bool)
        answers = []
        for v, q in enumerate(msgs):
            if v == me:
                answers.append(None)
                continue
            o = np.argsort(q, kind="stable")
            qs = q[o]
            hit = E.visited.contains(qs)
            acc = ~hit
            h = np.flatnonzero(hit)
            if h.size and mine.size and v < me:
                # Met by this worker too: the sender's key is smaller, unless a sender
                # ranked lower still took the state already.
                if ms is None:
                    mo = np.argsort(mine, kind="stable")
                    ms = mine[mo]
                j = np.minimum(np.searchsorted(ms, qs[h]), ms.size - 1)
                same = ms[j] == qs[h]
                jj = mo[j[same]]
                free = ~lost[jj]
                lost[jj[free]] = True
                acc[h[same][free]] = True
            new = qs[~hit]
            if new.size:
                E.visited.add(new)
            ans = np.empty(q.size, dtype=bool)
            ans[o] = acc
            answers.append(ans)
        self.lost = lost
        return (*answers, {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0})

    @_bounded
    def build(self, pending, keep, *answers):
        """Round 3: the words of this worker's winning candidates (its own not lost, the
        others' accepted: ``answers[u]`` from owner ``u``, this worker's own None), the
        ``pending`` properties checked on them, kept (``keep``: the level will be
        expanded) in key order.  Returns ``(count, {property: (index, key, fingerprint)
        of its first violating state here}, {"seconds", "cpu"})``."""
        t0, c0 = time.perf_counter(), time.process_time()
        E, nA, me = self.E, self.E.nA, self.rank_
        answers = [~self.lost if u == me else a for u, a in enumerate(answers)]
        self.lost = None
        at = [0] * self.n
        E.pending = list(pending)
        first, keys, self.nxt, done = {}, [], [], 0
        for c in self.chunks:
            self._budget()
            to = np.empty_like(c.dest)  # the owners in fingerprint order
            to[c.order] = c.dest
            win = np.empty(c.okey.size, dtype=bool)
            for u in range(self.n):
                sel = np.flatnonzero(to == u)
                win[sel] = answers[u][at[u] : at[u] + sel.size]
                at[u] += sel.size
            win = win[c.order]
            # The states to build here now (all winners, or worker 0's foreign ones),
            # then the chunk's winners in key order: ``at`` of each candidate among them.
            todo = win if c.own is None else win & (c.dest != me)
            ok = c.okey[todo]
            words = self._words(c, ok // nA, ok % nA, c.entry[todo])
            found = E.check_states(words, ok % nA) if ok.size else {}
            if c.own is not None:
                pos = np.cumsum(win) - 1
                here, there = pos[c.dest == me], pos[todo]
                built, own_found = c.own
                if c.packing is not E.packing:
                    built = repack(built, c.packing, E.packing)
                allw = np.empty((E.packing.nw, pos[-1] + 1 if pos.size else 0), U64)
                allw[:, here], allw[:, there], words = built, words, allw
                found = {name: int(there[i]) for name, i in found.items()}
                for name, i in own_found.items():
                    found[name] = min(found.get(name, here[i]), int(here[i]))
            ok = c.okey[win]
            parents, acts = ok // nA, ok % nA
            fp = c.fp[win]
            key = (parents.astype(np.int64) + (self.offset + c.base)) * nA + acts
            for name, i in found.items():
                if name not in first:
                    first[name] = (done + i, int(key[i]), int(fp[i]))
            if keep:
                self.nxt.append((words, fp[None]))
            keys.append(key)
            done += fp.size
        self.chunks = []
        self.nkey = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        return done, first, {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}

    def _words(self, c, parents, acts, entry):
        """The words of new states built from chunk ``c`` (:class:`_Chunk`), under the
        current packing."""
        words = self.E.build(c.words, parents, acts, None, c.groups, entry)
        if c.packing is not self.E.packing:  # a repack later in the level
            words = repack(words, c.packing, self.E.packing)
        return words

    def key(self, i: int) -> int:
        """The key of the ``i``-th state this worker built in the current level."""
        return int(self.nkey[i])

    def finish(self, last, cut, offset, bounds):
        """Round 4: transitions per action of the parents at positions ``<= last`` (all:
        None), the number of new states at positions ``< cut`` (all: None) whose parent is
        ``<= last``; the states built here have positions from ``offset`` on.  With
        ``bounds`` (the next level's ranges, :func:`split`) the next frontier is cut to
        this worker's range, and the key-table entries this worker evaluated in the level
        are given to the others (:meth:`~daxcheck.checker.explicit.levels.BatchedExplorer.table_delta`:
        a projection one worker met is then not evaluated again by another in a later
        level; without this, 17% of the projections were evaluated twice on
        cow-single-iomap --depth 7, 95% of those a level or more after the other worker).
        Returns ``n + 2`` values: ``(fired, count, bytes moved, states moved)``, then per
        worker the slice of this worker's states in its range (``(packing bits, words,
        fps)``; this worker's own, and empty slices: None), then the table entries (None
        when the search stops)."""
        nA = self.E.nA
        fired = np.zeros(nA, dtype=np.int64)
        for pos0, rows_by in self.cand:
            for i, rows in rows_by.items():  # sorted chunk rows
                fired[i] += (
                    rows.size
                    if last is None
                    else int(np.searchsorted(rows, last - pos0, side="right"))
                )
        self.cand = []
        K = self.nkey
        self.levels.append((offset, K))
        ok = np.ones(K.size, dtype=bool)
        if last is not None:
            ok &= K // nA <= last
        if cut is not None:
            ok &= np.arange(offset, offset + K.size) < cut
        out = [None] * self.n
        moved = nbytes = 0
        delta = None
        if bounds is not None:
            delta = self.E.table_delta(self.marks)
            nbytes += (self.n - 1) * _nbytes(delta)
            words, fps = (
                join_pieces(self.nxt)
                if self.nxt
                else (np.zeros((self.E.packing.nw, 0), U64), np.zeros((1, 0), U64))
            )
            self.nxt = []
            self.keep_part = None
            for w in range(self.n):
                lo = max(bounds[w], offset) - offset
                hi = min(bounds[w + 1], offset + K.size) - offset
                if hi <= lo:
                    continue
                part = (self.E.packing.bits, words[:, lo:hi], fps[:, lo:hi])
                if w == self.rank_:
                    self.keep_part = part
                else:
                    out[w] = part
                    moved += hi - lo
                    nbytes += part[1].nbytes + part[2].nbytes
            self.offset = bounds[self.rank_]
        self.nxt = []
        return ((fired, int(np.count_nonzero(ok)), nbytes, moved), *out, delta)

    def adopt(self, *args):
        """The next frontier: the slices of this worker's range (``args[:n]``: one per
        worker in rank order, None where empty; this worker's own: None, kept by
        ``finish``), repacked to the widest packing among them; then the other workers'
        key-table entries (``args[n:]``, this worker's own None) merged into this
        worker's tables.  Returns the number of entries merged."""
        E = self.E
        parts, deltas = args[: self.n], args[self.n :]
        parts = [self.keep_part if w == self.rank_ else p for w, p in enumerate(parts)]
        parts = [p for p in parts if p is not None]
        self.keep_part = None
        cap = E.packing.cap.copy()
        for bits, _, _ in parts:
            if bits != E.packing.bits:
                cap = np.maximum(cap, Packing(bits).cap)
        if E.packing.widened(cap) is not None:
            E.repack_all(cap, [])
        self.front = [
            (w if bits == E.packing.bits else repack(w, Packing(bits), E.packing), f)
            for bits, w, f in parts
        ]
        merged = sum(E.merge_tables(d) for d in deltas if d is not None)
        self.marks = E.table_marks()
        return merged

    def link(self, level: int, pos: int):
        """The key (parent position * nA + action) of the state at global position
        ``pos`` of ``level`` if this worker built it, else None."""
        off, K = self.levels[level - self.first_level]
        i = pos - off
        return int(K[i]) if 0 <= i < K.size else None

    def cpu_seconds(self) -> float:
        """CPU time (user + system, seconds) this worker process has used so far."""
        t = os.times()
        return t.user + t.system

    def memory(self) -> dict:
        """Bytes held: visited set (with the marks of fingerprints sent), per-level links,
        key tables (each worker holds every projection any worker evaluated before the
        last level, :meth:`finish`)."""
        return {
            "visited": int(self.E.visited.nbytes),
            "links": int(sum(k.nbytes for _, k in self.levels)),
            "tables": int(self.E.table_bytes()),
        }


def _nbytes(delta) -> int:
    """Bytes of the arrays in a key-table delta (keys and values: lists of arrays,
    :meth:`~daxcheck.checker.explicit.levels.BatchedExplorer.table_delta`)."""
    return sum(a.nbytes for keys, values in delta[1].values() for a in (*keys, *values))


class WorkerPool:
    """``n`` :class:`PartitionWorker` actors (one CPU each) on the current Ray session,
    reused for every design of a run; :meth:`kill` and :meth:`revive` replace them (a
    time limit reached), :meth:`close` kills them."""

    def __init__(self, ray, n: int):
        self.ray, self.n = ray, n
        self.cls = ray.remote(num_cpus=1)(PartitionWorker)
        self.actors = [self.cls.remote(r, n) for r in range(n)]
        try:
            ray.get([a.__ray_ready__.remote() for a in self.actors])
        except Exception as e:  # ActorDiedError: typically daxcheck missing on a node
            self.close()
            msg = " ".join(str(e).split())[:160]
            raise DistributedError(
                f"the Ray workers did not start (daxcheck must be "
                f"importable by the cluster's Python on every node): "
                f"{msg}"
            ) from None

    def kill(self):
        """Kill the workers, whatever they are running (a user's hook that never returns);
        :meth:`revive` replaces them."""
        for a in self.actors:
            self.ray.kill(a)
        self.killed = True

    def revive(self):
        """After :meth:`kill`: start new workers and wait until they are up (the runner
        calls this outside a run's time limit, so that the next run does not pay for it)."""
        if getattr(self, "killed", False):
            self.actors = [self.cls.remote(r, self.n) for r in range(self.n)]
            self.ray.get([a.__ray_ready__.remote() for a in self.actors])
            self.killed = False

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


SHARED_POOLS: dict = {}
"""Pools kept open by :func:`shared_pool` (by worker count), reused by :func:`worker_pool`."""


def shared_pool(ray, n: int) -> WorkerPool:
    """A pool of ``n`` workers on the running session that :func:`worker_pool` reuses
    instead of starting its own (a test session's fixture; the caller closes it)."""
    pool = SHARED_POOLS[n] = WorkerPool(ray, n)
    return pool


@contextlib.contextmanager
def worker_pool(n: int, address: str | None = None):
    """A :class:`WorkerPool` of ``n`` workers for the block: the :func:`shared_pool` of
    that size if one is open, else a new one on a :func:`~.session.ray_session` (local
    with ``n`` CPUs, or the cluster at ``address``), closed with the session on every exit
    path.  Raises :class:`~.session.DistributedError` (Ray missing, cannot start)."""
    pool = SHARED_POOLS.get(n)
    if pool is not None and pool.actors and pool.ray.is_initialized():
        yield pool
        return
    with ray_session(n, address) as ray:
        pool = WorkerPool(ray, n)
        try:
            yield pool
        finally:
            pool.close()
