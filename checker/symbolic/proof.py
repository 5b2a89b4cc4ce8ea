"""The Z3 engines behind the one engine interface, and the proof loop of ``daxcheck prove``.

:class:`BmcEngine` (``bmc``) and :class:`ProveEngine` (``prove``) implement
:class:`~daxcheck.checker.engine.Engine` over :func:`~.engine.bmc` and
:func:`~.engine.prove_all`; :func:`prove_design` is one design's turn of the ``prove``
command (a user's lemma contained by the time limit's deadline, refuted properties'
counterexamples as :class:`~daxcheck.checker.trace.Trace` objects), so the front end only
parses and prints.  Imports Z3 (through :mod:`.smt`): the registry loads this module on
first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daxcheck.usercode import TimeLimitReached, deadline

from ..engine import EngineOptions
from ..results import HOLDS, INCOMPLETE, VIOLATED, CheckResult, InputError, Stats, Verdict
from ..trace import Trace
from .engine import ProofRun, ProveError, bmc, induction_depths, prove_all

PROVE_TRACE_ENGINE = "z3 k-induction base case"
"""``#meta.engine`` of a counterexample ``prove`` found in its base case."""


class BmcEngine:
    """Bounded model checking with Z3 (``bmc``): every property up to ``options.depth``
    actions (default: the model's bound); HOLDS is never ``complete``.  Reads ``depth``,
    ``budget.time_limit`` and ``progress`` (called with ``Stats(depth=k, seconds=s)`` per
    depth).  Raises :class:`~.engine.EngineDisagreement` when a Z3 counterexample does not
    replay."""

    name = "bmc"
    stats_type = Stats

    def check(self, options: EngineOptions) -> CheckResult:
        o = options
        report = (
            None if o.progress is None else (lambda k, sec: o.progress(Stats(depth=k, seconds=sec)))
        )
        depth = o.model.bounds.depth if o.depth is None else o.depth
        return bmc(o.model, list(o.properties), depth, time_limit=o.time_limit, progress=report)


def proof_result(model, run: ProofRun) -> CheckResult:
    """The :class:`CheckResult` of a :class:`ProofRun`: "proved" is HOLDS at every depth
    (``complete``), "refuted" VIOLATED with the base case's trace, "not inductive" and
    "unknown" INCOMPLETE (never a pass); depth: the induction depth of the answer;
    ``stats.stopped``: the first "unknown" reason."""
    status = {"proved": HOLDS, "refuted": VIOLATED}
    verdicts = {
        r.prop: Verdict(
            r.prop,
            status.get(r.status, INCOMPLETE),
            r.k,
            complete=r.status == "proved",
            trace=r.trace if r.status == "refuted" else None,
        )
        for r in run.results
    }
    why = next((f"{r.status}: {r.reason}" for r in run.results if r.status == "unknown"), None)
    return CheckResult(
        model.design.name,
        model.bounds.as_dict(),
        verdicts,
        Stats(depth=run.k, seconds=run.seconds, stopped=why),
    )


class ProveEngine:
    """k-induction with Houdini lemma strengthening (``prove``): reads ``k``, ``max_k``
    (default 4), ``lemmas`` ("none", "shipped", "mined") and ``budget.time_limit``.  The
    full :class:`ProofRun` (lemma status, counterexamples to induction) goes to
    ``options.stats_out["proof"]`` when a dict is given.  Raises InputError for bad
    induction depths or lemma modes."""

    name = "prove"
    stats_type = Stats

    def check(self, options: EngineOptions) -> CheckResult:
        o = options
        try:
            run = prove_all(
                o.model,
                list(o.properties),
                k=o.k,
                max_k=4 if o.max_k is None else o.max_k,
                lemmas=o.lemmas,
                time_limit=o.time_limit,
            )
        except ProveError as e:
            raise InputError(str(e)) from None
        if o.stats_out is not None:
            o.stats_out["proof"] = run
        return proof_result(o.model, run)


def check_induction_depths(k, max_k) -> None:
    """InputError unless ``k``/``max_k`` are valid induction depths
    (:func:`~.engine.induction_depths`): bad input is refused before any work."""
    try:
        induction_depths(k, max_k)
    except ProveError as e:
        raise InputError(str(e)) from None


@dataclass
class DesignProof:
    """One design's turn of ``daxcheck prove``: ``model``, ``run`` (the :class:`ProofRun`;
    None when the deadline stopped a user's code), ``traces`` (property name ->
    :class:`~daxcheck.checker.trace.Trace` of each refuted property), ``incomplete`` (the
    deadline's reason, naming the user's ``file:line``, or None)."""

    model: object
    run: ProofRun | None
    traces: dict = field(default_factory=dict)
    incomplete: str | None = None


def prove_design(
    model, props, k=None, max_k=4, lemmas="shipped", time_limit=None, command: str = ""
) -> DesignProof:
    """k-induction for the Property list ``props`` on ``model`` (:func:`~.engine.prove_all`)
    under a ``time_limit`` deadline that also bounds a user's lemma that never returns;
    refuted properties' base-case counterexamples become traces (``#meta.engine``
    :data:`PROVE_TRACE_ENGINE`, ``#meta.command`` ``command``).  Raises InputError for bad
    arguments (ProveError)."""
    try:
        with deadline(time_limit):
            run = prove_all(model, props, k=k, max_k=max_k, lemmas=lemmas, time_limit=time_limit)
    except ProveError as e:
        raise InputError(str(e)) from None
    except TimeLimitReached as e:
        return DesignProof(model, None, {}, e.reason())
    meta = {"engine": PROVE_TRACE_ENGINE, "command": command}
    traces = {
        r.prop: Trace.from_path(model, r.trace, r.prop, meta)
        for r in run.results
        if r.status == "refuted"
    }
    return DesignProof(model, run, traces)
