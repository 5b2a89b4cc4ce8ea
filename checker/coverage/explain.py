"""Is the missing outcome of a decision reachable?  Asked of Z3, answered with a trace.

For a decision site that the explored states decided only one way (or never), take the
other outcome ``O`` and build its *goal*, a term over one symbolic state: the disjunction,
over every action (and property) whose symbolic evaluation reaches the site, of the
``require`` guards met before the site, the enclosing ``when`` conditions and the site's
condition equal to ``O``.  That over-approximates "evaluating this action in this state
decides the site ``O``" (Python control flow in the spec depends on action arguments only,
so the symbolic evaluation walks every path the concrete one can), so:

* Z3's "no state within N steps satisfies the goal" (BMC, :func:`~..symbolic.engine.bmc`) is
  a proof that the outcome is unreachable up to depth N at these bounds;
* a state that satisfies it is replayed through the explicit semantics and the site is
  re-decided concretely there (the probe's concrete side); only then is the outcome
  reported reachable, with the trace.  A goal state that the concrete run does not confirm
  (a condition evaluated inside an eagerly evaluated argument of an ``If``) is reported as
  unresolved, never as either answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from daxcheck.spec.model import DaxModel

from ..results import HOLDS, VIOLATED
from ..symbolic import smt
from ..symbolic.engine import EngineDisagreement, SymbolicModel, bmc
from .recorder import TRUE, Recorder
from .sites import Site, shortcut_guards

REACHABLE, UNREACHABLE, UNRESOLVED, NOT_REACHED = (
    "reachable",
    "unreachable",
    "unresolved",
    "not evaluated",
)


@dataclass(frozen=True)
class Explanation:
    """The answer for one outcome of one site on one design.

    ``status``: :data:`REACHABLE` (``trace`` is the list of action descriptions leading to
    the deciding state, ``unit`` the action or property that decides it there),
    :data:`UNREACHABLE` (no state within ``depth`` steps: a Z3 proof at these bounds),
    :data:`UNRESOLVED` (the solver ran out of time or its state did not confirm), or
    :data:`NOT_REACHED` (no action or property of the design evaluates the site at all).
    """

    site: Site
    outcome: int
    design: str
    bounds: dict
    depth: int
    status: str
    trace: tuple[str, ...] = ()
    unit: str = ""
    note: str = ""

    def to_json(self) -> dict:
        """A JSON-ready dict: the site (file, line, kind, operand, condition), the missing
        outcome (``true``/``false``), the answer and its scope (design, bounds, depth),
        the trace when reachable and the note."""
        return {
            "file": self.site.path,
            "line": self.site.line,
            "col": self.site.col,
            "kind": self.site.kind,
            "operand": self.site.operand,
            "function": self.site.function,
            "condition": self.site.text,
            "missing": "true" if self.outcome == TRUE else "false",
            "answer": self.status,
            "design": self.design,
            "bounds": self.bounds,
            "depth": self.depth,
            "trace": list(self.trace),
            "unit": self.unit,
            "note": self.note,
            "text": self.line(),
        }

    def line(self) -> str:
        """One line for people."""
        want = "true" if self.outcome == TRUE else "false"
        head = f"{self.site.where()} {self.site.kind} {self.site.text!r} {want}"
        scope = f"{self.design} depth {self.depth}"
        if self.status == REACHABLE:
            steps = " -> ".join(self.trace) or "(initial state)"
            return f"{head}: reachable in {scope}: {steps}, then {self.unit}"
        if self.status == UNREACHABLE:
            if not self.design:  # a Python-level shortcut: no scope reaches it
                return f"{head}: unreachable: {self.note}"
            if self.note:
                return (
                    f"{head}: unreachable (Z3) {self.note}, each to its own depth "
                    f"(deepest: {self.design}, {self.depth})"
                )
            return f"{head}: unreachable (Z3) up to depth {self.depth} in {self.design}"
        if self.status == NOT_REACHED:
            return f"{head}: {self.design} never evaluates it"
        return f"{head}: unresolved in {scope} ({self.note})"


class _Probe:
    """A pseudo-property "the site is never decided ``outcome``" that both sides of the
    BMC engine can evaluate: symbolically, the negated goal; concretely, the deciding
    units re-run under a :class:`Recorder`."""

    def __init__(self, model, sm, site, outcome, goal, units, files):
        self.name = f"coverage probe {site.where()} {site.kind}[{site.operand}]={outcome}"
        self.model, self.sm, self.site, self.outcome = model, sm, site, outcome
        self.goal, self.units, self.files = goal, units, files
        self.decider = ""

    def fn(self, L, s):
        if type(s) is not bytes:
            return smt.neg(smt.substitute(self.goal, list(zip(self.sm.cur, s))))
        with Recorder(self.files) as rec:
            for unit in self.units:
                _run_unit(self.model, unit, s)
                if rec.decisions.get(self.site.key, 0) & self.outcome:
                    self.decider = _describe(self.model, unit)
                    return False
        return True


def _run_unit(model, unit, s):
    kind, what = unit
    if kind == "action":
        return model.actions[what].apply(model, s)
    return what.fn(model.L, s)


def _describe(model, unit) -> str:
    kind, what = unit
    return model.actions[what].describe() if kind == "action" else f"property {what.name}"


class DesignGoals:
    """One design's symbolic model and, for every decision site its actions and
    ``props`` reach, the conditions recorded there (built once, queried per site).

    ``model``: the :class:`DaxModel` at the design's bounds with ``bounds`` overrides;
    ``sm``: its :class:`SymbolicModel`; ``terms[site key]``: ``[(unit, path, condition)]``.
    Raises SymbolicUseError if an action cannot be evaluated symbolically."""

    def __init__(self, design, props, files: dict[str, str], bounds: dict | None = None):
        self.design, self.props, self.files = design, list(props), files
        self.model = DaxModel(design, design.bounds.replace(**(bounds or {})))
        self.sm = SymbolicModel(self.model)
        z3 = smt.z3
        with Recorder(files) as rec:
            rec.collect_terms(lambda c: isinstance(c, z3.ExprRef))
            for i, a in enumerate(self.model.actions):
                rec.start_unit(("action", i))
                smt.evaluate(a.apply, self.model, self.sm.cur, what=f"action {a.describe()}")
            for p in self.props:
                rec.start_unit(("property", p))
                smt.evaluate(p.fn, self.model.L, self.sm.cur, what=f"property {p.name}")
        self.terms = dict(rec.terms)

    def goal(self, site: Site, outcome: int):
        """``(goal term over sm.cur, units)`` for ``site`` decided ``outcome``; None if no
        action or property of the design evaluates the site."""
        found = self.terms.get(site.key)
        if not found:
            return None
        units = tuple(dict.fromkeys(u for u, _, _ in found))
        parts = [
            smt.conj([*path, smt.term(c) if outcome == TRUE else smt.neg(smt.term(c))])
            for _, path, c in found
        ]
        return smt.simplify(smt.disj(parts)), units

    def explain(
        self, site: Site, outcome: int, depth: int | None = None, time_limit: float | None = 60.0
    ) -> Explanation:
        """Whether ``site`` can be decided ``outcome`` (TRUE or FALSE) within ``depth``
        steps (default: the bounds' depth); see the module docstring."""
        model = self.model
        K = model.bounds.depth if depth is None else depth
        base = dict(
            site=site,
            outcome=outcome,
            design=self.design.name,
            bounds=model.bounds.as_dict(),
            depth=K,
        )
        g = self.goal(site, outcome)
        if g is None:
            return Explanation(**base, status=NOT_REACHED)
        probe = _Probe(model, self.sm, site, outcome, g[0], g[1], self.files)
        try:
            result = bmc(model, [probe], K, time_limit=time_limit, sm=self.sm)
        except EngineDisagreement as e:
            return Explanation(
                **base, status=UNRESOLVED, note=f"Z3's goal state is not confirmed concretely: {e}"
            )
        v = result.verdicts[probe.name]
        if v.status == VIOLATED:
            steps = tuple(model.actions[i].describe() for i, _ in v.trace[1:])
            probe.fn(model.L, v.trace[-1][1])
            return Explanation(
                **{**base, "depth": v.depth}, status=REACHABLE, trace=steps, unit=probe.decider
            )
        if v.status == HOLDS:
            return Explanation(**base, status=UNREACHABLE)
        return Explanation(**base, status=UNRESOLVED, note=result.stats.stopped or "solver unknown")


def explain(
    design,
    site: Site,
    outcome: int,
    props,
    files: dict[str, str],
    depth: int | None = None,
    bounds: dict | None = None,
    time_limit: float | None = 60.0,
) -> Explanation:
    """Whether ``site`` can be decided ``outcome`` in ``design`` at its bounds (with
    ``bounds`` overrides) within ``depth`` steps: :meth:`DesignGoals.explain` for one
    question."""
    return DesignGoals(design, props, files, bounds).explain(site, outcome, depth, time_limit)


def explain_gaps(
    gaps,
    designs,
    props,
    files,
    depth=None,
    bounds=None,
    time_limit: float | None = 60.0,
    progress=None,
) -> list[Explanation]:
    """For every ``(site, outcome)`` in ``gaps``: the first design of ``designs`` where Z3
    finds the outcome reachable; else, among the designs that evaluate the site, an
    unresolved answer if any (the solver could not decide one of them), else an
    unreachable one whose ``note`` counts the designs that proved it unreachable; else
    NOT_REACHED (no design evaluates the site).  ``progress(done, total)`` after each gap.
    A list in the order of ``gaps``; :func:`iter_explanations` yields them one by one.
    """
    return list(iter_explanations(gaps, designs, props, files, depth, bounds, time_limit, progress))


def iter_explanations(
    gaps,
    designs,
    props,
    files,
    depth=None,
    bounds=None,
    time_limit: float | None = 60.0,
    progress=None,
):
    """:func:`explain_gaps` as a generator: one :class:`Explanation` per gap, in order, as
    soon as it is known (each design's symbolic model is built once, on first use)."""
    built: dict[str, DesignGoals] = {}
    shortcuts = shortcuts_of(files)
    for n, (site, outcome) in enumerate(gaps):
        cut = shortcuts.get(site.key)
        if cut is not None and (outcome == TRUE) == cut[2]:
            if progress is not None:
                progress(n + 1, len(gaps))
            yield Explanation(
                site,
                outcome,
                "",
                {},
                0,
                UNREACHABLE,
                note=f"the enclosing `if {cut[1]} is not False:` (line {cut[0]}) enters "
                f"only with {cut[1]} true, so under concrete evaluation the call never sees "
                f"this outcome in any scope; that `if` decides the case",
            )
            continue
        answers = []
        for d in designs:
            dg = built.get(d.name)
            if dg is None:
                dg = built[d.name] = DesignGoals(d, props, files, bounds)
            e = dg.explain(site, outcome, depth, time_limit)
            answers.append(e)
            if e.status == REACHABLE:
                break
        if progress is not None:
            progress(n + 1, len(gaps))
        yield _summarise(answers)


def shortcuts_of(files: dict[str, str]) -> dict[tuple, tuple[int, str, bool]]:
    """:func:`~.sites.shortcut_guards` of every file in ``files`` (absolute path -> shown
    name) that can be read."""
    out: dict[tuple, tuple[int, str, bool]] = {}
    for path, shown in files.items():
        try:
            out.update(shortcut_guards(path, shown))
        except (OSError, SyntaxError):
            continue
    return out


def _summarise(answers: list[Explanation]) -> Explanation:
    for status in (REACHABLE, UNRESOLVED):
        hit = [e for e in answers if e.status == status]
        if hit:
            return hit[0]
    proofs = [e for e in answers if e.status == UNREACHABLE]
    if not proofs:
        return answers[-1]
    deepest = max(proofs, key=lambda e: e.depth)
    return replace(deepest, note=f"in all {len(proofs)} designs that evaluate it")
