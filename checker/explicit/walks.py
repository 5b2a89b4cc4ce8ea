"""Random walks advanced in lockstep on the batched explorer's packed states.

:class:`LockstepWalks` keeps ``batch`` walks (a few thousand) as one ``(nw, batch)`` uint64
array of bit-packed states (:mod:`.packing`) and advances all of them one step at a time
with the batched explorer's machinery (:class:`.levels.BatchedExplorer`, used as a
library): per distinct read set, the key-table entry of every walk's state (projections
never seen are evaluated once for all walks by the array backend, :mod:`.batched`); per
walk the enabled actions (a guard group whose first action is disabled is skipped whole,
as ``DaxModel.successors`` does); one action per walk drawn with that walk's own weights
from one seeded :class:`numpy.random.Generator`; the successors' words patched on the
chosen actions' write sets (``build``); the pending property conjuncts looked up the same
way (``check_states``).  A walk that reaches its depth or a state with no enabled action
(a deadlock) is replaced in its slot by the next walk, so every slot keeps working until
the walk budget is spent.

Walks are numbered from 1 in the order they start (slots in index order within a step),
so ``seed``, ``batch``, ``depth`` and the walk budget determine every choice and every
result (a time limit only cuts the run short).  The semantics are the reference one's:
the array backend is checked against the reference ``apply`` by the batched explorer's
tests, a transition outside the array vocabulary is evaluated row by row, and the caller
(:mod:`daxcheck.checker.simulate`) re-executes every reported trace with
``model.next_state``.
"""

from __future__ import annotations

import numpy as np

from ..engine import Budget
from .frontier import Repack
from .levels import BatchedExplorer

BATCH = 32768
"""Walks advanced together by default: large enough that the per-step fixed costs (one
key-table lookup per read set, a few NumPy calls per action) are amortised, small enough
that a short ``--runs`` is not overshot by much work."""


HISTORY_BYTES = 64 << 20
"""Bound on the per-walk action histories kept (2 bytes per step per walk): walks of
``--depth 100000`` run 335 at a time, not 32,768."""


class LockstepWalks:
    """``batch`` random walks of at most ``depth`` steps on ``model`` (a
    :class:`~daxcheck.spec.model.DaxModel`), checking the Property list ``props``.

    ``weights_of(rng, n)`` returns the ``(n, number of actions)`` float weights of ``n``
    walks starting now (0: the action is never chosen); ``runs`` is the number of walks
    to start (None: no limit).  :meth:`step` advances every live walk by one action and
    returns the properties first violated in that step, as ``{name: (walk, step, actions
    as model indices)}``.  Raises whatever the reference ``apply`` raises on a state
    evaluated row by row (a user's hook: ``UserCodeError``)."""

    def __init__(self, model, props, depth, seed, weights_of, runs, batch=BATCH):
        self.model, self.depth, self.runs = model, depth, runs
        self.weights_of = weights_of
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.ex = BatchedExplorer(model, props, depth, Budget())
        self.nA = len(model.actions)
        words0, _, _ = self.ex.initial()
        self.init_words = words0[:, :1]
        self.ex.pending = [p.name for p in props]
        n = min(batch, max(16, HISTORY_BYTES // (2 * depth)))  # deep walks: fewer at once
        n = n if runs is None else max(1, min(n, runs))
        self.words = np.repeat(self.init_words, n, axis=1)
        self.hist = np.zeros(
            (depth, n), dtype=np.int16 if self.nA < 2**15 else np.int32
        )  # actions of each slot's walk
        self.length = np.zeros(n, dtype=np.int64)
        self.walk = np.zeros(n, dtype=np.int64)  # walk number per slot (0: finished)
        self.W = np.zeros((n, self.nA), dtype=np.float64)
        self.started = self.states = self.deadlocks = 0
        self._start(np.arange(n))

    @property
    def live(self) -> bool:
        """Whether some walk is still running."""
        return bool((self.walk > 0).any())

    def initial_violations(self) -> list:
        """Names of the properties the initial state violates (they stop being pending)."""
        bad = list(self.ex.check_states(self.init_words))
        self.ex.pending = [p for p in self.ex.pending if p not in bad]
        return bad

    def _start(self, slots: np.ndarray) -> None:
        """Start the next walks in ``slots`` (in order) while the walk budget lasts; slots
        left over are finished."""
        if self.runs is not None:
            room = max(0, self.runs - self.started)
            self.walk[slots[room:]] = 0
            slots = slots[:room]
        if slots.size == 0:
            return
        self.walk[slots] = self.started + 1 + np.arange(slots.size)
        self.started += slots.size
        self.length[slots] = 0
        self.words[:, slots] = self.init_words
        self.W[slots] = self.weights_of(self.rng, slots.size)

    def _entries(self, words):
        """Per read set, each column's entry in its key table (repacking every walk's
        words when a value outgrows its packed width)."""
        ex = self.ex
        while True:
            try:
                return words, {
                    r: ex.entries(ex.group(r), words, ex.fill_actions) for r in ex.by_reads
                }
            except Repack as e:
                holder = [(self.words, np.zeros((1, self.words.shape[1]), np.uint64))]
                ex.repack_all(e.maxvals, [holder])
                self.words = holder[0][0]
                self.init_words = ex.packing.pack_rows(ex.init_rows)
                words = self.words[:, self._live_slots]

    def _enabled(self, ents) -> np.ndarray:
        """``(number of actions, n)`` bool: which actions each live walk may take."""
        ex = self.ex
        E = np.zeros((self.nA, next(iter(ents.values())).shape[0]), dtype=bool)
        for mg in ex.model_groups:
            first = None
            for i in mg:
                reads = ex.infos[i].reads
                en = ex.groups[reads].en[i][ents[reads]]
                first = en if first is None else first
                E[i] = en & first
        return E

    def step(self) -> dict:
        """Advance every live walk by one action (module docstring)."""
        live = self._live_slots = np.flatnonzero(self.walk > 0)
        if live.size == 0:
            return {}
        words, ents = self._entries(self.words[:, live])
        cum = np.cumsum(self.W[live] * self._enabled(ents).T, axis=1)  # (n, actions)
        total = cum[:, -1]
        u = np.minimum(self.rng.random(live.size) * total, np.nextafter(total, 0))
        choice = np.argmax(cum > u[:, None], axis=1)
        moving = total > 0
        stuck = live[~moving]
        self.deadlocks += stuck.size
        rows, acts = np.flatnonzero(moving), choice[moving]
        slots = live[rows]
        new = self.ex.build(words, rows, acts, ents)
        self.words[:, slots] = new
        self.hist[self.length[slots], slots] = acts
        self.length[slots] += 1
        self.states += slots.size
        hits = {}
        for name, at in self.ex.check_states(new, acts).items():
            s = slots[at]
            hits[name] = (int(self.walk[s]), int(self.length[s]), self.actions_of(s))
        if hits:
            self.ex.pending = [p for p in self.ex.pending if p not in hits]
        done = np.concatenate((stuck, slots[self.length[slots] >= self.depth]))
        self._start(np.sort(done))
        return hits

    def actions_of(self, slot: int) -> list:
        """The model indices of the actions the walk in ``slot`` took so far."""
        return [int(i) for i in self.hist[: self.length[slot], slot]]
