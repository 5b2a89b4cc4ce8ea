"""Unrolling the spec's transitions over Z3 terms: the templates both Z3 engines share.

:class:`SymbolicModel` evaluates every action instance once over a symbolic state (one
``z3.Int`` per field, :mod:`.smt`), which gives the action's enabling condition and its
next-state terms; :class:`Unrolling` joins ``k`` copies of the step relation in a solver;
:func:`replay_path` replays a Z3 path through the explicit semantics (every Z3
counterexample is checked that way before it is reported).  Used by :mod:`.engine`
(``bmc``, ``prove_all``).
"""

from __future__ import annotations

import time

from ..trace import Trace, TraceError
from . import smt


class EngineDisagreement(RuntimeError):
    """Internal error: a Z3 counterexample does not replay through the explicit semantics,
    or the property holds on the replayed state.  Never reported as a verdict."""


class ProveError(ValueError):
    """Bad arguments to :func:`prove` (k out of range, unknown lemma set)."""


# ----------------------------------------------------------------------------- templates
class SymbolicModel:
    """The step relation and property terms of a :class:`~daxcheck.spec.model.DaxModel`.

    Built once per model: every action is evaluated over the symbolic state ``cur``.
    Attributes: ``entries`` (list of ``(action index, guard term, {offset: next term})``
    for every action that is not disabled for Python-level reasons and is not a no-op),
    ``build_seconds``.  Raises :class:`~daxcheck.spec.vocab.SymbolicUseError` when an action
    or property cannot be evaluated symbolically.
    """

    def __init__(self, model, encoding: str = "index"):
        if encoding not in ("onehot", "index"):
            raise ValueError(f"encoding must be onehot or index, not {encoding!r}")
        self.encoding = encoding
        t0 = time.perf_counter()
        self.model = model
        L = self.L = model.L
        self.cur = smt.fresh_state(L, "cur")
        self.nxt = smt.fresh_state(L, "nxt")
        self.entries = [
            e for i, a in enumerate(model.actions) if (e := self._entry(i, a)) is not None
        ]
        n = len(self.entries)
        z3 = smt.z3
        self.written = sorted({o for _, _, w in self.entries for o in w})
        if self.encoding == "onehot":
            # One Boolean per action instance, exactly one true; each implies its guard
            # and its writes; a field keeps its value unless one of its writers is chosen.
            self.sel = [z3.Bool(f"act{j}") for j in range(n)]
            parts = [z3.PbEq([(a, 1) for a in self.sel], 1)] if n else [z3.BoolVal(False)]  # noqa: FBT003
            writers = {o: [] for o in self.written}
            for j, (_, g, w) in enumerate(self.entries):
                parts.append(
                    z3.Implies(self.sel[j], z3.And([g] + [self.nxt[o] == v for o, v in w.items()]))
                )
                for o in w:
                    writers[o].append(self.sel[j])
            for o in self.written:
                parts.append(z3.Or([self.nxt[o] == self.cur[o]] + writers[o]))
        else:
            # A bit-vector selector and an if-then-else chain per field.
            self.sel = [z3.BitVec("sel", 16)]
            sel = self.sel[0]
            enabled = z3.BoolVal(False)  # noqa: FBT003
            for j in range(n - 1, -1, -1):
                enabled = z3.If(sel == j, self.entries[j][1], enabled)
            parts = [z3.ULT(sel, n), enabled]
            for o in self.written:
                v = self.cur[o]
                for j in range(n - 1, -1, -1):
                    w = self.entries[j][2].get(o)
                    if w is not None:
                        v = z3.If(sel == j, w, v)
                parts.append(self.nxt[o] == v)
        self.step_term = z3.And(parts)
        self._props = {}
        self.logic = "QF_FD" if smt.field_sort_bits() is not None else None
        self.build_seconds = time.perf_counter() - t0

    def _entry(self, i, a):
        """``(i, guard, {offset: next term})`` of action ``a`` (index ``i``) over ``cur``,
        or None when it is disabled whatever the state or changes nothing."""
        L = self.L
        out, guards = smt.evaluate(a.apply, self.model, self.cur, what=f"action {a.describe()}")
        if out is None or out is self.cur:
            return None  # disabled whatever the state, or a read (changes nothing)
        g = smt.simplify(smt.conj(guards))
        if smt.is_false(g):
            return None
        writes = {}
        for o in range(L.width):
            v = out[o]
            if v is self.cur[o]:
                continue
            v = smt.simplify(v)
            if v.eq(self.cur[o]):
                continue
            writes[o] = v
        return (i, g, writes)

    def prop_term(self, prop):
        """The term of property ``prop`` (a :class:`~daxcheck.properties.Property` or any
        object with ``name`` and ``fn(L, s)``) over ``cur``, cached by name."""
        t = self._props.get(prop.name)
        if t is None:
            r, guards = smt.evaluate(prop.fn, self.L, self.cur, what=f"property {prop.name}")
            t = self._props[prop.name] = smt.simplify(smt.conj([r] + guards))
        return t

    def at(self, t, s):
        """Template term ``t`` (over ``cur``) instantiated at symbolic state ``s``."""
        return smt.substitute(t, list(zip(self.cur, s)))

    def step(self, s, s2, tag: str):
        """``(term, selectors)``: the step relation from symbolic state ``s`` to ``s2`` with
        fresh selector variables named after ``tag``."""
        z3 = smt.z3
        if self.encoding == "onehot":
            sels = [z3.Bool(f"{tag}.act{j}") for j in range(len(self.sel))]
        else:
            sels = [z3.BitVec(f"{tag}.sel", 16)]
        t = smt.substitute(
            self.step_term,
            list(zip(self.cur, s)) + list(zip(self.nxt, s2)) + list(zip(self.sel, sels)),
        )
        return t, sels

    def chosen(self, out: smt.Outcome, sels) -> int:
        """Model action index the selectors ``sels`` of one step take in outcome ``out``."""
        if self.encoding == "onehot":
            js = [j for j, v in enumerate(sels) if out.value(v) == 1]
            if len(js) != 1:
                raise EngineDisagreement(f"{len(js)} actions chosen in one step")
            return self.entries[js[0]][0]
        return self.entries[out.value(sels[0])][0]

    def next_state_vars(self, s, tag: str) -> tuple:
        """A symbolic successor of ``s``: fresh variables for fields some action writes,
        the very terms of ``s`` for the others."""
        fresh = smt.fresh_state(self.L, tag)
        w = set(self.written)
        return tuple(fresh[o] if o in w else s[o] for o in range(self.L.width))


class Unrolling:
    """Symbolic states ``S[0..k]`` and selectors joined by the step relation in a solver."""

    def __init__(self, sm: SymbolicModel, solver: smt.Solver, tag: str, init: bytes | None):
        self.sm, self.solver, self.tag = sm, solver, tag
        self.S = [smt.fresh_state(sm.L, f"{tag}0")]
        self.sels = []
        if init is not None:
            solver.add(smt.eq_state(self.S[0], init))
        else:
            solver.add(byte_range(self.S[0]))

    def extend(self):
        """One more step: a fresh state ``S[k]`` joined to ``S[k-1]`` by the step relation."""
        k = len(self.S)
        s2 = self.sm.next_state_vars(self.S[-1], f"{self.tag}{k}")
        t, sels = self.sm.step(self.S[-1], s2, f"{self.tag}{k}")
        self.solver.add(t)
        if self.tag != "s":
            self.solver.add(byte_range([s2[o] for o in self.sm.written]))
        self.S.append(s2)
        self.sels.append(sels)

    def path(self, out: smt.Outcome):
        """``(actions, states)`` of the model in a REFUTED outcome."""
        m = self.sm.model
        acts = [m.actions[self.sm.chosen(out, v)] for v in self.sels]
        states = [smt.state_value(out, s) for s in self.S]
        return acts, states


def byte_range(s):
    """The constraint that every term of ``s`` is a byte (0..255)."""
    return smt.z3.And([smt.z3.And(v >= 0, v <= 255) for v in s])


def replay_path(model, acts, states, props, what):
    """Replay a Z3 path through the explicit semantics; return the replayed trace and the
    names of ``props`` that fail on its final state.  Raises EngineDisagreement."""
    try:
        tr = Trace.from_actions(model, acts)
    except TraceError as e:
        raise EngineDisagreement(f"{what}: Z3 path does not replay: {e}") from None
    for n, (a, b) in enumerate(zip(tr.states, states)):
        if a != b:
            diff = [model.L.label(o) for o in range(model.L.width) if a[o] != b[o]]
            raise EngineDisagreement(
                f"{what}: Z3 state {n} differs from the replayed one at {', '.join(diff[:5])}"
            )
    last = tr.states[-1]
    return tr, [p.name for p in props if not p.fn(model.L, last)]
