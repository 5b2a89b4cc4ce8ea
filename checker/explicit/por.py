"""Partial-order reduction for the race designs: ample sets (Peled 1993; Clarke, Grumberg
and Peled, *Model Checking*, ch. 10) as a successor-set filter the breadth-first explorers
call per state.

In a state ``s`` a proper ample set is one step ``a`` of a thread ``t`` that is inside a
split operation (:mod:`daxcheck.spec.ops.races`); every other enabled action is dropped.  ``a``
qualifies when:

* C0: ``a`` is enabled in ``s`` (the set is not empty);
* C1 (independence): every action ``b`` of another thread, or atomic, that is *dependent*
  on ``a`` (their read/write sets from the taint analysis overlap: ``R(a)∩W(b)``,
  ``W(a)∩R(b)`` or ``W(a)∩W(b)`` non-empty) is *locked out by t* in ``s``: its guard
  requires a lock (DAX entry lock, MMAPLOCK) that ``t`` holds in a conflicting mode
  (:meth:`daxcheck.spec.ops.races.SplitOp.locked_out`, the atomic operations' needs
  :func:`daxcheck.spec.locks.atomic_needs_of`).  Only ``t``'s own steps release ``t``'s
  locks and ``t``'s only enabled step is ``a``, so no ``b`` dependent on ``a`` can run
  before ``a``: C1 holds.  The precondition is checked: no action but a split step
  writes a lock or thread field (else the reduction is off);
* C2 (invisibility): ``a`` writes nothing the checked properties read (read sets of their
  conjuncts).  ``no_deadlock`` is exempt: a cycle of waiting threads is stable (its locks
  are held by blocked threads, and nothing else releases them), and ample sets with C0,
  C1 and C3 preserve the reachability of a stable property;
* C3 (cycle proviso, static and BFS-compatible): ``a`` is not the first step of an
  operation and not a retry step (``SplitOp.RETRY``, the only steps that go back): every
  other step moves its thread's program counter forward or ends the operation, and an
  operation starts again only from a first step, which is never reduced; so every cycle
  of the reduced graph passes through a fully expanded state.

The reduced search reaches a violation of every property the full search violates, but
not necessarily at the same depth: with a depth bound a reduced search could push a
violation past the bound, so the race designs' default bounds let both searches exhaust
the reachable space (``complete``), where the verdicts coincide (tested on every race
design).  Designs without threads are never reduced.
"""

from __future__ import annotations

import numpy as np

from daxcheck.spec import locks
from daxcheck.spec.ops.races import LOCK_FIELDS, SplitOp, thread_offsets

from .readset import read_set
from .transitions import action_footprint


def private_fields(L) -> set:
    """The offsets of the thread fields (program counters, arguments, locals) and lock
    fields of race layout ``L``: only split steps may write them."""
    private = set()
    for t in L.threads:
        private.update(thread_offsets(L, t))
    for name in LOCK_FIELDS:
        private.update(L.flat(name))
    return private


def visible_fields(props, L) -> set | None:
    """The offsets the checked properties read (``no_deadlock`` exempt: stable), None
    when some conjunct cannot be analysed (then every step is visible)."""
    visible = set()
    for p in props:
        if p.name == "no_deadlock":
            continue
        for _, fn in p.conjuncts(L):
            rs = read_set(fn, L)
            if rs is None:
                return None
            visible.update(rs)
    return visible


class AmpleSets:
    """The ample-set filter of ``model`` for the Property list ``props`` (see the module
    docstring).  ``active``: whether any state can be reduced (False for a design without
    threads, or when a precondition fails: ``why`` says which).  :meth:`choose_rows` (array
    form, for the batched explorer) and :meth:`choose` (one state) return the ample
    action per state, -1 for a full expansion.  ``reduced`` / ``expanded`` count the
    states decided so far."""

    def __init__(self, model, props, footprints=None):
        self.model = model
        L, D = model.L, model.design
        self.L, self.D = L, D
        self.reduced = 0
        self.expanded = 0
        self.cands = []  # (action index, thread, atomic dependents, split dependents)
        self.active = False
        self.why = None
        if not getattr(L, "races", False):
            self.why = "no threads"
            return
        acts = model.actions
        fps = footprints if footprints is not None else [action_footprint(model, a) for a in acts]
        private = private_fields(L)
        for a, fp in zip(acts, fps):
            if not isinstance(a, SplitOp) and (fp is None or private & set(fp[1])):
                self.why = f"{a.describe()} writes a lock or thread field"
                return
        # Each thread's step instances by (family, arguments, step), for the reachability
        # of another thread's dependent step.
        self.steps = split_steps(acts)
        visible = visible_fields(props, L)
        for i, (a, fp) in enumerate(zip(acts, fps)):
            if not isinstance(a, SplitOp) or a.step == 0 or a.step in a.RETRY or fp is None:
                continue
            if visible is None or set(fp[1]) & visible:
                continue
            deps = self.dependents(a, fp, acts, fps)
            if deps is not None:
                self.cands.append((i, a.thread, *deps))
        self.active = bool(self.cands)
        if not self.active:
            self.why = "no step of a thread is independent of the others in any state"

    def dependents(self, a, fp, acts, fps):
        """The steps of other threads that step ``a`` (footprint ``fp``) depends on, as
        ``(atomic operations' lock needs, split steps)``, or None when an atomic operation
        depends on it without taking a lock (then ``a`` is never reduced)."""
        ra, wa = set(fp[0]), set(fp[1])
        atomic, split = [], []
        for b, fb in zip(acts, fps):
            if isinstance(b, SplitOp) and b.thread == a.thread:
                continue
            if fb is not None:
                rb, wb = set(fb[0]), set(fb[1])
                if not (ra & wb or wa & rb or wa & wb):
                    continue
            if isinstance(b, SplitOp):
                split.append(b)
                continue
            needs = locks.atomic_needs_of(self.D, self.L, b)
            if not needs:
                return None
            atomic.append(needs)
        return tuple(atomic), tuple(split)

    # ------------------------------------------------------------ C1 on one state
    def _locked(self, b, s, t) -> bool:
        """Step ``b`` of another thread needs a lock ``t`` holds (so it is disabled until
        ``t`` moves)."""
        return b.locked_out(self.D, self.L, s, t) is True

    def _reachable(self, b, s, t) -> bool:
        """Thread ``b.thread`` may run step ``b`` before thread ``t`` moves
        (:func:`may_run_before`)."""
        return may_run_before(self.D, self.L, self.steps, b, s, t)

    def _ample_ok(self, s, cand) -> bool:
        _, t, atomic, split = cand
        L = self.L
        for needs in atomic:
            if not any(n.blocked_by(L, s, t) is True for n in needs):
                return False
        return all(not self._reachable(b, s, t) for b in split)

    def choose(self, s: bytes, enabled) -> int:
        """The ample action of state ``s`` whose enabled action indices are ``enabled``
        (a set), or -1 (full expansion)."""
        self.expanded += 1
        for cand in self.cands:
            if cand[0] in enabled and self._ample_ok(s, cand):
                self.reduced += 1
                return cand[0]
        return -1

    def choose_rows(self, rows: np.ndarray, enabled) -> np.ndarray:
        """Per row of ``rows`` (``(n, width)`` uint8 states), the index of its ample action
        or -1 (full expansion).  ``enabled(i)`` gives action ``i``'s enabled mask over the
        rows."""
        n = rows.shape[0]
        chosen = np.full(n, -1, dtype=np.int64)
        ens = {c[0]: enabled(c[0]) for c in self.cands}
        any_en = np.zeros(n, dtype=bool)
        for e in ens.values():
            any_en |= e
        self.expanded += n - int(any_en.sum())
        for r in np.flatnonzero(any_en):
            s = bytes(rows[r])
            chosen[r] = self.choose(s, {i for i, e in ens.items() if e[r]})
        return chosen

    def describe(self) -> str:
        """For the run statistics: how many expanded states got a proper ample set."""
        if not self.active:
            return f"off ({self.why})"
        return (
            f"ample sets at {self.reduced:,} of {self.expanded:,} expanded states "
            f"({len(self.cands)} candidate steps)"
        )


def may_run_before(D, L, steps, b, s, t) -> bool:
    """Thread ``b.thread`` may run split step ``b`` before thread ``t`` moves, in state
    ``s`` (bytes): some path of its own steps from where it is now reaches ``b`` through
    steps not locked out by ``t`` (:meth:`~daxcheck.spec.ops.split.SplitOp.locked_out`;
    over-approximated: a thread inside another operation may finish it).  ``steps``: each
    thread's step instances by ``(thread, op_key(step), step index)``
    (:func:`split_steps`).  Used by the ample sets here and by the transaction reduction
    (:mod:`.reduction`)."""
    u = b.thread
    key = op_key(b)
    op, pc = s[L.th_op[u]], s[L.th_pc[u]]
    if op == 0:
        starts = [0]
    elif op == b.code() and _state_key(L, s, u, b) == key:
        starts = [pc]
    else:
        starts = [0]  # it may finish its operation and start this one
    seen, todo = set(), list(starts)
    while todo:
        j = todo.pop()
        if j in seen:
            continue
        seen.add(j)
        step = steps.get((u, key, j))
        if step is None or step.locked_out(D, L, s, t) is True:
            continue
        if j == b.step:
            return True
        todo.extend(type(b).next_steps(j))
    return False


def split_steps(actions) -> dict:
    """The split step instances of ``actions`` by ``(thread, op_key(step), step index)``."""
    return {(a.thread, op_key(a), a.step): a for a in actions if isinstance(a, SplitOp)}


def op_key(a):
    """A split step's operation identity: family and arguments (not thread or step)."""
    return (a.name,) + tuple((k, v) for k, v in a.args().items() if k not in ("thread", "step"))


def _state_key(L, s, u, b):
    """The operation identity thread ``u`` runs in ``s``, read back as ``_op_key`` of
    family ``b`` (arguments from the thread's fields)."""
    vals = {"proc": s[L.th_proc[u]], "file": s[L.th_file[u]], "idx": s[L.th_idx[u]]}
    field = {arg: f for f, arg in b.TH_ARGS.items()}
    out = [b.name]
    for k in b.args():
        if k in ("thread", "step"):
            continue
        if k in b.FLAGS:
            out.append((k, bool(s[L.th_flag[u]])))
        else:
            out.append((k, vals[field[k]]))
    return tuple(out)
