"""The Z3 engines: bounded model checking and k-induction over the same transition
functions and property predicates the explicit engine runs.

:class:`SymbolicModel` evaluates every action instance once over a symbolic state (one
``z3.Int`` per field, :mod:`.smt`), which gives the action's enabling condition (its
``require`` guards) and its next-state terms; the step relation of the whole model is one
term ``T(cur, nxt, sel)`` in which the selector ``sel`` picks one action instance per step.
Each property is likewise evaluated once into a term over ``cur``.  The engines
instantiate these templates per step by substitution.

* :func:`bmc` unrolls the step relation from the initial state, depth by depth, and asks
  at every depth k whether some property can fail at step k.  The first depth with an
  answer is the shortest counterexample, as with the explicit engine's BFS.  Every Z3
  counterexample is replayed through the explicit semantics
  (:meth:`~daxcheck.checker.trace.Trace.from_actions`) and the property is re-evaluated on
  the concrete final state before it is reported (mypyvy ``--smoke-test-solver``); a
  disagreement raises :class:`EngineDisagreement` instead of a verdict.
* :func:`prove` is k-induction with Houdini-style lemma strengthening: the property and
  candidate lemmas (the other shipped invariants, the per-field value domains, and
  optionally lemmas mined from explicitly explored states) are checked in the base case,
  and in the inductive step every candidate that can fail after k steps of candidates
  holding is dropped until the remaining set is k-inductive as a whole.  Every lemma that
  is assumed is thereby proved, so the answer "proved" is sound whatever the source of the
  candidates (Flanagan & Leino, Houdini, FME 2001; Sheeran et al., k-induction, FMCAD 2000).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.state import field_domain
from daxcheck.spec.vocab import Implies, Or

from ..results import HOLDS, INCOMPLETE, VIOLATED, CheckResult, Stats, Verdict
from . import smt
from .smt import Result
from .unroll import (  # noqa: F401 (re-exported)
    EngineDisagreement,
    ProveError,
    SymbolicModel,
    Unrolling,
    byte_range,
    replay_path,
)


# ----------------------------------------------------------------------------- BMC
def bmc(
    model,
    props,
    depth: int | None = None,
    time_limit: float | None = None,
    progress=None,
    sm: SymbolicModel | None = None,
) -> CheckResult:
    """Bounded model checking of ``props`` on ``model`` up to ``depth`` actions (default:
    the model's bounds.depth) with Z3.

    Depth by depth k = 0..depth, asks whether some property not yet violated fails after
    exactly k actions from the initial state; the first k is therefore the shortest
    counterexample length.  Returns a :class:`CheckResult` like
    :func:`~daxcheck.checker.explicit.explore.explore`: VIOLATED verdicts carry the replayed trace
    ``[(-1, s0), (action index, s1), ...]``; HOLDS means no violation up to ``depth``
    (``complete`` is always False: BMC does not detect the end of the reachable space);
    INCOMPLETE means the solver answered unknown or ``time_limit`` seconds passed (depth =
    the last depth fully covered).  ``progress(k, seconds)`` is called after each depth.
    ``stats.depth`` is the deepest k fully answered; ``stats.states`` is 0 (no states are
    enumerated) and ``stats.transitions`` the number of solver queries.
    Raises EngineDisagreement (internal error) if a counterexample does not replay, and
    SymbolicUseError if an action or property cannot be evaluated symbolically.
    """
    K = model.bounds.depth if depth is None else depth
    if not isinstance(K, int) or isinstance(K, bool) or K < 0:
        raise ValueError(f"depth must be a non-negative int, not {K!r}")
    t0 = time.perf_counter()
    deadline = smt.Deadline(time_limit)
    sm = sm or SymbolicModel(model)
    bad = {p.name: smt.neg(sm.prop_term(p)) for p in props}
    solver = smt.Solver(deadline, logic=sm.logic)
    run = Unrolling(sm, solver, "s", model.init_states()[0])
    pending = list(props)
    verdicts = {}
    stats = Stats()
    covered = -1
    for k in range(K + 1):
        if k > 0:
            run.extend()
            # Facts proved at the previous depth: no pending property failed there.
            solver.add(*[sm.at(sm.prop_term(p), run.S[k - 1]) for p in pending])
        pending = bmc_depth(model, sm, solver, run, k, pending, bad, verdicts, stats)
        if stats.stopped:
            break
        covered = k
        if progress is not None:
            progress(k, time.perf_counter() - t0)
        if not pending:
            break
    for p in pending:
        if stats.stopped:
            verdicts[p.name] = Verdict(p.name, INCOMPLETE, max(covered, 0))
        else:
            verdicts[p.name] = Verdict(p.name, HOLDS, K)
    stats.depth = max(covered, 0)
    stats.seconds = time.perf_counter() - t0
    ordered = {p.name: verdicts[p.name] for p in props}
    return CheckResult(model.design.name, model.bounds.as_dict(), ordered, stats, [])


def bmc_depth(model, sm, solver, run, k, pending, bad, verdicts, stats) -> list:
    """Depth ``k`` of :func:`bmc`: ask until no property of ``pending`` can fail after
    exactly ``k`` actions (``bad``: the negated property terms), each counterexample
    replayed and recorded in ``verdicts``; ``stats.stopped`` on a solver unknown.  Returns
    the properties still pending."""
    while pending:
        goal = smt.z3.Bool(f"goal{k}.{stats.transitions}")
        solver.add(smt.z3.Implies(goal, smt.disj([sm.at(bad[p.name], run.S[k]) for p in pending])))
        out = solver.check(goal)
        stats.transitions += 1
        if out.result is Result.REFUTED:
            acts, states = run.path(out)
        solver.add(smt.neg(goal))
        if out.result is Result.UNKNOWN:
            stats.stopped = f"solver unknown at depth {k}: {out.reason}"
            break
        if out.result is Result.CONFIRMED:
            break
        tr, failing = replay_path(
            model, acts, states, pending, f"bmc {model.design.name} depth {k}"
        )
        if not failing:
            raise EngineDisagreement(
                f"bmc {model.design.name} depth {k}: Z3 says one of "
                f"{', '.join(p.name for p in pending)} fails, but all hold on the replayed "
                f"state"
            )
        path = tr.path(model)
        for name in failing:
            verdicts[name] = Verdict(name, VIOLATED, k, trace=path)
        pending = [p for p in pending if p.name not in verdicts]
    return pending


# ----------------------------------------------------------------------------- k-induction
@dataclass(frozen=True)
class Lemma:
    """A candidate invariant for strengthening: ``name`` and ``fn(L, s)`` in the
    vocabulary (the same shape as a registered property)."""

    name: str
    fn: object
    doc: str = ""


def domain_lemmas(L) -> list[Lemma]:
    """One candidate lemma per state field: the field's value is in
    :func:`~daxcheck.spec.state.field_domain`."""
    out = []
    for o in range(L.width):
        vals = field_domain(L, o)

        def fn(L, s, o=o, vals=vals):
            return Or(*[s[o] == v for v in vals])

        out.append(Lemma(f"domain:{L.label(o)}", fn, f"{L.label(o)} in {vals}"))
    return out


def frame_lemmas(sm: SymbolicModel) -> list[Lemma]:
    """One lemma per state field that no action of the model writes (e.g. ``sealed`` in a
    design without the seal action), or that every action writing it sets to its initial
    value (e.g. ``pinned``, which only the crash resets, in a design without pins): the
    field keeps its initial value.  True by construction of the step relation, and still
    proved like every candidate."""
    init = sm.model.init_states()[0]
    written = set(sm.written)
    for o in list(written):
        vals = [w[o] for _, _, w in sm.entries if o in w]
        if all(smt.z3.is_bv_value(v) or smt.z3.is_int_value(v) for v in vals) and all(
            smt.z3.simplify(v).as_long() == init[o] for v in vals
        ):
            written.discard(o)
    out = []
    for o in range(sm.L.width):
        if o not in written:

            def fn(L, s, o=o, v=init[o]):
                return s[o] == v

            out.append(Lemma(f"frame:{sm.L.label(o)}", fn, f"{sm.L.label(o)} stays {init[o]}"))
    return out


def mined_lemmas(model, max_states: int = 30000, depth: int | None = None) -> list[Lemma]:
    """Candidate lemmas guessed from explicitly explored states (Daikon-style): for every
    field the set of values seen, and for every pair of fields ``(o1, o2)`` and value
    ``v`` of ``o1`` the set of values ``o2`` takes when ``o1 == v`` (only where that set is
    smaller than the field's overall set).  Explores breadth-first from the initial state
    up to ``max_states`` states / ``depth`` levels.  The candidates are guesses; the prover
    keeps only those it proves."""
    L = model.L
    seen = {model.init_states()[0]}
    frontier = list(seen)
    lvl = 0
    maxd = model.bounds.depth if depth is None else depth
    while frontier and len(seen) < max_states and lvl < maxd:
        nxt = []
        for s in frontier:
            for _, ns in model.successors(s):
                if ns not in seen:
                    seen.add(ns)
                    nxt.append(ns)
        frontier, lvl = nxt, lvl + 1
    states = list(seen)
    W = L.width
    vals = [sorted({s[o] for s in states}) for o in range(W)]
    out = []
    for o in range(W):
        dom = field_domain(L, o)
        if len(vals[o]) < len(dom):

            def fn(L, s, o=o, vs=tuple(vals[o])):
                return Or(*[s[o] == v for v in vs])

            out.append(Lemma(f"values:{L.label(o)}", fn))
    for o1 in range(W):
        if len(vals[o1]) < 2:
            continue
        for v in vals[o1]:
            sub = [s for s in states if s[o1] == v]
            for o2 in range(W):
                if o2 == o1 or len(vals[o2]) < 2:
                    continue
                vs = sorted({s[o2] for s in sub})
                if len(vs) < len(vals[o2]):

                    def fn(L, s, o1=o1, v=v, o2=o2, vs=tuple(vs)):
                        return Implies(s[o1] == v, Or(*[s[o2] == w for w in vs]))

                    out.append(Lemma(f"when:{L.label(o1)}={v}:{L.label(o2)}", fn))
    return out


@dataclass
class ProofResult:
    """The answer of :func:`prove`.

    status: "proved" (holds in every reachable state, at every depth), "refuted" (a
    counterexample; ``trace`` as in a Verdict), "not inductive" (at ``k``, even with the
    lemmas that survived; ``cti`` is the counterexample to induction: ``(actions, states)``
    of k+1 arbitrary states where the candidates hold in the first k and the property
    fails in the last), or "unknown" (solver gave up / time limit; never a pass).
    k: the induction depth of the answer; lemmas: names of the lemmas assumed (and proved)
    alongside the property; seconds; reason (for unknown).
    """

    design: str
    prop: str
    status: str
    k: int
    lemmas: list = field(default_factory=list)
    trace: list | None = None
    cti: tuple | None = None
    seconds: float = 0.0
    reason: str = ""

    def lines(self, L=None) -> list[str]:
        """Human-readable report lines (the lemmas used are reported per design by
        :meth:`ProofRun.lines`); with layout ``L`` the counterexample to induction
        is shown as the first state's non-zero fields and then, per step, the action and
        the fields it changed (``label: old -> new``)."""
        head = {
            "proved": f"{self.prop} holds at every depth in {self.design} "
            f"({self.k}-induction, {len(self.lemmas)} lemma(s), {self.seconds:.1f}s)",
            "refuted": f"{self.prop} is violated in {self.design} at depth {self.k}",
            "not inductive": f"{self.prop} is not {self.k}-inductive in {self.design} "
            f"(with {len(self.lemmas)} surviving lemma(s))",
            "unknown": f"{self.prop} in {self.design}: unknown ({self.reason}); not a pass",
        }
        out = [head[self.status]]
        if self.status == "not inductive" and self.cti and L is not None:
            acts, states = self.cti
            out.append(
                "  counterexample to induction (arbitrary start state, candidates hold "
                "until the last state):"
            )
            out.append(
                "  state 0: "
                + ", ".join(
                    f"{L.label(o)}={L.show(o, v)}" for o, v in enumerate(states[0]) if v != 0
                )
            )
            for n, (a, s0, s1) in enumerate(zip(acts, states, states[1:]), 1):
                ch = [
                    f"{L.label(o)}: {L.show(o, s0[o])} -> {L.show(o, s1[o])}"
                    for o in range(L.width)
                    if s0[o] != s1[o]
                ]
                out.append(f"  step {n} {a.describe()}: " + ("; ".join(ch) or "no change"))
            out.append(
                "  (the start state may be unreachable: a @lemma that excludes it, or a "
                "larger --max-k, may complete the proof; `daxcheck check` searches for a "
                "reachable violation)"
            )
        return out


@dataclass
class ProofRun:
    """The answer of :func:`prove_all` for one design: ``results`` (one
    :class:`ProofResult` per property asked, in order), ``lemma_status`` (for every named
    candidate that is not a goal, i.e. the shipped and user lemmas and the other
    invariants: "proved" at the final k, "false at depth d" when the base case refuted it,
    "not inductive" when Houdini dropped it, "undecided (solver unknown)", or "not symbolic:
    ..." when it cannot be evaluated over Z3 terms and was left out), ``auto_lemmas`` (how many generated
    domain/frame/mined candidates were offered), ``k`` (the last induction depth tried),
    ``seconds``."""

    design: str
    results: list
    lemma_status: dict = field(default_factory=dict)
    auto_lemmas: int = 0
    k: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """Report lines on the lemmas: those proved and used, those dropped and why."""
        used = [n for n, st in self.lemma_status.items() if st == "proved"]
        dropped = [f"{n} ({st})" for n, st in self.lemma_status.items() if st != "proved"]
        out = [
            f"  lemmas proved and assumed: {', '.join(used) or 'none'}"
            + (
                f"; plus the proved ones of {self.auto_lemmas} generated per-field "
                f"(domain/frame/mined) candidates"
                if self.auto_lemmas
                else ""
            )
        ]
        if dropped:
            out.append(f"  lemmas dropped: {', '.join(dropped)}")
        return out


def prove(model, prop, **kw) -> ProofResult:
    """k-induction for the single property ``prop``: :func:`prove_all` with ``[prop]``;
    same keyword arguments.  Returns its :class:`ProofResult`."""
    return prove_all(model, [prop], **kw).results[0]


def induction_depths(k: int | None, max_k: int) -> list[int]:
    """The induction depths ``prove_all`` tries: ``[k]``, or 1..``max_k``.  Both must be
    ints in 1..30 when given (``max_k`` too when ``k`` is given: an impossible bound is bad
    input whether or not it is used).  Raises ProveError."""
    if max_k is not None and (
        not isinstance(max_k, int) or isinstance(max_k, bool) or not 1 <= max_k <= 30
    ):
        raise ProveError(f"largest induction depth max-k must be an int in 1..30, not {max_k!r}")
    ks = [k] if k is not None else list(range(1, max_k + 1))
    for kk in ks:
        if not isinstance(kk, int) or isinstance(kk, bool) or not 1 <= kk <= 30:
            raise ProveError(f"induction depth k must be an int in 1..30, not {kk!r}")
    return ks


def prove_all(
    model,
    props,
    k: int | None = None,
    max_k: int = 4,
    lemmas: str = "shipped",
    time_limit: float | None = None,
    *,
    simple_path: bool = True,
    mine_states: int = 30000,
    sm: SymbolicModel | None = None,
) -> ProofRun:
    """k-induction for every property of ``props`` on ``model`` in one Houdini run.

    ``k``: a single induction depth to try; otherwise k = 1..``max_k`` in turn (1..30).
    ``lemmas``: "none" (the properties alone), "shipped" (plus the other shipped
    invariants, every registered :func:`~daxcheck.properties.lemma` (shipped or from a
    user's file), one value-domain lemma per field and one frame lemma per field no action
    writes), or "mined" (plus candidates mined from explicitly explored states,
    :func:`mined_lemmas`).  At each k, the base case checks every candidate on every path
    of fewer than k actions from the initial state (BMC; a failing property is "refuted"
    with its trace, a failing lemma is dropped), then the inductive step drops every
    candidate that can fail after k consecutive states where all remaining candidates
    hold (Houdini, Flanagan & Leino 2001) until the remaining set is k-inductive: every
    property left in it is "proved"; a property dropped keeps the counterexample to
    induction that dropped it and is retried at the next k.  With ``simple_path`` the
    k states of the step are pairwise distinct.  States are arbitrary byte vectors (every
    concrete state is one).  Since every assumed candidate is itself proved, "proved" is
    sound whatever the candidates were.  A lemma or other invariant that cannot be
    evaluated symbolically is left out (status "not symbolic: ..."); a goal that cannot
    raises SymbolicUseError.
    Returns a :class:`ProofRun`.  Raises ProveError for bad arguments.
    """
    if lemmas not in ("none", "shipped", "mined"):
        raise ProveError(f"lemmas must be none, shipped or mined, not {lemmas!r}")
    ks = induction_depths(k, max_k)
    if not props:
        raise ProveError("no property to prove")
    return Houdini(model, props, lemmas, time_limit, simple_path, mine_states, sm).run(ks)


class Houdini:
    """One :func:`prove_all` run: the candidates (goals ``props``, named lemmas, generated
    ones) and their terms, the base-case unrolling shared by every k, and what is known so
    far (``results`` per goal, ``false_at`` per refuted candidate, ``ctis`` per goal
    dropped by induction, ``survivors`` of the last inductive step).  :meth:`run` tries
    the induction depths in turn; arguments as :func:`prove_all`'s (checked there)."""

    def __init__(self, model, props, lemmas, time_limit, simple_path, mine_states, sm):
        self.t0 = time.perf_counter()
        self.model, self.props, self.simple_path = model, props, simple_path
        self.deadline = smt.Deadline(time_limit)
        self.sm = sm or SymbolicModel(model)
        self.L = model.L
        self.goals = {p.name: p for p in props}
        self.named, self.auto, self.unusable = self.candidates(lemmas, mine_states)
        self.cands = list(props) + self.named + self.auto
        self.terms = {c.name: self.sm.prop_term(c) for c in self.cands}
        self.name = model.design.name
        self.results, self.ctis = {}, {}
        self.false_at = {}  # candidate name -> shallowest failing depth
        self.survivors = set()
        # Base case, shared by all k: which candidates fail within depth < k.
        self.base_solver = smt.Solver(self.deadline, logic=self.sm.logic)
        self.base = Unrolling(self.sm, self.base_solver, "s", model.init_states()[0])
        self.base_depth = -1

    def candidates(self, lemmas, mine_states):
        """``(named, auto, unusable)``: the named lemmas and other shipped invariants that
        can be evaluated over Z3 terms, the generated ones (per-field domain and frame
        lemmas; mined ones with ``lemmas="mined"``), and ``{name: "not symbolic: why"}``
        for the named ones that cannot."""
        named, auto = [], []
        if lemmas in ("shipped", "mined"):
            named = [
                p for p in PROPERTIES.values() if p.name not in self.goals and p.origin == "shipped"
            ]
            named += [p for p in LEMMAS.values() if p.name not in self.goals]
            auto = domain_lemmas(self.L) + frame_lemmas(self.sm)
        if lemmas == "mined":
            auto += mined_lemmas(self.model, mine_states)
        unusable = {}
        for c in named:
            try:
                self.sm.prop_term(c)
            except smt.SymbolicUseError as e:  # explicit-only lemma: offered, not usable here
                unusable[c.name] = f"not symbolic: {e}"
        return [c for c in named if c.name not in unusable], auto, unusable

    def done(self, prop, status, kk, **kw) -> ProofResult:
        """The :class:`ProofResult` of goal ``prop`` now."""
        return ProofResult(self.name, prop, status, kk, seconds=time.perf_counter() - self.t0, **kw)

    def finish(self, kk, unknown=None) -> ProofRun:
        """The :class:`ProofRun` at depth ``kk``: goals without an answer are "unknown"
        (``unknown``: the solver's reason) or "not inductive" (with their CTI)."""
        out = []
        for p in self.props:
            r = self.results.get(p.name)
            if r is None:
                if unknown is not None:
                    r = self.done(p.name, "unknown", kk, reason=unknown)
                else:
                    cti, surv = self.ctis.get(p.name, (None, []))
                    r = self.done(p.name, "not inductive", kk, cti=cti, lemmas=surv)
            out.append(r)
        status = dict(self.unusable)
        for c in self.named:
            if c.name in self.false_at:
                status[c.name] = f"false at depth {self.false_at[c.name]}"
            elif unknown is not None:
                status[c.name] = "undecided (solver unknown)"
            else:
                status[c.name] = "proved" if c.name in self.survivors else "not inductive"
        return ProofRun(self.name, out, status, len(self.auto), kk, time.perf_counter() - self.t0)

    def run(self, ks) -> ProofRun:
        """Base case then inductive step at each depth of ``ks`` until every goal has an
        answer."""
        for kk in ks:
            stopped = self.base_case(kk)
            if stopped is not None:
                return stopped
            if all(n in self.results for n in self.goals):
                return self.finish(kk)
            stopped = self.inductive_step(kk)
            if stopped is not None:
                return stopped
            if all(n in self.results for n in self.goals):
                return self.finish(kk)
        return self.finish(ks[-1])

    def base_case(self, kk) -> ProofRun | None:
        """Extend the base case to depth ``kk - 1``: every candidate failing on a path from
        the initial state is false (a goal "refuted" with its replayed trace).  Returns the
        final :class:`ProofRun` when the solver answers unknown, else None."""
        sm, solver, base = self.sm, self.base_solver, self.base
        while self.base_depth < kk - 1:
            self.base_depth += 1
            d = self.base_depth
            if d > 0:
                base.extend()
            live = [c for c in self.cands if c.name not in self.false_at]
            while live:
                with solver.frame():
                    solver.add(
                        smt.disj([smt.neg(sm.at(self.terms[c.name], base.S[d])) for c in live])
                    )
                    out = solver.check()
                    if out.result is Result.REFUTED:
                        acts, states = base.path(out)
                if out.result is Result.UNKNOWN:
                    return self.finish(kk, f"base case depth {d}: {out.reason}")
                if out.result is Result.CONFIRMED:
                    break
                tr, failing = replay_path(
                    self.model, acts, states, live, f"prove {self.name} base {d}"
                )
                if not failing:
                    raise EngineDisagreement(
                        f"prove {self.name}: base case counterexample at "
                        f"depth {d} does not fail on replay"
                    )
                for n in failing:
                    self.false_at[n] = d
                    if n in self.goals and n not in self.results:
                        self.results[n] = self.done(n, "refuted", d, trace=tr.path(self.model))
                live = [c for c in live if c.name not in self.false_at]
        return None

    def step_solver(self, kk, active):
        """A solver holding ``kk`` steps from an arbitrary state in which each candidate of
        ``active`` (switched by its indicator) holds in the first ``kk`` states and some
        fails in the last; ``(solver, indicators)``."""
        sm = self.sm
        solver = smt.Solver(self.deadline, logic=sm.logic)
        run = Unrolling(sm, solver, "i", None)
        for _ in range(kk):
            run.extend()
        ind = {c.name: smt.z3.Bool(f"use:{c.name}") for c in active}
        for c in active:
            for i in range(kk):
                solver.add(smt.z3.Implies(ind[c.name], sm.at(self.terms[c.name], run.S[i])))
        solver.add(
            smt.disj(
                [
                    smt.z3.And(ind[c.name], smt.neg(sm.at(self.terms[c.name], run.S[kk])))
                    for c in active
                ]
            )
        )
        if self.simple_path:
            for i in range(kk + 1):
                for j in range(i + 1, kk + 1):
                    solver.add(smt.neg(smt.eq_state(run.S[i], run.S[j])))
        return solver, run, ind

    def inductive_step(self, kk) -> ProofRun | None:
        """The inductive step at ``kk`` with Houdini: drop every candidate that can fail
        after ``kk`` states where the remaining ones hold, until the rest is inductive;
        goals left are "proved".  Returns the final :class:`ProofRun` when the solver
        answers unknown, else None."""
        active = [c for c in self.cands if c.name not in self.false_at]
        solver, run, ind = self.step_solver(kk, active)
        while True:
            live = {c.name for c in active}
            out = solver.check(*[ind[n] if n in live else smt.neg(ind[n]) for n in ind])
            if out.result is Result.UNKNOWN:
                return self.finish(kk, f"inductive step k={kk}: {out.reason}")
            if out.result is Result.CONFIRMED:
                self.survivors = live
                break
            acts, states = run.path(out)
            last = states[-1]
            dropped = {c.name for c in active if not c.fn(self.L, last)}
            if not dropped:
                raise EngineDisagreement(
                    f"prove {self.name} k={kk}: Z3 step counterexample "
                    f"satisfies every candidate when evaluated concretely"
                )
            for n in dropped & set(self.goals):
                self.ctis[n] = ((acts, states), sorted(live - dropped - set(self.goals)))
            active = [c for c in active if c.name not in dropped]
        for n in self.goals:
            if n in self.survivors and n not in self.results:
                self.results[n] = self.done(
                    n, "proved", kk, lemmas=[c.name for c in active if c.name != n]
                )
        return None
