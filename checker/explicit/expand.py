"""Expansion of frontier chunks: the batched explorer's tables, evaluation and successors.

:class:`ChunkExpander` is the half of :class:`.levels.BatchedExplorer` that turns one chunk
of frontier states (``words`` ``(nw, n)`` uint64, ``fps`` ``(G, n)`` uint64) into its new
successors: per distinct read set the exact key tables of projections (filled by the array
backend, :mod:`.batched`), candidates and their fingerprints (:meth:`~ChunkExpander.successors`),
de-duplication in BFS order (:meth:`~ChunkExpander.dedupe`), the new states' words
(:meth:`~ChunkExpander.build`) and the property conjuncts on them
(:meth:`~ChunkExpander.check_states`).  These public methods are what the distributed
explorer's workers (:mod:`..distributed.bfs`) and checkpoint restore (:mod:`.checkpoint`)
call.  The level loop, counterexamples and results are in :mod:`.levels`.
"""

from __future__ import annotations

import numpy as np

from daxcheck.spec.state import field_domain

from .batched import evaluate_action, evaluate_predicate, evaluate_rows, predicate_rows
from .frontier import (
    ROWWISE_BELOW,
    U64,
    Collision,
    ExploreError,
    Repack,
    describe_action,
    first_per_fingerprint,
    join_pieces,
    key_order,
    positions,
)
from .keytable import KeyTable
from .memory import grow, long_lived
from .packing import repack
from .symmetry import SymmetryBroken, has_perfect_matching


class ActionInfo:
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


class Memo:
    """What :class:`Group` and :class:`ConjGroup` share: a key table ``table`` and
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
            a[..., n0 : n0 + rows.size] = v[..., rows]
        self.table.add(keys, rows)

    @property
    def nbytes(self) -> int:
        """Bytes of the key table and of what it records per entry."""
        return self.table.nbytes + sum(a.nbytes for a in self.arrays())


class Group(Memo):
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
            self.clear[a.index] = tuple(
                (w, U64(~m & (2**64 - 1))) for w, m in sorted(masks.items())
            )
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


class ConjGroup(Memo):
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


class ChunkExpander:
    """Chunk expansion for :class:`.levels.BatchedExplorer` (a base class: the attributes it
    reads, ``model``, ``L``, ``width``, ``nA``, ``infos``, ``by_reads``, ``conjs``,
    ``packing``, ``visited``, ``sym``, ``exact``..., are set by the explorer's
    ``__init__``)."""

    # ------------------------------------------------------------------ packing
    def set_packing(self, packing):
        """Use ``packing`` (a :class:`~.packing.Packing`) from now on; the key tables, keyed
        on packed words, are dropped."""
        self.packing = packing
        self.groups.clear()
        self.cgroups.clear()

    def _domain_max(self) -> np.ndarray:
        """Per column, the largest value the layout declares it can hold, where the spec
        offers a declaration (``spec.state.field_domain``); 0 elsewhere.  Only a first
        guess for the packed widths: a wider value repacks."""
        out = np.zeros(self.width, dtype=np.int64)
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

    def repack_all(self, maxvals, pieces_lists):
        """Widen the packing to hold ``maxvals`` (per column) and repack every list of
        ``(words, fps)`` pieces of ``pieces_lists`` in place (a :class:`~.frontier.Repack`
        raised by a transition)."""
        caps = self.packing.cap
        maxvals = np.maximum(caps, maxvals)
        for cols in self._field_columns():  # widen every element of a field together
            cols = list(cols)
            maxvals[cols] = maxvals[cols].max()
        new = self.packing.widened(maxvals)
        if new is None:  # pragma: no cover - a Repack always carries a wider value
            raise ExploreError("repack requested without a wider value")
        old = self.packing
        for pieces in pieces_lists:
            for j, (w, f) in enumerate(pieces):
                pieces[j] = (repack(w, old, new), f)
        if self.stored is not None:
            self.stored = repack(self.stored, old, new)
        self.set_packing(new)

    def group(self, reads):
        """The key table and per-action memo of the actions reading ``reads`` (a tuple of
        columns), created on first use."""
        g = self.groups.get(reads)
        if g is None:
            g = self.groups[reads] = Group(self.packing, reads, self.by_reads[reads], self.G)
        return g

    def _cgroup(self, reads):
        g = self.cgroups.get(reads)
        if g is None:
            g = self.cgroups[reads] = ConjGroup(self.packing, reads, self.conj_reads[reads])
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
        ``Memo.entries`` does: lists of arrays (per action of the table: enabled,
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
            g = self.group(reads) if kind == "a" else self._cgroup(reads)
            keys = g.table.keys_of(exported)
            rows = np.flatnonzero(g.table.lookup(keys) < 0)
            if rows.size:
                g.put(keys, rows, values)
                added += rows.size
        return added

    # ------------------------------------------------------------------ memo fill
    def entries(self, g, words, fill):
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
            fill(g, rows, len(t))  # may raise Repack before anything is added
            t.add(keys, reps)
            ent[miss] = t.lookup(t.take(keys, miss))

    def fill_actions(self, g, rows, base):
        """Evaluate every action of group ``g`` on the new projections ``rows`` (uint8
        ``(n, |R|)``; entry ids from ``base``): enabled, values on W, fingerprint deltas."""
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
                    raise ExploreError(
                        f"{a.action!r}: array backend produced a value outside "
                        f"0..255 that the reference accepts"
                    )
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
            raise Repack(maxvals)
        if self.sym is not None:
            self._check_actions(rows, results)
        g.grow(base + k)
        Zs = self.Zs
        for a, en, vals in results:
            i = a.index
            g.en[i][base : base + k] = en
            dz = np.zeros((self.G, k), dtype=U64)
            rs = set(a.reads)
            for j, c in enumerate(a.writes):
                dz ^= Zs[:, c, :][:, vals[j]]
                if c in rs:
                    dz ^= Zs[:, c, :][:, rows[:, c]]
            g.dz[i][:, base : base + k] = np.where(en, dz, U64(0))
            packed = self.packing.pack_values(a.writes, vals)
            for j, (w, _) in enumerate(g.clear[i]):
                g.wp[i][j, base : base + k] = packed[w]

    def _evaluate(self, a, rows):
        if not a.rowwise and rows.shape[0] >= ROWWISE_BELOW:
            try:
                return evaluate_action(self.model, a.action, rows, a.writes)
            except Exception:  # outside the array backend: the reference path decides
                a.rowwise = True
        return evaluate_rows(self.model, a.action, rows, a.writes)

    def _predicate(self, ci, rows):
        """Conjunct ``ci`` on ``rows`` (array backend, else row by row)."""
        fn = self.conjs[ci][1]
        if not self.conj_rowwise[ci] and rows.shape[0] >= ROWWISE_BELOW:
            try:
                return evaluate_predicate(fn, self.L, rows)
            except Exception:  # outside the array backend: the reference path decides
                self.conj_rowwise[ci] = True
        return predicate_rows(fn, self.L, rows)

    def _fill_conjs(self, g, rows, base):
        k = rows.shape[0]
        results = [self._predicate(ci, rows) for ci in g.conjs]
        if self.sym is not None:
            self._check_conjuncts(rows, g.conjs, results)
        g.grow(base + k)
        for j, r in enumerate(results):
            g.ok[j][base : base + k] = r

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
                    raise SymmetryBroken(
                        f"{describe_action(a.action)} has no image under {sym.name(k)}"
                    )

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
                    raise SymmetryBroken(
                        f"property {self.conjs[ci][0]} is not invariant under {sym.name(k)}"
                    )

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
                    raise SymmetryBroken(
                        f"property {name} is not invariant under {self.sym.name(k)}"
                    )

    # ------------------------------------------------------------------ properties
    def check_states(self, words, acts=None):
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
            ent = self.entries(g, words if rows is None else words[:, rows], self._fill_conjs)
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
        return join_pieces(buf)

    def next_chunk(self, queue, pieces_lists):
        """Take the next chunk of ``queue`` (:meth:`_take_chunk`) and compute its candidates
        (:meth:`successors`); when a value outgrows its packed column, the chunk, ``queue``
        and every list of (words, fps) pieces in ``pieces_lists`` are repacked and the chunk
        is retried.  Returns ``(words, fps, (fps, okeys, ents, rows per action))``."""
        words, fps = self._take_chunk(queue)
        while True:
            try:
                return words, fps, self.successors(words, fps)
            except Repack as r:
                holder = [(words, fps)]
                self.repack_all(r.maxvals, [holder, queue, *pieces_lists])
                words, fps = holder[0]

    def successors(self, words, fps):
        """Candidates of a chunk: ``(fps, okeys, ents, rows per action)`` where okey =
        parent position * nA + action (BFS order) and ``fps`` is ``(G, M)``: the
        fingerprints of each candidate's images."""
        ents = {}
        for reads in self.by_reads:
            g = self.group(reads)
            ents[reads] = self.entries(g, words, self.fill_actions)
        cf, co, rows_by = [], [], {}
        pk = self.packing
        chosen = None  # partial-order reduction: per parent, its ample action or -1
        if self.por is not None and self.por.active:
            chosen = self.por.choose_rows(
                pk.unpack_rows(words),
                lambda i: self.groups[self.infos[i].reads].en[i][ents[self.infos[i].reads]],
            )
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

    def dedupe(self, call, cok, words, ents, *, order=False):
        """New states among the candidates: ``(okeys, fps, fresh)``: okeys in BFS order,
        ``fps`` ``(G, n)`` in that order, each the first occurrence of its canonical
        fingerprint (the smallest of its images'), none in the visited set; ``fresh`` their
        canonical fingerprints sorted, for the caller to add to the visited set once the
        candidate arrays are released (None in exact mode).  In exact mode every fingerprint
        match is checked on the states' words (raises Collision).  ``order`` (without
        symmetry): also the permutation ``o`` with ``fps[0] == fresh[o]`` (the distributed
        workers send fingerprints sorted)."""
        M = cok.shape[0]
        if M == 0:
            none = (np.zeros(0, self.okey_dtype), np.zeros((self.G, 0), U64), None)
            return none + (np.zeros(0, np.intp),) if order else none
        cfp = call[0] if self.G == 1 else call.min(axis=0)
        rfp, rok = first_per_fingerprint(cfp, cok)
        if self.exact:
            self._verify_chunk(cfp, cok, words, ents)
            ids = self.index.find(rfp)
            new = ids < 0
            seen = np.flatnonzero(~new)
            if seen.size:
                mine = self.build(words, rok[seen] // self.nA, rok[seen] % self.nA, ents)
                if not self.same(mine, self._stored_words(ids[seen])).all():
                    raise Collision()
        else:
            new = ~self.visited.contains(rfp)
        nfp, nok = rfp[new], rok[new]
        fresh = None if self.exact else nfp  # sorted: for the visited set
        if self.G == 1:
            o = key_order(nok, words.shape[1] * self.nA)
            return (nok[o], nfp[o][None], fresh) + ((o,) if order else ())
        nok = nok[key_order(nok, words.shape[1] * self.nA)]
        return nok, call[:, positions(cok, nok)], fresh

    # ------------------------------------------------------------------ exact mode
    def _verify_chunk(self, cfp, cok, words, ents):
        """Every two candidates of the chunk with the same fingerprint are the same state."""
        o = np.argsort(cfp, kind="stable")
        f = cfp[o]
        dup = np.flatnonzero(f[1:] == f[:-1])
        if dup.size == 0:
            return
        a, b = cok[o[dup]], cok[o[dup + 1]]
        wa = self.build(words, a // self.nA, a % self.nA, ents)
        wb = self.build(words, b // self.nA, b % self.nA, ents)
        if not self.same(wa, wb).all():
            raise Collision()

    def same(self, wa, wb):
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
        self.stored[:, self.n_stored : self.n_stored + n] = nwords
        self.index.add(nfp, np.arange(self.n_stored, self.n_stored + n))
        self.n_stored += n

    def _stored_words(self, ids):
        return self.stored[:, ids]

    def build(self, words, parents, acts, ents, groups=None, entry=None):
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
