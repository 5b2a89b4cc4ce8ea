"""Memoised successor computation for the explicit engine.

Each action instance is evaluated once on a taint state (:mod:`.readset`) to learn its
read set R (fields its guard or effect may read) and write set W (fields it may change).
Two states equal on R have the same successor on W and are unchanged elsewhere, so the
engine caches ``s[R] -> (values at W) | disabled`` per action and patches ``s``.  Actions
that cannot be analysed run their plain ``apply``.  :meth:`DaxModel.successors` remains
the reference semantics; the tests check this cache against it state by state.
"""

from __future__ import annotations

from operator import itemgetter

from daxcheck.spec.vocab import SymbolicUseError

from .readset import Dep, TaintState, taint_backend

_DISABLED = object()


def action_footprint(model, a):
    """``(R, W)``: sorted offsets action ``a`` may read and may write in ``model``, or None
    if the action uses a construct the taint backend cannot follow."""
    L = model.L
    with taint_backend() as b:
        s = TaintState(L.width)
        try:
            out = a.apply(model, s)
        except SymbolicUseError:
            return None
    reads = set()
    for g in b.guards:
        if isinstance(g, Dep):
            reads |= g.offs
    writes = []
    if out is not None and out is not s:
        for o in range(L.width):
            v = out[o]
            if v is not s[o]:
                writes.append(o)
                if isinstance(v, Dep):
                    reads |= v.offs
    return tuple(sorted(reads)), tuple(writes)


class _Memo:
    __slots__ = ("key", "writes", "runs", "cache", "reads")

    def __init__(self, reads, writes):
        self.reads = reads
        self.key = (
            itemgetter(*reads)
            if len(reads) > 1
            else ((lambda s, o=reads[0]: s[o]) if reads else (lambda s: ()))
        )
        self.writes = writes
        # Contiguous runs of written offsets: (start, end, index into the cached values).
        runs, i = [], 0
        while i < len(writes):
            j = i
            while j + 1 < len(writes) and writes[j + 1] == writes[j] + 1:
                j += 1
            runs.append((writes[i], writes[j] + 1, i, j + 1))
            i = j + 1
        self.runs = tuple(runs)
        self.cache = {}


class MemoSuccessors:
    """``successors(s)`` like :meth:`DaxModel.successors`, memoised per action on its read
    set.  ``limit`` bounds each action's cache (cleared when full)."""

    def __init__(self, model, limit: int = 1_000_000, footprints=None):
        self.model = model
        self.limit = limit
        self.memos = []
        fps = (
            footprints
            if footprints is not None
            else [action_footprint(model, a) for a in model.actions]
        )
        for fp in fps:
            self.memos.append(None if fp is None else _Memo(*fp))

        # Actions with the same read set (e.g. the write(2) variants of one block) share
        # one key computation per state: the last (state, key) pair, compared by identity.
        self._last = {}
        self.steps = [self._make_step(i) for i in range(len(model.actions))]

    def _make_step(self, i: int):
        """The memoised transition of action ``i``: the successor from the cache if the
        projection of the state on the action's read set was seen before (values patched
        into the state in contiguous runs), else from ``apply`` (and cached)."""
        model, a, m, limit = self.model, self.model.actions[i], self.memos[i], self.limit
        apply = a.apply
        if m is None:
            return lambda s: apply(model, s)
        key, cache, runs, writes = m.key, m.cache, m.runs, m.writes
        wget = (
            itemgetter(*writes)
            if len(writes) > 1
            else ((lambda s, o=writes[0]: (s[o],)) if writes else (lambda s: ()))
        )
        last = self._last.setdefault(m.reads, [None, None])

        def step(s):
            if last[0] is s:
                k = last[1]
            else:
                k = last[1] = key(s)
                last[0] = s
            vals = cache.get(k)
            if vals is None:
                ns = apply(model, s)
                if len(cache) >= limit:
                    cache.clear()
                cache[k] = _DISABLED if ns is None else bytes(wget(ns))
                return ns
            if vals is _DISABLED:
                return None
            if not vals:
                return s
            d = bytearray(s)
            for lo, hi, i0, i1 in runs:
                d[lo:hi] = vals[i0:i1]
            return bytes(d)

        return step

    def successors(self, s: bytes):
        """:meth:`DaxModel.successors` with the memoised steps."""
        return self.model.successors(s, self.steps)
