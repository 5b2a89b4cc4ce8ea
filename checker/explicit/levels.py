"""The batched breadth-first explorer: whole frontier chunks per NumPy call.

Level by level, the frontier (bit-packed states, :mod:`.packing`, plus one 64-bit
fingerprint each) is processed in chunks (about 2^21 / number of actions states, at most
:data:`CHUNK`):

1. For every distinct read set R of the model's actions (:func:`.transitions.action_footprint`),
   the chunk's projections on R are looked up in an exact :class:`.keytable.KeyTable`; the
   projections never seen are evaluated once, all together, by the array backend of the
   vocabulary (:mod:`.batched`; row by row with the reference ``apply`` when the backend
   cannot run a transition), and each action of that R records, per projection: enabled or
   not, the values it leaves on its write set W, and the fingerprint change they cause.
2. A successor's fingerprint is its parent's XOR that change (Zobrist hashing: the
   fingerprint of a state is the XOR of one random 64-bit number per (field, value), so
   only the fields an action writes are touched).  Successor states are never built
   before de-duplication.
3. Candidates are de-duplicated by fingerprint, within the chunk (the first in BFS order
   wins, so parents and traces are those of the reference explorer) and against the
   visited set (:class:`.fpset.FingerprintSet`); only new states are built, by patching
   the parent's words on W.
4. Every property conjunct is memoised the same way on its own read set, and checked on
   the new states.

BFS order is the reference explorer's (parent order, then action order), so the states
counted, the verdicts, the shortest depths and even the counterexample traces are
identical to :mod:`.explore`'s memoised explorer; a test compares them on every design.
Per level only a link (parent index * number of actions + action: 4 bytes) of each new
state is kept; a counterexample is rebuilt by re-executing those actions from the initial state with the
reference ``apply`` and is checked (fingerprints match, the property fails) before it is
reported.  The probability that a fingerprint collision hid a state is reported (TLC's
bound n²/2⁶⁵); ``exact=True`` keeps every state's words and compares states on every
fingerprint match, which removes the probabilistic step.

With ``symmetry`` (:mod:`.symmetry`), every state carries one fingerprint per element of
the group (the fingerprint of its image, also updated incrementally) and states are
de-duplicated on the smallest, which is the same for all states of an orbit; the state kept
is the one reached first, so traces stay in original terms.  The claimed symmetry is
checked on every projection evaluated, and the run is repeated without it when it fails.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from ..engine import Budget
from ..results import HOLDS, INCOMPLETE, VIOLATED, CheckResult, Stats, Verdict
from .expand import ActionInfo, ChunkExpander
from .fpset import FingerprintIndex, FingerprintSet
from .frontier import (  # noqa: F401 (re-exported)
    BLOCK,
    SEED,
    U64,
    Blocks,
    Collision,
    ExploreError,
    FingerprintCollision,
    collision_probability,
    concat_long_lived,
    fingerprints,
    zobrist_table,
)
from .memory import release_free_memory
from .packing import Packing
from .por import AmpleSets
from .readset import read_set
from .resume import start as start_checkpoint
from .symmetry import Symmetry, SymmetryBroken
from .transitions import action_footprint

CHUNK = 1 << 17
"""Most frontier states per chunk."""
CHUNK_CANDIDATES = 1 << 21
"""Candidates (frontier states x actions) per chunk, about.  The array backend's cost per
key-table fill is mostly fixed (one pass of the spec's Python per vocabulary operation), so
larger chunks pay it less often: 2^21 instead of 2^19 cut the CPU time of
``cow-single-iomap --depth 7`` by 17-21% (12.0-12.5 s against 15.0-15.2 s) and the wall
clock of ``--depth 8`` from 75.9 s to 59.5 s for 22 MB more peak RSS (853 MB), 5% on the
137,000-state default bounds, no change on small ones (one idle 2-core VM, alternating
runs)."""


def default_chunk(n_actions: int) -> int:
    """Frontier states per chunk for a model of ``n_actions`` actions: about
    :data:`CHUNK_CANDIDATES` candidates (states x actions), within 1024..:data:`CHUNK`."""
    return max(1024, min(CHUNK, CHUNK_CANDIDATES // max(1, n_actions)))


class BatchedExplorer(ChunkExpander):
    """One batched exploration of ``model`` (a :class:`~daxcheck.spec.model.DaxModel` or
    any model with ``L.width``, ``actions``, ``init_states()``, ``design.name``,
    ``bounds``; states are ``bytes``) for the Property list ``props``, to ``depth``
    levels, within ``budget`` (see the module docstring); :meth:`run` returns the
    :class:`CheckResult`.  ``exact``: compare states on fingerprint matches; ``chunk``:
    the states per chunk; ``seed``: of the Zobrist table; ``symmetry``: dimension names
    to reduce by.  ``run`` raises ExploreError (an internal inconsistency, e.g. a
    transition that is not a function of the state), FingerprintCollision (exact mode),
    SymmetryBroken (the claimed symmetry fails; :func:`explore_batched` handles the last
    two), and whatever the reference ``apply`` raises on a state (a user's hook:
    ``UserCodeError``)."""

    def __init__(
        self,
        model,
        props,
        depth,
        budget,
        progress=None,
        progress_every=0.25,
        *,
        exact=False,
        chunk=None,
        seed=SEED,
        symmetry=None,
        checkpoint=None,
        resume=None,
        por=False,
    ):
        self.model, self.props = model, list(props)
        # Checkpoint/resume (.checkpoint): a Checkpointer saving this run, a Snapshot it
        # continues from; ``found``: per violated property (depth, index in level, fp).
        self.checkpoint, self.resume = checkpoint, resume
        self.found = {}
        self.seconds_before = 0.0
        self.L = model.L
        self.width = self.L.width
        self.depth = model.bounds.depth if depth is None else depth
        self.budget, self.progress, self.progress_every = budget, progress, progress_every
        self.nA = len(model.actions)
        self.exact, self.seed = exact, seed
        # Candidates per chunk (states x enabled actions) bound the transient memory.
        self.chunk = chunk or default_chunk(self.nA)
        self.okey_dtype = np.int32 if self.chunk * self.nA < 2**31 else np.int64
        self._setup_actions(model, seed, symmetry)
        self._setup_conjuncts()
        self.groups = {}
        self.cgroups = {}
        self.packing = None
        self.visited = FingerprintSet()
        # Per level, each state's link: parent index in the previous level * nA + action
        # (uint32 when it fits: 4 bytes per state).
        self.links = []
        self.stats = Stats()
        self.fired = np.zeros(self.nA, dtype=np.int64)
        self.verdicts = {}
        self.pending = [p.name for p in self.props]
        # Exact mode: every state's words (``stored``, by state id) and fingerprint -> id.
        self.index = FingerprintIndex() if exact else None
        # A subclass may take the search over at the first level whose frontier holds at
        # least ``handoff`` states: :meth:`_levels` then stops there and leaves ``handed`` =
        # (level, frontier pieces, frontier size) (the distributed driver,
        # :mod:`daxcheck.checker.distributed.bfs`).
        self.handoff, self.handed = None, None
        self.stored = None
        self.collisions_checked = 0
        # --- partial-order reduction (issue 11): a successor-set filter, see .por
        self.por = None
        if por:
            self.por = AmpleSets(
                model,
                self.props,
                [
                    None if a.reads == tuple(range(self.width)) else (a.reads, a.writes)
                    for a in self.infos
                ],
            )
        # --- end partial-order reduction

    def _setup_actions(self, model, seed, symmetry):
        """The Zobrist table(s) (one per symmetry element, identity first: ``Zs``, ``G``),
        each action's read/write footprint (``infos``), the model's action groups and the
        actions grouped by read set (``by_reads``)."""
        self.Z = zobrist_table(self.width, seed)
        self.infos = [
            ActionInfo(i, a, action_footprint(model, a), self.width)
            for i, a in enumerate(model.actions)
        ]
        # Symmetry: G fingerprints per state (one per group element, identity first).
        self.sym = Symmetry(self.L, symmetry) if symmetry else None
        if self.sym is not None and len(self.sym) == 1:
            self.sym = None
        self.Zs = self.Z[None] if self.sym is None else self.sym.zobrist(self.Z)
        self.G = self.Zs.shape[0]
        groups = getattr(model, "groups", None) or tuple((i,) for i in range(self.nA))
        self.model_groups = tuple(tuple(g) for g in groups)
        by_reads = {}
        for a in self.infos:
            by_reads.setdefault(a.reads, []).append(a)
        self.by_reads = by_reads

    def _setup_conjuncts(self):
        """Every property conjunct with its read set (``conjs``, grouped by read set in
        ``conj_reads``), per read set the actions that write into it
        (``conj_affected``), and with symmetry the candidate images of actions and
        conjuncts (``act_cand``, ``conj_cand``)."""
        self.conjs = []  # (property name, fn, read set)
        self.conj_reads = {}  # read set -> indices into self.conjs
        for p in self.props:
            for _, fn in p.conjuncts(self.L):
                rs = read_set(fn, self.L)
                rs = tuple(range(self.width)) if rs is None else rs
                self.conj_reads.setdefault(rs, []).append(len(self.conjs))
                self.conjs.append((p.name, fn, rs))
        self.conj_rowwise = [False] * len(self.conjs)
        # Per conjunct read set, which actions write a field of it.
        self.conj_affected = {
            r: np.array([not set(a.writes).isdisjoint(r) for a in self.infos], dtype=bool)
            for r in self.conj_reads
        }
        if self.sym is not None:
            self.act_cand = self.sym.candidates([(a.reads, a.writes) for a in self.infos])
            cc = self.sym.candidates([(r, ()) for _, _, r in self.conjs])
            self.conj_cand = [
                [{j for j in c if self.conjs[j][0] == self.conjs[i][0]} for i, c in enumerate(ck)]
                for ck in cc
            ]

    # ------------------------------------------------------------------ main loop
    def initial(self):
        """The initial level: sets the packing and ``init_rows`` (one state per orbit, in
        the model's order) and returns ``(words, fps (G, n), canonical fps)``.  (Shared with
        :mod:`daxcheck.checker.distributed`.)"""
        init = []
        for s in self.model.init_states():
            if s not in init:
                init.append(s)
        rows0 = np.frombuffer(b"".join(init), dtype=np.uint8).reshape(len(init), self.width)
        self.set_packing(Packing.for_values(np.maximum(rows0.max(axis=0), self._domain_max())))
        if self.sym is not None:
            self.sym.check_init(rows0)
        fps0 = fingerprints(self.Zs, rows0)
        canon = fps0.min(axis=0)
        first = np.sort(np.unique(canon, return_index=True)[1])  # one state per orbit
        rows0, fps0, canon = rows0[first], fps0[:, first], canon[first]
        self.init_rows = rows0
        return self.packing.pack_rows(rows0), fps0, canon

    def _start(self):
        """Level 0: the distinct initial states (one per orbit) stored, checked and
        returned as the first frontier ``([(words, fps)], count)``."""
        words0, fps0, canon = self.initial()
        rows0 = self.init_rows
        if not self.exact:
            self.visited.add(np.sort(canon))
        self.links.append(np.zeros(rows0.shape[0], dtype=np.uint32))
        if self.index is not None:
            self._store(words0, fps0)
        self.n_states = rows0.shape[0]
        self.record(self.check_states(words0), 0, fps0[0], 0)
        return [(words0, fps0)], rows0.shape[0]

    def run(self) -> CheckResult:
        """Explore breadth-first to the depth bound, or until every property is violated or
        a budget runs out."""
        level, complete, stopped = self._levels()
        if self.sym is not None:
            self._check_bijections()
        return self._result(level, complete, stopped, self.t0)

    def _levels(self):
        """The search loop of :meth:`run` (from ``self.t0``, set here): returns ``(level,
        complete, stopped)`` for :meth:`_result`; at a ``handoff`` it stops with
        ``handed`` set."""
        self.t0 = time.perf_counter()
        self.next_tick = self.t0 + self.progress_every
        level = 0
        mid = None  # a position inside a level to continue from (a resumed checkpoint)
        if self.resume is not None:
            level, *mid = self.resume.restore(self)
        else:
            frontier, frontier_n = self._start()
        complete = False
        stopped = None
        while self.pending:
            if mid is None:
                if frontier_n == 0:
                    complete = True
                    break
                if level >= self.depth:
                    break
                if self.handoff is not None and frontier_n >= self.handoff:
                    self.handed = (level, frontier, frontier_n)
                    break
                pos = self._begin_level(level, frontier, frontier_n)
                frontier = None
            else:
                pos, mid = mid, None
            queue, nxt, link_pieces, base, done, link_dtype = pos
            self.cur = link_pieces
            # base: position of the chunk in the frontier level; done: new states so far
            while queue:
                new, expanded, stopped = self._expand_chunk(
                    queue, nxt, link_pieces, level, base, done, link_dtype
                )
                done += new
                base += expanded
                if not self.pending or stopped:
                    break
                stopped = self._between_chunks(
                    level, queue, nxt, link_pieces, base, done, link_dtype
                )
                if stopped:
                    break
            self.links.append(concat_long_lived(link_pieces, link_dtype))
            self.cur = None
            release_free_memory()
            if stopped:
                break
            frontier = nxt.pieces()
            frontier_n = done
            level += 1  # also when every property is violated (the reference counts it)
        return level, complete, stopped

    def _begin_level(self, level, frontier, frontier_n):
        """The position at the start of ``level`` (``frontier``: its pieces, ``frontier_n``
        states): ``[queue, next frontier, link pieces, base, done, link dtype]``, saved
        when checkpointing."""
        queue = frontier
        nxt = Blocks(self.packing.nw, self.G, max(self.chunk, BLOCK))
        link_dtype = np.uint32 if frontier_n * self.nA < 2**32 else np.int64
        link_pieces, base, done = [], 0, 0
        if self.checkpoint is not None:
            self.checkpoint.save(self, level, queue, nxt, link_pieces, base, done, link_dtype)
        return [queue, nxt, link_pieces, base, done, link_dtype]

    def _expand_chunk(self, queue, nxt, link_pieces, level, base, done, link_dtype):
        """Expand the next chunk of ``queue`` (at position ``base`` of ``level``; ``done``
        new states so far): new states checked, counted, linked and added to ``nxt``.
        Returns ``(new states, frontier states expanded, stop reason or None)``."""
        budget = self.budget
        words, fps, (cfp, cok, ents, rows_by) = self.next_chunk(queue, [nxt])
        try:
            nok, nfp, fresh = self.dedupe(cfp, cok, words, ents)
        except Collision:
            raise FingerprintCollision(self.seed) from None
        del cfp, cok
        if fresh is not None:
            self.visited.add(fresh)
            del fresh
        parents = nok // self.nA
        acts = nok % self.nA
        nwords = self.build(words, parents, acts, ents)
        cut, stopped = None, None
        if budget.max_states is not None and self.n_states + nfp.shape[1] >= budget.max_states:
            cut = max(0, budget.max_states - self.n_states)
            stopped = f"max-states {budget.max_states} reached"
            nwords, nfp, parents, acts = (nwords[:, :cut], nfp[:, :cut], parents[:cut], acts[:cut])
        first = self.check_states(nwords, acts) if nfp.shape[1] else {}
        last = None  # last parent whose successors count (a stop mid-chunk)
        if first and len(first) == len(self.pending):
            # Every pending property is violated in this chunk: the reference stops
            # after the parent whose successors violated the last of them.
            last = int(parents[max(first.values())])
            keep = int(np.searchsorted(parents, last, side="right"))
            nwords, nfp, parents, acts = (
                nwords[:, :keep],
                nfp[:, :keep],
                parents[:keep],
                acts[:keep],
            )
        elif cut is not None:
            last = int(parents[-1]) if parents.size else -1
        for i, rows in rows_by.items():
            self.fired[i] += (
                rows.size if last is None else int(np.searchsorted(rows, last, side="right"))
            )
        link_pieces.append(
            ((parents.astype(np.int64) + base) * self.nA + acts).astype(link_dtype, copy=False)
        )
        if self.index is not None:
            self._store(nwords, nfp)
        if level + 1 < self.depth:  # the last level is checked, never expanded
            nxt.append(nwords, nfp)
        self.n_states += nfp.shape[1]
        if first:
            self.record(first, level + 1, nfp[0], done)
        return nfp.shape[1], fps.shape[1], stopped

    def _between_chunks(self, level, queue, nxt, link_pieces, base, done, link_dtype):
        """After a chunk: the time limit and Ctrl-C (the stop reason, else None), a due
        checkpoint, the progress callback."""
        budget = self.budget
        now = time.perf_counter()
        timeout = budget.time_limit is not None and now - self.t0 >= budget.time_limit
        if self.checkpoint is not None and (timeout or self.checkpoint.due(now)):
            self.checkpoint.save(self, level, queue, nxt, link_pieces, base, done, link_dtype)
        if timeout:
            return f"time limit {budget.time_limit:g}s reached"
        if budget.stopped():
            return budget.stopped()
        if self.progress is not None and now >= self.next_tick:
            self.stats.states, self.stats.depth = self.n_states, level
            self.stats.seconds = self.seconds_before + now - self.t0
            self.progress(self.stats)
            self.next_tick = now + self.progress_every
        return None

    # ------------------------------------------------------------------ verdicts
    def record(self, first, depth, nfp, offset):
        """Record violations: ``first[name]`` is the index (in this chunk's new states,
        which start at ``offset`` in the level) of the first state violating ``name``."""
        for name, j in sorted(first.items(), key=lambda x: x[1]):
            if name not in self.pending:
                continue
            p = next(p for p in self.props if p.name == name)
            trace = self._trace(depth, offset + j, nfp[j])
            self.found[name] = (depth, offset + j, nfp[j])
            items = p.failing_items(self.L, trace[-1][1])
            self.verdicts[name] = Verdict(
                name, VIOLATED, depth, trace=trace, items=[i for i in items if i is not None]
            )
        self.pending = [n for n in self.pending if n not in self.verdicts]

    def _trace(self, depth, idx, fp):
        """Rebuild the path to state ``idx`` of level ``depth`` by re-executing its actions
        from the initial state (reference semantics) and check it."""
        i, steps = self._path(depth, idx)
        s = bytes(self.init_rows[i])
        path = [(-1, s)]
        for a in steps:
            ns = self.model.actions[a].apply(self.model, s)
            if ns is None:
                raise ExploreError(
                    f"rebuilt counterexample: step {len(path)} "
                    f"({self.model.actions[a]!r}) is disabled"
                )
            path.append((a, ns))
            s = ns
        got = fingerprints(self.Z, np.frombuffer(s, dtype=np.uint8).reshape(1, -1))[0]
        if got != fp:
            raise ExploreError(
                "rebuilt counterexample does not reach the state found (fingerprint mismatch)"
            )
        return path

    def _path(self, depth, idx):
        """``(initial state index, action indices)`` of the path to state ``idx`` of level
        ``depth``, from the per-level links (overridden by the distributed explorer, whose
        links live in its workers)."""
        steps = []
        lvl, i = depth, idx
        while lvl > 0:
            links = self.links[lvl] if lvl < len(self.links) else np.concatenate(self.cur)
            i, a = divmod(int(links[i]), self.nA)
            steps.append(a)
            lvl -= 1
        steps.reverse()
        return i, steps

    def _result(self, level, complete, stopped, t0):
        st = self.stats
        st.states = self.n_states
        st.depth = level
        st.seconds = self.seconds_before + time.perf_counter() - t0
        st.stopped = stopped
        fired = [int(x) for x in self.fired]
        st.transitions = sum(fired)
        by_family = Counter()
        for i, c in enumerate(fired):
            by_family[self.model.actions[i].name] += c
        st.fired = dict(by_family)
        st.collision_probability = (
            None if self.exact else collision_probability(self.n_states, self.G)
        )
        st.symmetry = None if self.sym is None else self.sym.describe()
        st.por = None if self.por is None else self.por.describe()
        for name in self.pending:
            if stopped:
                self.verdicts[name] = Verdict(name, INCOMPLETE, level)
            else:
                self.verdicts[name] = Verdict(name, HOLDS, level, complete=complete)
        families = []
        for a in self.model.actions:
            if a.name not in families:
                families.append(a.name)
        never = [f for f in families if by_family.get(f, 0) == 0]
        ordered = {p.name: self.verdicts[p.name] for p in self.props}
        return CheckResult(self.model.design.name, self.model.bounds.as_dict(), ordered, st, never)


def explore_batched(
    model,
    props,
    depth=None,
    budget=None,
    progress=None,
    progress_every=0.25,
    *,
    exact=False,
    symmetry=False,
    checkpoint=None,
    por=False,
) -> CheckResult:
    """Run a :class:`BatchedExplorer`.  ``symmetry``: reduce by the index sets the design
    declares symmetric (``design.symmetric``), or by the given sets; when the check finds
    the symmetry does not hold the search is run again without it and the stats say why.
    In exact mode a detected fingerprint collision (probability about n²/2⁶⁵) reruns the
    search with another Zobrist table, so distinct states are never merged; raises
    ExploreError after 4 collisions in a row.  ``checkpoint``: a
    :class:`.checkpoint.CheckpointOptions` (save the run into its folder, or resume the run
    saved there; CheckpointError for an unusable or mismatched checkpoint).  ``por``:
    partial-order reduction (:mod:`.por`) for a race design."""
    budget = Budget() if budget is None else budget
    sets = None
    if symmetry:
        sets = tuple(getattr(model.design, "symmetric", ()) if symmetry is True else symmetry)
    broken = None
    seed, saver, resume = SEED, None, None
    if checkpoint is not None:
        saver, resume, seed, sets, broken = start_checkpoint(
            checkpoint, model, props, depth, exact, symmetry, seed, sets, broken
        )
    for attempt in range(4):
        try:
            if saver is not None:
                saver.run = {"seed": seed + attempt, "sets": sets, "broken": broken}
            r = BatchedExplorer(
                model,
                props,
                depth,
                budget,
                progress,
                progress_every,
                exact=exact,
                seed=seed + attempt,
                symmetry=sets,
                checkpoint=saver,
                resume=resume,
                por=por,
            ).run()
            if broken:
                r.stats.symmetry = f"off ({broken})"
            return r
        except FingerprintCollision:
            resume = None
            continue
        except SymmetryBroken as e:
            broken, sets, resume = str(e), None, None
    raise ExploreError("four fingerprint collisions in a row: the Zobrist tables are not random")
