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

from ..results import CheckResult, Stats, Verdict, HOLDS, VIOLATED, INCOMPLETE
from .batched import evaluate_action, evaluate_predicate, evaluate_rows, predicate_rows
from .fpset import FingerprintIndex, FingerprintSet
from .memory import grow, long_lived, release_free_memory
from .keytable import KeyTable
from .packing import Packing, repack
from .readset import read_set
from .symmetry import Symmetry, SymmetryBroken, has_perfect_matching
from .transitions import action_footprint

U64 = np.uint64
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
ROWWISE_BELOW = 24
"""Fewer new projections than this are evaluated row by row (the array backend's fixed
cost per vocabulary operation is larger than the reference ``apply`` on a few rows)."""
SEED = 0xDA7C4EC
BLOCK = 1 << 17
"""States per block of the next frontier."""


def default_chunk(n_actions: int) -> int:
    """Frontier states per chunk for a model of ``n_actions`` actions: about
    :data:`CHUNK_CANDIDATES` candidates (states x actions), within 1024..:data:`CHUNK`."""
    return max(1024, min(CHUNK, CHUNK_CANDIDATES // max(1, n_actions)))


class _Collision(Exception):
    """Exact mode: two distinct states share a fingerprint (the run restarts with another
    Zobrist seed)."""


class _Repack(Exception):
    """A transition produced a value wider than its packed column."""

    def __init__(self, maxvals):
        self.maxvals = maxvals


class FingerprintCollision(RuntimeError):
    """Exact mode found two distinct states with the same 64-bit fingerprint under the
    Zobrist table of ``seed``; :func:`explore_batched` reruns with another seed."""

    def __init__(self, seed):
        super().__init__(f"fingerprint collision under seed {seed:#x}")
        self.seed = seed


class ExploreError(RuntimeError):
    """An internal inconsistency of the batched explorer (a rebuilt counterexample that
    does not reproduce); never a verdict."""


def zobrist_table(width: int, seed: int = SEED) -> np.ndarray:
    """``(width, 256)`` random uint64: the fingerprint of a state is the XOR of
    ``Z[c, s[c]]`` over its fields ``c``."""
    return np.random.default_rng(seed).integers(0, 2**64, size=(width, 256), dtype=U64,
                                                endpoint=False)


def fingerprints(Z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Fingerprints of ``(n, width)`` uint8 rows: ``(n,)`` for a ``(width, 256)`` table,
    ``(G, n)`` for a stack of ``G`` tables (one per symmetry element)."""
    out = np.zeros(Z.shape[:-2] + (rows.shape[0],), dtype=U64)
    for c in range(rows.shape[1]):
        out ^= Z[..., c, :][..., rows[:, c]]
    return out


class _ActionInfo:
    """Static facts of one action: read set R (all columns if the taint analysis could
    not follow it), write set W, W\\R, and the batched/row-wise evaluation mode."""

    __slots__ = ("index", "action", "reads", "writes", "wnr", "rowwise")

    def __init__(self, index, action, fp, width):
        self.index, self.action = index, action
        if fp is None:
            self.reads = self.writes = tuple(range(width))
        else:
            self.reads, self.writes = fp
        rs = set(self.reads)
        self.wnr = tuple(c for c in self.writes if c not in rs)
        self.rowwise = False


class _Memo:
    """What :class:`_Group` and :class:`_ConjGroup` share: a key table ``table`` and
    arrays whose last axis is the table's entry id (:meth:`arrays`)."""

    def arrays(self) -> list:
        raise NotImplementedError

    def entries(self, lo: int, hi: int) -> list:
        """What the arrays record for entries ``lo..hi-1`` (views)."""
        return [a[..., lo:hi] for a in self.arrays()]

    def put(self, keys, rows: np.ndarray, values: list) -> None:
        """Add the keys ``rows`` of ``keys`` (absent from the table, pairwise distinct)
        with what :meth:`entries` of another memo on the same read set gave for them."""
        n0 = len(self.table)
        self.grow(n0 + rows.size)
        for a, v in zip(self.arrays(), values):
            a[..., n0:n0 + rows.size] = v[..., rows]
        self.table.add(keys, rows)

    @property
    def nbytes(self) -> int:
        """Bytes of the key table and of what it records per entry."""
        return self.table.nbytes + sum(a.nbytes for a in self.arrays())


class _Group(_Memo):
    """One key table (a distinct read set) with, per entry, what each of its actions
    does: ``en[i]`` enabled, ``dz[i]`` fingerprint change (one row per symmetry element),
    ``wp[i]`` the packed values per written word."""

    def __init__(self, packing, reads, infos, G=1):
        self.table = KeyTable(packing, reads)
        self.infos = infos
        self.cap = 0
        self.en = {}
        self.dz = {}
        self.wp = {}
        self.clear = {}
        for a in infos:
            masks = packing.word_masks(a.writes)
            self.clear[a.index] = tuple((w, U64(~m & (2**64 - 1))) for w, m in sorted(masks.items()))
            self.wp[a.index] = np.zeros((len(masks), 0), dtype=U64)
            self.en[a.index] = np.zeros(0, dtype=bool)
            self.dz[a.index] = np.zeros((G, 0), dtype=U64)

    def grow(self, need):
        if need <= self.cap:
            return
        cap = max(need, self.cap * 3 // 2, 256)
        for i in self.en:
            self.en[i] = grow(self.en[i], cap)
            self.dz[i] = grow(self.dz[i], cap)
            self.wp[i] = grow(self.wp[i], cap)
        self.cap = cap

    def arrays(self):
        return [x for i in sorted(self.en) for x in (self.en[i], self.dz[i], self.wp[i])]


class _ConjGroup(_Memo):
    """One key table for the conjuncts sharing a read set; ``ok[j]`` per entry of the
    ``j``-th conjunct of ``conjs`` (indices into the explorer's conjunct list)."""

    def __init__(self, packing, reads, conjs):
        self.table = KeyTable(packing, reads)
        self.conjs = conjs
        self.ok = [np.zeros(0, dtype=bool) for _ in conjs]

    def grow(self, need):
        for j, a in enumerate(self.ok):
            if need > a.shape[0]:
                self.ok[j] = grow(a, max(need, a.shape[0] * 3 // 2, 256))

    def arrays(self):
        return self.ok


class BatchedExplorer:
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

    def __init__(self, model, props, depth, budget, progress=None, progress_every=0.25,
                 exact=False, chunk=None, seed=SEED, symmetry=None, checkpoint=None,
                 resume=None, por=False):
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
        self.Z = zobrist_table(self.width, seed)
        self.infos = [_ActionInfo(i, a, action_footprint(model, a), self.width)
                      for i, a in enumerate(model.actions)]
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
        self.conjs = []             # (property name, fn, read set)
        self.conj_reads = {}        # read set -> indices into self.conjs
        for p in self.props:
            for _, fn in p.conjuncts(self.L):
                rs = read_set(fn, self.L)
                rs = tuple(range(self.width)) if rs is None else rs
                self.conj_reads.setdefault(rs, []).append(len(self.conjs))
                self.conjs.append((p.name, fn, rs))
        self.conj_rowwise = [False] * len(self.conjs)
        # Per conjunct read set, which actions write a field of it.
        self.conj_affected = {r: np.array([not set(a.writes).isdisjoint(r) for a in self.infos],
                                          dtype=bool) for r in self.conj_reads}
        if self.sym is not None:
            self.act_cand = self.sym.candidates([(a.reads, a.writes) for a in self.infos])
            cc = self.sym.candidates([(r, ()) for _, _, r in self.conjs])
            self.conj_cand = [[{j for j in c if self.conjs[j][0] == self.conjs[i][0]}
                               for i, c in enumerate(ck)] for ck in cc]
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
            from .por import AmpleSets
            self.por = AmpleSets(model, self.props,
                                 [None if a.reads == tuple(range(self.width)) else
                                  (a.reads, a.writes) for a in self.infos])
        # --- end partial-order reduction

    # ------------------------------------------------------------------ packing
    def _set_packing(self, packing):
        self.packing = packing
        self.groups.clear()
        self.cgroups.clear()

    def _domain_max(self) -> np.ndarray:
        """Per column, the largest value the layout declares it can hold, where the spec
        offers a declaration (``spec.state.field_domain``); 0 elsewhere.  Only a first
        guess for the packed widths: a wider value repacks."""
        out = np.zeros(self.width, dtype=np.int64)
        try:
            from daxcheck.spec.state import field_domain
        except ImportError:  # pragma: no cover - a spec without declared domains
            return out
        for c in range(self.width):
            try:
                out[c] = max(field_domain(self.L, c))
            except Exception:  # an undeclared (e.g. user ghost) field, a toy layout
                pass
        return np.minimum(out, 255)

    def _field_columns(self):
        """Column groups that share a field (from ``L.fields`` when the layout has it)."""
        out = []
        for f in getattr(self.L, "fields", ()):
            try:
                out.append(tuple(f[5]))
            except (IndexError, TypeError):
                pass
        return out

    def _repack_all(self, maxvals, pieces_lists):
        caps = self.packing.cap
        maxvals = np.maximum(caps, maxvals)
        for cols in self._field_columns():   # widen every element of a field together
            cols = list(cols)
            maxvals[cols] = maxvals[cols].max()
        new = self.packing.widened(maxvals)
        if new is None:  # pragma: no cover - a _Repack always carries a wider value
            raise ExploreError("repack requested without a wider value")
        old = self.packing
        for pieces in pieces_lists:
            for j, (w, f) in enumerate(pieces):
                pieces[j] = (repack(w, old, new), f)
        if self.stored is not None:
            self.stored = repack(self.stored, old, new)
        self._set_packing(new)

    def _group(self, reads):
        g = self.groups.get(reads)
        if g is None:
            g = self.groups[reads] = _Group(self.packing, reads, self.by_reads[reads], self.G)
        return g

    def _cgroup(self, reads):
        g = self.cgroups.get(reads)
        if g is None:
            g = self.cgroups[reads] = _ConjGroup(self.packing, reads, self.conj_reads[reads])
        return g

    # ------------------------------------------------------------------ memo sharing
    def table_marks(self) -> dict:
        """Where each key table stands now: ``{(kind, reads): (table, entries)}`` ("a":
        actions, "c": property conjuncts), for :meth:`table_delta`."""
        return {key: (g.table, len(g.table)) for key, g in self._memos()}

    def _memos(self):
        """Every key table with its kind ("a": actions, "c": property conjuncts)."""
        for kind, gs in (("a", self.groups), ("c", self.cgroups)):
            for reads, g in gs.items():
                yield (kind, reads), g

    def table_delta(self, marks: dict):
        """The key-table entries evaluated since ``marks`` (:meth:`table_marks`; a table
        replaced by a repack since: all its entries), to give another explorer of the same
        model (:meth:`merge_tables`): ``(packing bits, {(kind, reads): (keys, values)})``
        with the keys as :meth:`.keytable.KeyTable.export` gives them and ``values`` as
        ``_Memo.entries`` does: lists of arrays (per action of the table: enabled,
        fingerprint change, packed written words; per conjunct its value).  Used by the
        distributed workers (:mod:`daxcheck.checker.distributed.bfs`) so that a projection
        evaluated by one worker is not evaluated again by another in a later level."""
        out = {}
        for key, g in self._memos():
            t, n = marks.get(key, (None, 0))
            lo = n if t is g.table else 0
            if len(g.table) > lo:
                out[key] = (g.table.export(lo), g.entries(lo, len(g.table)))
        return self.packing.bits, out

    def table_bytes(self) -> int:
        """Bytes of the key tables and of what they record per entry."""
        return sum(g.nbytes for _, g in self._memos())

    def merge_tables(self, delta) -> int:
        """Add the entries of ``delta`` (another explorer's :meth:`table_delta`) that the
        key tables do not hold yet; nothing when it was taken under another packing (the
        keys would not match).  Returns the number of entries added."""
        bits, tables = delta
        if bits != self.packing.bits:
            return 0
        added = 0
        for (kind, reads), (exported, values) in tables.items():
            g = self._group(reads) if kind == "a" else self._cgroup(reads)
            keys = g.table.keys_of(exported)
            rows = np.flatnonzero(g.table.lookup(keys) < 0)
            if rows.size:
                g.put(keys, rows, values)
                added += rows.size
        return added

    # ------------------------------------------------------------------ memo fill
    def _entries(self, g, words, fill):
        """Entry id of every state of the chunk ``words`` in key table ``g.table``,
        evaluating the projections never seen with ``fill(g, rows)``."""
        t = g.table
        keys = t.keys(words)
        ent = t.lookup(keys)
        while True:
            miss = np.flatnonzero(ent < 0)
            if miss.size == 0:
                return ent
            reps = t.distinct(keys, miss)
            rows = self.packing.unpack_rows(words[:, reps])
            fill(g, rows, len(t))   # may raise _Repack before anything is added
            t.add(keys, reps)
            ent[miss] = t.lookup(t.take(keys, miss))

    def _fill_actions(self, g, rows, base):
        k = rows.shape[0]
        results = []
        maxvals = None
        for a in g.infos:
            en, vals = self._evaluate(a, rows)
            if vals.size:
                bad = (vals < 0) | (vals > 255)
                if (bad & en).any():
                    # The reference would fail storing such a value: let it say so.
                    evaluate_rows(self.model, a.action, rows[(bad & en).any(axis=0)], a.writes)
                    raise ExploreError(f"{a.action!r}: array backend produced a value outside "
                                       f"0..255 that the reference accepts")
                vals = np.where(en, vals, 0)
                cap = self.packing.cap[list(a.writes)]
                over = vals.max(axis=1) > cap
                if over.any():
                    if maxvals is None:
                        maxvals = np.zeros(self.width, dtype=np.int64)
                    for c, v in zip(a.writes, vals.max(axis=1)):
                        maxvals[c] = max(maxvals[c], int(v))
            results.append((a, en, vals))
        if maxvals is not None:
            raise _Repack(maxvals)
        if self.sym is not None:
            self._check_actions(rows, results)
        g.grow(base + k)
        Zs = self.Zs
        for a, en, vals in results:
            i = a.index
            g.en[i][base:base + k] = en
            dz = np.zeros((self.G, k), dtype=U64)
            rs = set(a.reads)
            for j, c in enumerate(a.writes):
                dz ^= Zs[:, c, :][:, vals[j]]
                if c in rs:
                    dz ^= Zs[:, c, :][:, rows[:, c]]
            g.dz[i][:, base:base + k] = np.where(en, dz, U64(0))
            packed = self.packing.pack_values(a.writes, vals)
            for j, (w, _) in enumerate(g.clear[i]):
                g.wp[i][j, base:base + k] = packed[w]

    def _evaluate(self, a, rows):
        if not a.rowwise and rows.shape[0] >= ROWWISE_BELOW:
            try:
                return evaluate_action(self.model, a.action, rows, a.writes)
            except Exception:   # outside the array backend: the reference path decides
                a.rowwise = True
        return evaluate_rows(self.model, a.action, rows, a.writes)

    def _predicate(self, ci, rows):
        """Conjunct ``ci`` on ``rows`` (array backend, else row by row)."""
        fn = self.conjs[ci][1]
        if not self.conj_rowwise[ci] and rows.shape[0] >= ROWWISE_BELOW:
            try:
                return evaluate_predicate(fn, self.L, rows)
            except Exception:   # outside the array backend: the reference path decides
                self.conj_rowwise[ci] = True
        return predicate_rows(fn, self.L, rows)

    def _fill_conjs(self, g, rows, base):
        k = rows.shape[0]
        results = [self._predicate(ci, rows) for ci in g.conjs]
        if self.sym is not None:
            self._check_conjuncts(rows, g.conjs, results)
        g.grow(base + k)
        for j, r in enumerate(results):
            g.ok[j][base:base + k] = r

    # ------------------------------------------------------------------ symmetry checks
    def _check_actions(self, rows, results):
        """Drop, per group element, the candidate images of each evaluated action that do
        not map its results on ``rows`` (see :mod:`.symmetry`)."""
        sym = self.sym
        for k in range(1, self.G):
            img = sym.image(rows, k)
            for a, en, vals in results:
                cand = self.act_cand[k][a.index]
                for b in list(cand):
                    bi = self.infos[b]
                    en_b, vals_b = self._evaluate(bi, img)
                    if not sym.check_results(k, a.writes, en, vals, bi.writes, en_b, vals_b):
                        cand.discard(b)
                if not cand:
                    raise SymmetryBroken(f"{_describe(a.action)} has no image under "
                                         f"{sym.name(k)}")

    def _check_conjuncts(self, rows, conjs, results):
        """Drop the candidate images of each evaluated conjunct that disagree with it on
        the images of ``rows``."""
        sym = self.sym
        for k in range(1, self.G):
            img = sym.image(rows, k)
            for ci, r in zip(conjs, results):
                cand = self.conj_cand[k][ci]
                for cj in list(cand):
                    if not np.array_equal(self._predicate(cj, img), r):
                        cand.discard(cj)
                if not cand:
                    raise SymmetryBroken(f"property {self.conjs[ci][0]} is not invariant under "
                                         f"{sym.name(k)}")

    def _check_bijections(self):
        """At the end: the surviving candidates must contain a bijection of the actions and,
        per property, of its conjuncts, for every group element."""
        by_prop = {}
        for i, (name, _, _) in enumerate(self.conjs):
            by_prop.setdefault(name, []).append(i)
        for k in range(1, self.G):
            if not has_perfect_matching(self.act_cand[k]):
                raise SymmetryBroken(f"the actions are not permuted by {self.sym.name(k)}")
            for name, idx in by_prop.items():
                pos = {ci: j for j, ci in enumerate(idx)}
                rel = [{pos[c] for c in self.conj_cand[k][ci]} for ci in idx]
                if not has_perfect_matching(rel):
                    raise SymmetryBroken(f"property {name} is not invariant under "
                                         f"{self.sym.name(k)}")

    # ------------------------------------------------------------------ properties
    def _check(self, words, acts=None):
        """Per pending property, the index of the first state of ``words`` violating it.

        With ``acts`` (the action that produced each state), a conjunct is evaluated only
        on the states whose action writes a field it reads: on the others it has its
        parent's value, and every parent satisfies every pending property (as in the
        reference explorer)."""
        first = {}
        pend = set(self.pending)
        for reads, conjs in self.conj_reads.items():
            if not any(self.conjs[ci][0] in pend for ci in conjs):
                continue
            rows = None
            if acts is not None:
                touched = self.conj_affected[reads][acts]
                if not touched.any():
                    continue
                if not touched.all():
                    rows = np.flatnonzero(touched)
            g = self._cgroup(reads)
            ent = self._entries(g, words if rows is None else words[:, rows], self._fill_conjs)
            for j, ci in enumerate(g.conjs):
                name = self.conjs[ci][0]
                if name not in pend:
                    continue
                nz = np.flatnonzero(~g.ok[j][ent])
                if nz.size:
                    at = int(nz[0] if rows is None else rows[nz[0]])
                    first[name] = min(first.get(name, at), at)
        return first

    # ------------------------------------------------------------------ chunks
    def _take_chunk(self, queue):
        """Remove about ``self.chunk`` states from the front of ``queue`` (a list of
        (words, fps) pieces) and return them as one piece; only a chunk is ever copied,
        and consumed pieces are released as the level goes."""
        buf, n = [], 0
        while queue and n < self.chunk:
            w, f = queue[0]
            take = self.chunk - n
            if f.shape[1] <= take:
                buf.append(queue.pop(0))
                n += f.shape[1]
            else:
                buf.append((w[:, :take], f[:, :take]))
                queue[0] = (w[:, take:], f[:, take:])
                n += take
        return _join(buf)

    def _next_chunk(self, queue, pieces_lists):
        """Take the next chunk of ``queue`` (:meth:`_take_chunk`) and compute its candidates
        (:meth:`_successors`); when a value outgrows its packed column, the chunk, ``queue``
        and every list of (words, fps) pieces in ``pieces_lists`` are repacked and the chunk
        is retried.  Returns ``(words, fps, (fps, okeys, ents, rows per action))``."""
        words, fps = self._take_chunk(queue)
        while True:
            try:
                return words, fps, self._successors(words, fps)
            except _Repack as r:
                holder = [(words, fps)]
                self._repack_all(r.maxvals, [holder, queue, *pieces_lists])
                words, fps = holder[0]

    def _successors(self, words, fps):
        """Candidates of a chunk: ``(fps, okeys, ents, rows per action)`` where okey =
        parent position * nA + action (BFS order) and ``fps`` is ``(G, M)``: the
        fingerprints of each candidate's images."""
        ents = {}
        for reads in self.by_reads:
            g = self._group(reads)
            ents[reads] = self._entries(g, words, self._fill_actions)
        cf, co, rows_by = [], [], {}
        pk = self.packing
        chosen = None   # partial-order reduction: per parent, its ample action or -1
        if self.por is not None and self.por.active:
            chosen = self.por.choose_rows(
                pk.unpack_rows(words),
                lambda i: self.groups[self.infos[i].reads].en[i][ents[self.infos[i].reads]])
        for mg in self.model_groups:
            first = None
            for i in mg:
                a = self.infos[i]
                g = self.groups[a.reads]
                e_all = ents[a.reads]
                en = g.en[i][e_all]
                if first is None:
                    first = en
                else:
                    en = en & first
                if chosen is not None:
                    en = en & ((chosen < 0) | (chosen == i))
                rows = np.flatnonzero(en)
                rows_by[i] = rows
                if rows.size == 0:
                    continue
                f = fps[:, rows] ^ g.dz[i][:, e_all[rows]]
                if a.wnr:
                    by_word = {}
                    for c in a.wnr:
                        by_word.setdefault(pk.word[c], []).append(c)
                    for w, cs in by_word.items():
                        x = words[w][rows]
                        for c in cs:
                            v = ((x >> U64(pk.shift[c])) & U64(int(pk.cap[c]))).astype(np.intp)
                            f ^= self.Zs[:, c, :][:, v]
                cf.append(f)
                co.append(rows.astype(self.okey_dtype) * self.nA + i)
        if not cf:
            return np.zeros((self.G, 0), U64), np.zeros(0, self.okey_dtype), ents, rows_by
        return np.concatenate(cf, axis=1), np.concatenate(co), ents, rows_by

    def _dedupe(self, call, cok, words, ents, order=False):
        """New states among the candidates: ``(okeys, fps, fresh)``: okeys in BFS order,
        ``fps`` ``(G, n)`` in that order, each the first occurrence of its canonical
        fingerprint (the smallest of its images'), none in the visited set; ``fresh`` their
        canonical fingerprints sorted, for the caller to add to the visited set once the
        candidate arrays are released (None in exact mode).  In exact mode every fingerprint
        match is checked on the states' words (raises _Collision).  ``order`` (without
        symmetry): also the permutation ``o`` with ``fps[0] == fresh[o]`` (the distributed
        workers send fingerprints sorted)."""
        M = cok.shape[0]
        if M == 0:
            none = (np.zeros(0, self.okey_dtype), np.zeros((self.G, 0), U64), None)
            return none + (np.zeros(0, np.intp),) if order else none
        cfp = call[0] if self.G == 1 else call.min(axis=0)
        k = max(1, (M - 1).bit_length())
        low = U64((1 << k) - 1)
        comb = (cfp & ~low) | np.arange(M, dtype=U64)
        comb.sort()
        pos = (comb & low).astype(np.int64)
        full, oks = cfp[pos], cok[pos]
        hi = comb >> U64(k)
        start = np.ones(M, dtype=bool)
        start[1:] = hi[1:] != hi[:-1]
        mixed = np.flatnonzero(~start[1:] & (full[1:] != full[:-1]))
        if mixed.size == 0:
            st = np.flatnonzero(start)
            rfp, rok = full[st], np.minimum.reduceat(oks, st)
        else:
            run = np.cumsum(start) - 1
            bad = np.isin(run, run[mixed + 1])
            good = ~bad
            st = np.flatnonzero(start & good)
            gfull, goks = full[good], oks[good]
            gst = np.flatnonzero(start[good])
            rfp1, rok1 = gfull[gst], np.minimum.reduceat(goks, gst) if gst.size else goks[:0]
            bf, bo = full[bad], oks[bad]
            o = np.lexsort((bo, bf))
            bf, bo = bf[o], bo[o]
            f1 = np.ones(bf.shape[0], dtype=bool)
            f1[1:] = bf[1:] != bf[:-1]
            rfp = np.concatenate((rfp1, bf[f1]))
            rok = np.concatenate((rok1, bo[f1]))
            o = np.argsort(rfp, kind="stable")
            rfp, rok = rfp[o], rok[o]
        if self.exact:
            self._verify_chunk(cfp, cok, words, ents)
            ids = self.index.find(rfp)
            new = ids < 0
            seen = np.flatnonzero(~new)
            if seen.size:
                mine = self._build(words, rok[seen] // self.nA, rok[seen] % self.nA, ents)
                if not self._same(mine, self._stored_words(ids[seen])).all():
                    raise _Collision()
        else:
            new = ~self.visited.contains(rfp)
        nfp, nok = rfp[new], rok[new]
        fresh = None if self.exact else nfp   # sorted: for the visited set
        if self.G == 1:
            o = _key_order(nok, words.shape[1] * self.nA)
            return (nok[o], nfp[o][None], fresh) + ((o,) if order else ())
        nok = nok[_key_order(nok, words.shape[1] * self.nA)]
        return nok, call[:, _positions(cok, nok)], fresh

    # ------------------------------------------------------------------ exact mode
    def _verify_chunk(self, cfp, cok, words, ents):
        """Every two candidates of the chunk with the same fingerprint are the same state."""
        o = np.argsort(cfp, kind="stable")
        f = cfp[o]
        dup = np.flatnonzero(f[1:] == f[:-1])
        if dup.size == 0:
            return
        a, b = cok[o[dup]], cok[o[dup + 1]]
        wa = self._build(words, a // self.nA, a % self.nA, ents)
        wb = self._build(words, b // self.nA, b % self.nA, ents)
        if not self._same(wa, wb).all():
            raise _Collision()

    def _same(self, wa, wb):
        """Per column pair: the states are equal, or with symmetry in the same orbit."""
        eq = (wa == wb).all(axis=0)
        if self.G == 1 or eq.all():
            return eq
        rows = self.packing.unpack_rows(wa[:, ~eq])
        orbit = np.zeros(rows.shape[0], dtype=bool)
        for k in range(1, self.G):
            orbit |= (self.packing.pack_rows(self.sym.image(rows, k)) == wb[:, ~eq]).all(axis=0)
        eq[~eq] = orbit
        return eq

    def _store(self, nwords, nfp):
        """Keep the words of new states (ids in discovery order) and index their
        canonical fingerprints."""
        n = nfp.shape[1]
        nfp = nfp[0] if self.G == 1 else nfp.min(axis=0)
        if self.stored is None:
            self.stored = long_lived((self.packing.nw, max(n, 1024)), U64)
            self.n_stored = 0
        if self.n_stored + n > self.stored.shape[1]:
            self.stored = grow(self.stored, max(self.n_stored + n, self.stored.shape[1] * 3 // 2))
        self.stored[:, self.n_stored:self.n_stored + n] = nwords
        self.index.add(nfp, np.arange(self.n_stored, self.n_stored + n))
        self.n_stored += n

    def _stored_words(self, ids):
        return self.stored[:, ids]

    # ------------------------------------------------------------------ main loop
    def _initial(self):
        """The initial level: sets the packing and ``init_rows`` (one state per orbit, in
        the model's order) and returns ``(words, fps (G, n), canonical fps)``.  (Shared with
        :mod:`daxcheck.checker.distributed`.)"""
        init = []
        for s in self.model.init_states():
            if s not in init:
                init.append(s)
        rows0 = np.frombuffer(b"".join(init), dtype=np.uint8).reshape(len(init), self.width)
        self._set_packing(Packing.for_values(np.maximum(rows0.max(axis=0),
                                                        self._domain_max())))
        if self.sym is not None:
            self.sym.check_init(rows0)
        fps0 = fingerprints(self.Zs, rows0)
        canon = fps0.min(axis=0)
        first = np.sort(np.unique(canon, return_index=True)[1])   # one state per orbit
        rows0, fps0, canon = rows0[first], fps0[:, first], canon[first]
        self.init_rows = rows0
        return self.packing.pack_rows(rows0), fps0, canon

    def _start(self):
        """Level 0: the distinct initial states (one per orbit) stored, checked and
        returned as the first frontier ``([(words, fps)], count)``."""
        words0, fps0, canon = self._initial()
        rows0 = self.init_rows
        if not self.exact:
            self.visited.add(np.sort(canon))
        self.links.append(np.zeros(rows0.shape[0], dtype=np.uint32))
        if self.index is not None:
            self._store(words0, fps0)
        self.n_states = rows0.shape[0]
        self._record(self._check(words0), 0, fps0[0], 0)
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
        t0 = self.t0 = time.perf_counter()
        next_tick = t0 + self.progress_every
        level = 0
        mid = None    # a position inside a level to continue from (a resumed checkpoint)
        if self.resume is not None:
            level, *mid = self.resume.restore(self)
        else:
            frontier, frontier_n = self._start()
        complete = False
        budget = self.budget
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
                queue, frontier = frontier, None
                nxt = _Blocks(self.packing.nw, self.G, max(self.chunk, BLOCK))
                link_dtype = np.uint32 if frontier_n * self.nA < 2**32 else np.int64
                link_pieces, base, done = [], 0, 0
                if self.checkpoint is not None:
                    self.checkpoint.save(self, level, queue, nxt, link_pieces, base, done,
                                         link_dtype)
            else:
                queue, nxt, link_pieces, base, done, link_dtype = mid
                mid = None
            self.cur = link_pieces
            # base: position of the chunk in the frontier level; done: new states so far
            while queue:
                words, fps, (cfp, cok, ents, rows_by) = self._next_chunk(queue, [nxt])
                try:
                    nok, nfp, fresh = self._dedupe(cfp, cok, words, ents)
                except _Collision:
                    raise FingerprintCollision(self.seed) from None
                del cfp, cok
                if fresh is not None:
                    self.visited.add(fresh)
                    del fresh
                parents = nok // self.nA
                acts = nok % self.nA
                nwords = self._build(words, parents, acts, ents)
                cut = None
                if budget.max_states is not None and \
                        self.n_states + nfp.shape[1] >= budget.max_states:
                    cut = max(0, budget.max_states - self.n_states)
                    stopped = f"max-states {budget.max_states} reached"
                    nwords, nfp, parents, acts = (nwords[:, :cut], nfp[:, :cut],
                                                  parents[:cut], acts[:cut])
                first = self._check(nwords, acts) if nfp.shape[1] else {}
                last = None   # last parent whose successors count (a stop mid-chunk)
                if first and len(first) == len(self.pending):
                    # Every pending property is violated in this chunk: the reference stops
                    # after the parent whose successors violated the last of them.
                    last = int(parents[max(first.values())])
                    keep = int(np.searchsorted(parents, last, side="right"))
                    nwords, nfp, parents, acts = (nwords[:, :keep], nfp[:, :keep],
                                                  parents[:keep], acts[:keep])
                elif cut is not None:
                    last = int(parents[-1]) if parents.size else -1
                for i, rows in rows_by.items():
                    self.fired[i] += rows.size if last is None else int(
                        np.searchsorted(rows, last, side="right"))
                link_pieces.append(((parents.astype(np.int64) + base) * self.nA + acts)
                                   .astype(link_dtype, copy=False))
                if self.index is not None:
                    self._store(nwords, nfp)
                if level + 1 < self.depth:   # the last level is checked, never expanded
                    nxt.append(nwords, nfp)
                self.n_states += nfp.shape[1]
                if first:
                    self._record(first, level + 1, nfp[0], done)
                done += nfp.shape[1]
                base += fps.shape[1]

                if not self.pending or stopped:
                    break
                now = time.perf_counter()
                timeout = budget.time_limit is not None and now - t0 >= budget.time_limit
                if self.checkpoint is not None and (timeout or self.checkpoint.due(now)):
                    self.checkpoint.save(self, level, queue, nxt, link_pieces, base, done,
                                         link_dtype)
                if timeout:
                    stopped = f"time limit {budget.time_limit:g}s reached"
                    break
                if budget.stopped():
                    stopped = budget.stopped()
                    break
                if self.progress is not None and now >= next_tick:
                    self.stats.states, self.stats.depth = self.n_states, level
                    self.stats.seconds = self.seconds_before + now - t0
                    self.progress(self.stats)
                    next_tick = now + self.progress_every
            self.links.append(_cat(link_pieces, link_dtype))
            self.cur = None
            release_free_memory()
            if stopped:
                break
            frontier = nxt.pieces()
            frontier_n = done
            level += 1   # also when every property is violated (the reference counts it)
        return level, complete, stopped

    def _build(self, words, parents, acts, ents, groups=None, entry=None):
        """The words of the new states: each parent's words patched on its action's W.
        ``ents``: per read set, the key-table entry of every row of ``words``; or
        ``entry``: the entry of each new state's parent in its action's table (the
        distributed workers keep these, :mod:`daxcheck.checker.distributed.bfs`);
        ``groups``: the key tables they index (default: the current ones)."""
        groups = self.groups if groups is None else groups
        nw = words[:, parents]
        if parents.size == 0:
            return nw
        order = np.argsort(acts, kind="stable")
        sa = acts[order]
        cuts = np.flatnonzero(np.diff(sa)) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [sa.shape[0]]))
        for lo, hi in zip(starts, ends):
            i = int(sa[lo])
            sel = order[lo:hi]
            a = self.infos[i]
            g = groups[a.reads]
            e = ents[a.reads][parents[sel]] if entry is None else entry[sel]
            for j, (w, clr) in enumerate(g.clear[i]):
                nw[w, sel] = (nw[w, sel] & clr) | g.wp[i][j, e]
        return nw

    # ------------------------------------------------------------------ verdicts
    def _record(self, first, depth, nfp, offset):
        """Record violations: ``first[name]`` is the index (in this chunk's new states,
        which start at ``offset`` in the level) of the first state violating ``name``."""
        for name, j in sorted(first.items(), key=lambda x: x[1]):
            if name not in self.pending:
                continue
            p = next(p for p in self.props if p.name == name)
            trace = self._trace(depth, offset + j, nfp[j])
            self.found[name] = (depth, offset + j, nfp[j])
            items = p.failing_items(self.L, trace[-1][1])
            self.verdicts[name] = Verdict(name, VIOLATED, depth, trace=trace,
                                          items=[i for i in items if i is not None])
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
                raise ExploreError(f"rebuilt counterexample: step {len(path)} "
                                   f"({self.model.actions[a]!r}) is disabled")
            path.append((a, ns))
            s = ns
        got = fingerprints(self.Z, np.frombuffer(s, dtype=np.uint8).reshape(1, -1))[0]
        if got != fp:
            raise ExploreError("rebuilt counterexample does not reach the state found "
                               "(fingerprint mismatch)")
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
        st.collision_probability = None if self.exact else collision_probability(
            self.n_states, self.G)
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
        return CheckResult(self.model.design.name, self.model.bounds.as_dict(), ordered, st,
                           never)


def explore_batched(model, props, depth=None, budget=None, progress=None, progress_every=0.25,
                    exact=False, symmetry=False, checkpoint=None, por=False) -> CheckResult:
    """Run a :class:`BatchedExplorer`.  ``symmetry``: reduce by the index sets the design
    declares symmetric (``design.symmetric``), or by the given sets; when the check finds
    the symmetry does not hold the search is run again without it and the stats say why.
    In exact mode a detected fingerprint collision (probability about n²/2⁶⁵) reruns the
    search with another Zobrist table, so distinct states are never merged; raises
    ExploreError after 4 collisions in a row.  ``checkpoint``: a
    :class:`.checkpoint.CheckpointOptions` (save the run into its folder, or resume the run
    saved there; CheckpointError for an unusable or mismatched checkpoint).  ``por``:
    partial-order reduction (:mod:`.por`) for a race design."""
    from .explore import Budget
    budget = Budget() if budget is None else budget
    sets = None
    if symmetry:
        sets = tuple(getattr(model.design, "symmetric", ()) if symmetry is True else symmetry)
    broken = None
    seed, saver, resume = SEED, None, None
    if checkpoint is not None:
        from .checkpoint import start
        saver, resume, seed, sets, broken = start(checkpoint, model, props, depth, exact,
                                                  symmetry, seed, sets, broken)
    for attempt in range(4):
        try:
            if saver is not None:
                saver.run = {"seed": seed + attempt, "sets": sets, "broken": broken}
            r = BatchedExplorer(model, props, depth, budget, progress, progress_every,
                                exact=exact, seed=seed + attempt, symmetry=sets,
                                checkpoint=saver, resume=resume, por=por).run()
            if broken:
                r.stats.symmetry = f"off ({broken})"
            return r
        except FingerprintCollision:
            resume = None
            continue
        except SymmetryBroken as e:
            broken, sets, resume = str(e), None, None
    raise ExploreError("four fingerprint collisions in a row: the Zobrist tables are not "
                       "random")


def collision_probability(n: int, group: int = 1) -> float:
    """TLC's estimate of the probability that a 64-bit fingerprint collision made the
    search miss a state, for ``n`` distinct states: n² / 2⁶⁵; with symmetry each state is
    compared through the smallest of its ``group`` image fingerprints, which multiplies
    the bound by ``group²``."""
    return n * n * group * group / 2.0**65


class _Blocks:
    """The next frontier, built chunk by chunk into large :func:`.fpset.long_lived` blocks
    of ``size`` states (words and fingerprints)."""

    def __init__(self, nw, G, size):
        self.nw, self.G, self.size = nw, G, size
        self.blocks = []          # [words (nw, size), fps (G, size), filled]

    def append(self, words, fps):
        n, at = fps.shape[1], 0
        while at < n:
            if not self.blocks or self.blocks[-1][2] == self.blocks[-1][1].shape[1]:
                self.blocks.append([long_lived((self.nw, self.size), U64),
                                    long_lived((self.G, self.size), U64), 0])
            b = self.blocks[-1]
            k = min(n - at, b[1].shape[1] - b[2])
            b[0][:, b[2]:b[2] + k] = words[:, at:at + k]
            b[1][:, b[2]:b[2] + k] = fps[:, at:at + k]
            b[2] += k
            at += k

    def pieces(self):
        """The blocks as (words, fps) pieces (the last one trimmed), releasing them."""
        out = [(w[:, :k], f[:, :k]) for w, f, k in self.blocks if k]
        self.blocks = []
        return out

    def __iter__(self):
        return iter([(w[:, :k], f[:, :k]) for w, f, k in self.blocks if k])

    def __setitem__(self, j, piece):
        """Replace block ``j`` by a (repacked) piece, which becomes full: later appends go
        to a new block of the piece's word count."""
        w, f = piece
        self.blocks[j] = [w, f, f.shape[1]]
        self.nw = w.shape[0]

    def __len__(self):
        return len(self.blocks)


def _join(buf):
    if len(buf) == 1:
        return buf[0]
    return (np.concatenate([w for w, _ in buf], axis=1),
            np.concatenate([f for _, f in buf], axis=1))


KEY_ORDER_SCATTER = 64
""":func:`_key_order` scatters when the okeys fill more than 1/this of their range."""


def _key_order(keys, span):
    """The permutation sorting ``keys`` (distinct ints in ``0..span-1``, e.g. a chunk's
    new okeys: at most rows x actions): ``np.argsort`` when they are sparse in their
    range, else by marking them in a ``span``-long array, linear time (2.8x faster than
    the sort on the 230,000 new candidates of a 53,773-row chunk of cow-single-iomap)."""
    n = keys.shape[0]
    if n * KEY_ORDER_SCATTER < span:
        return np.argsort(keys, kind="stable")
    at = np.empty(span, dtype=np.int32 if n < 2**31 else np.int64)
    at[keys] = np.arange(n, dtype=at.dtype)
    mark = np.zeros(span, dtype=bool)
    mark[keys] = True
    return at[np.flatnonzero(mark)]


def _positions(cok, nok):
    """Positions in ``cok`` (distinct okeys) of the sorted okeys ``nok``."""
    o = np.argsort(cok, kind="stable")
    return o[np.searchsorted(cok[o], nok)]


def _describe(a) -> str:
    return a.describe() if hasattr(a, "describe") else repr(a)


def _cat(pieces, dtype):
    out = long_lived(sum(p.shape[0] for p in pieces), dtype)
    np.concatenate(pieces, out=out, casting="unsafe") if pieces else None
    return out
