"""Partial-order reduction for the race designs: ample sets (Peled 1993; Clarke, Grumberg
and Peled, *Model Checking*, ch. 10) as a successor-set filter the breadth-first explorers
call per state.

In a state ``s`` a proper ample set is one step ``a`` of a thread ``t`` that is inside a
split operation (:mod:`daxcheck.spec.races`); every other enabled action is dropped.  ``a``
qualifies when:

* C0: ``a`` is enabled in ``s`` (the set is not empty);
* C1 (independence): every action ``b`` of another thread, or atomic, that is *dependent*
  on ``a`` (their read/write sets from the taint analysis overlap: ``R(a)∩W(b)``,
  ``W(a)∩R(b)`` or ``W(a)∩W(b)`` non-empty) is *locked out by t* in ``s``: its guard
  requires a lock (DAX entry lock, MMAPLOCK) that ``t`` holds in a conflicting mode
  (:meth:`daxcheck.spec.races.SplitOp.locked_out`, the atomic operations' needs
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
from daxcheck.spec.races import LOCK_FIELDS, SplitOp, _thread_offsets
from daxcheck.spec.vocab import Or

from .batched import evaluate_predicate, predicate_rows
from .readset import read_set
from .transitions import action_footprint


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
        self.L = L
        self.reduced = 0
        self.expanded = 0
        self.cands = []          # (action index, thread, predicate or True)
        self.active = False
        self.why = None
        if not getattr(L, "races", False):
            self.why = "no threads"
            return
        acts = model.actions
        fps = footprints if footprints is not None else [action_footprint(model, a)
                                                          for a in acts]
        private = set()
        for t in L.threads:
            private.update(_thread_offsets(L, t))
        for name in LOCK_FIELDS:
            private.update(L.flat(name))
        for a, fp in zip(acts, fps):
            if not isinstance(a, SplitOp) and (fp is None or private & set(fp[1])):
                self.why = f"{a.describe()} writes a lock or thread field"
                return
        visible = set()
        for p in props:
            if p.name == "no_deadlock":
                continue
            for _, fn in p.conjuncts(L):
                rs = read_set(fn, L)
                if rs is None:
                    visible = None
                    break
                visible.update(rs)
            if visible is None:
                break
        for i, (a, fp) in enumerate(zip(acts, fps)):
            if not isinstance(a, SplitOp) or a.step == 0 or a.step in a.RETRY or fp is None:
                continue
            ra, wa = set(fp[0]), set(fp[1])
            if visible is None or wa & visible:
                continue
            t = a.thread
            outs = []
            ok = True
            for b, fb in zip(acts, fps):
                if getattr(b, "thread", None) == t and isinstance(b, SplitOp):
                    continue
                if fb is not None:
                    rb, wb = set(fb[0]), set(fb[1])
                    if not (ra & wb or wa & rb or wa & wb):
                        continue
                out = _locked_out(D, L, b, t)
                if out is None:
                    ok = False
                    break
                outs.append(out)
            if not ok:
                continue
            if not outs:
                self.cands.append((i, t, True))
            else:
                self.cands.append((i, t, lambda L, s, outs=tuple(outs):
                                   _all(L, s, outs)))
        self.active = bool(self.cands)
        if not self.active:
            self.why = "no step of a thread is independent of the others in any state"

    def choose_rows(self, rows: np.ndarray, enabled) -> np.ndarray:
        """Per row of ``rows`` (``(n, width)`` uint8 states), the index of its ample action
        or -1 (full expansion).  ``enabled(i)`` gives action ``i``'s enabled mask over the
        rows."""
        n = rows.shape[0]
        chosen = np.full(n, -1, dtype=np.int64)
        for i, _, fn in self.cands:
            ok = enabled(i) & (chosen < 0)
            sub = np.flatnonzero(ok)
            if sub.size == 0:
                continue
            if fn is not True:
                try:
                    res = evaluate_predicate(fn, self.L, rows[sub])
                except Exception:    # outside the array backend: row by row
                    res = predicate_rows(fn, self.L, rows[sub])
                sub = sub[np.asarray(res, dtype=bool)]
            chosen[sub] = i
        self.reduced += int((chosen >= 0).sum())
        self.expanded += n
        return chosen

    def choose(self, s: bytes, enabled: set) -> int:
        """The ample action of state ``s`` whose enabled actions are ``enabled``, or -1."""
        self.expanded += 1
        for i, _, fn in self.cands:
            if i in enabled and (fn is True or fn(self.L, s)):
                self.reduced += 1
                return i
        return -1

    def describe(self) -> str:
        """For the run statistics: how many expanded states got a proper ample set."""
        if not self.active:
            return f"off ({self.why})"
        return (f"ample sets at {self.reduced:,} of {self.expanded:,} expanded states "
                f"({len(self.cands)} candidate steps)")


def _locked_out(D, L, b, t):
    """``(L, s) -> condition`` that action ``b`` is disabled by a lock thread ``t`` holds,
    or None when ``b`` takes no lock (it can never be locked out)."""
    if isinstance(b, SplitOp):
        needs = [n for n in b.needs(D, L, b.step) if n.kind != "pin"]
        if not needs:
            return None
        return lambda L, s, b=b: b.locked_out(D, L, s, t)
    needs = locks.atomic_needs_of(D, L, b)
    if not needs:
        return None
    return lambda L, s, needs=needs: Or(*[n.blocked_by(L, s, t) for n in needs])


def _all(L, s, outs):
    from daxcheck.spec.vocab import And
    return And(*[o(L, s) for o in outs])
