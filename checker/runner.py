"""Running checks: resolve names, build models, run an engine by name, save counterexamples.

This is the layer between the front end (CLI, gate, pytest plugin) and the engines; it
imports no ``rich``.  Names and files are resolved by :mod:`.resolve` (re-exported here:
``load_user_files``, ``load_designs_file``, ``pick``, ``pick_properties``,
``make_model``, ``hook_typos``); an engine is picked from the registry
(:mod:`.engines`, ``engines.get(name)``) and run with one
:class:`~.engine.EngineOptions` under :func:`~.engine.guarded_run`.  Bad input (unknown
names, bounds out of range, unreadable user files) raises :class:`InputError` with a
one-line message; the CLI prints it and exits 2.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from daxcheck.spec.model import DaxModel

from . import engines  # noqa: F401 (registers every engine)
from .engine import (  # noqa: F401
    REDUCTIONS,
    Budget,
    EngineOptions,
    guarded_run,
    run_engine,
    timed_out,
)
from .resolve import (  # noqa: F401 (re-exported)
    hook_typos,
    load_designs_file,
    load_user_files,
    make_model,
    pick,
    pick_properties,
)
from .results import INCOMPLETE, VIOLATED, CheckResult, InputError, Stats, Verdict, did_you_mean  # noqa: F401
from .trace import Trace, file_name_for

CHECK_ENGINES = {"explicit": "bfs", "z3": "bmc"}
"""``check --engine`` name -> registered engine (:mod:`.engines`)."""


@dataclass
class Check:
    """One design checked: its model, result, and counterexample traces per property."""

    model: DaxModel
    result: object
    traces: dict


def check_distributable(engine="explicit", *, exact=False, symmetry=False) -> None:
    """InputError naming the first option the distributed explorer does not support."""
    if engine != "explicit" or exact or symmetry:
        what = "--engine z3" if engine != "explicit" else "--exact" if exact else "--symmetry"
        raise InputError(f"{what} is not supported with --workers N >= 2")


def traces_of(model, result: CheckResult, meta: dict) -> dict:
    """``{property name: Trace}`` of the VIOLATED verdicts of ``result`` (ITF ``#meta``
    ``meta``: engine, command)."""
    return {
        name: Trace.from_path(model, v.trace, name, meta)
        for name, v in result.verdicts.items()
        if v.status == VIOLATED
    }


def run(engine: str, options: EngineOptions, meta: dict | None = None) -> Check:
    """Run the registered engine ``engine`` (:func:`~.engine.run_engine`: a user's code
    contained, the budget's time limit as a deadline) and turn its counterexamples into
    traces (``#meta`` ``meta``; default: the engine's name).  Raises InputError (unknown
    engine, unsupported options), UserCodeError naming the design."""
    res = run_engine(engine, options)
    return Check(
        options.model, res, traces_of(options.model, res, meta or {"engine": engine, "command": ""})
    )


def reduce_supported(reduce, engine, exact, symmetry, pool, checkpoint, por) -> None:
    """InputError (one line) when ``check --reduce`` cannot run with these options: the
    explicit engine in one process only, without ``--exact``, ``--symmetry``,
    ``--checkpoint``/``--resume`` or ``--por``."""
    if reduce not in REDUCTIONS:
        raise InputError(f"unknown reduction {reduce!r} (valid: {', '.join(REDUCTIONS)})")
    for bad, what in (
        (engine != "explicit", f"--engine {engine} (the explicit engine only)"),
        (pool is not None, "--workers N >= 2 (one process only)"),
        (exact, "--exact"),
        (bool(symmetry), "--symmetry"),
        (checkpoint is not None, "--checkpoint/--resume"),
        (por, "--por"),
    ):
        if bad:
            raise InputError(f"--reduce {reduce}: not supported with {what}")


def run_check(
    model,
    props,
    engine="explicit",
    budget=Budget(),
    progress=None,
    command=None,
    *,
    exact=False,
    symmetry=False,
    pool=None,
    checkpoint=None,
    por=False,
    reduce=None,
) -> Check:
    """Check ``props`` on ``model`` with the named engine ("explicit": the ``bfs`` engine,
    or ``distributed`` with a ``pool``; "z3": ``bmc``); the counterexamples come back as
    :class:`Trace` objects keyed by property name.
    ``exact``: the explicit engine compares whole states instead of fingerprints;
    ``symmetry``: it reduces by the design's symmetric index sets; ``pool``: a
    :class:`~daxcheck.checker.distributed.bfs.WorkerPool` runs the explicit engine
    distributed over its Ray workers (same result; InputError with ``exact``,
    ``symmetry`` or the z3 engine); ``checkpoint``: a
    :class:`~.explicit.checkpoint.CheckpointOptions` (save the run, or resume it; one
    process only); ``por``: by ample sets (partial-order reduction, race designs);
    ``reduce``: "lipton" runs the explicit engine over atomic blocks
    (:mod:`.explicit.reduction`; InputError with another engine or option).  Raises
    :class:`~daxcheck.usercode.UserCodeError` (naming the design) when a user's predicate or
    hook raises or a predicate returns a non-bool; ``budget.time_limit`` also stops a
    user's code that never returns (:func:`guarded_run`: all verdicts INCOMPLETE)."""
    if engine not in CHECK_ENGINES:
        raise InputError(f"unknown engine {engine!r} (valid: {', '.join(CHECK_ENGINES)})")
    if reduce is not None:
        reduce_supported(reduce, engine, exact, symmetry, pool, checkpoint, por)
    if pool is not None:
        check_distributable(engine, exact=exact, symmetry=symmetry)
        if checkpoint is not None:
            raise InputError("--checkpoint/--resume run in one process: drop --workers")
    options = EngineOptions(
        model,
        tuple(props),
        budget=budget,
        progress=progress,
        exact=exact,
        symmetry=symmetry,
        checkpoint=checkpoint,
        por=por,
        pool=pool,
    )
    # Distributed: the driver's own waits for the workers are bounded by the time limit
    # (DistributedExplorer kills workers stuck past it); the deadline bounds the user
    # code the driver runs itself (read sets, level 0, rebuilding a counterexample).
    try:
        return run(
            "lipton"
            if reduce is not None
            else ("distributed" if pool is not None else CHECK_ENGINES[engine]),
            options,
            {"engine": engine, "command": command or ""},
        )
    finally:
        if pool is not None:
            pool.revive()  # workers killed at the time limit: replaced, off the clock


def run_simulate(
    model,
    props,
    depth=200,
    runs=1000,
    seed=0,
    time_limit=None,
    weights=None,
    swarm=False,  # noqa: FBT002  (positional in cli.simulate; issue 24: after the merge)
    progress=None,
    command=None,
    workers=1,
    address=None,
) -> Check:
    """Random walks on ``model`` (the ``simulate`` engine,
    :func:`~daxcheck.checker.simulate.simulate`); each violation comes back shrunk as a
    :class:`Trace` keyed by property name.  InputError for bad parameters (depth, runs,
    weights); a user's code is contained as in :func:`guarded_run`.  ``workers`` >= 2:
    the walks are split over that many Ray workers, swarm style (the ``swarm`` engine,
    :mod:`daxcheck.checker.distributed.swarm`; ``address``: join that Ray cluster);
    InputError when Ray is missing or cannot start."""
    options = EngineOptions(
        model,
        tuple(props),
        depth=depth,
        budget=Budget(time_limit=time_limit),
        progress=progress,
        runs=runs,
        seed=seed,
        weights=weights,
        swarm=swarm,
        workers=workers,
        address=address,
    )
    how = f"seed {seed}{', swarm' if swarm else ''}" + (
        f", {workers} workers" if workers >= 2 else ""
    )
    meta = {"engine": f"simulate ({how}, shrunk)", "command": command or ""}
    return run("swarm" if workers >= 2 else "simulate", options, meta)


def run_prove(model, props, k=None, max_k=4, lemmas="shipped", time_limit=None, command: str = ""):
    """One design's turn of ``daxcheck prove``
    (:func:`~daxcheck.checker.symbolic.proof.prove_design`: k-induction under the time
    limit's deadline, refuted properties as traces).  Returns its ``DesignProof``; raises
    InputError for bad arguments.  Z3 is loaded here, on first use."""
    from .symbolic.proof import prove_design

    return prove_design(
        model, props, k=k, max_k=max_k, lemmas=lemmas, time_limit=time_limit, command=command
    )


def check_prove_arguments(k, max_k) -> None:
    """InputError unless ``k``/``max_k`` are valid induction depths (checked before any
    work).  Z3 is loaded here, on first use."""
    from .symbolic.proof import check_induction_depths

    check_induction_depths(k, max_k)


def save_traces(check: Check, out_dir, *, force=False) -> list[tuple[str, str]]:
    """Write each counterexample of ``check`` to ``out_dir``; returns ``[(path, status)]``
    with status "written", "unchanged" or "conflict: ..." (an existing different file is
    never overwritten without ``force``)."""
    out = []
    for name, t in check.traces.items():
        path = Path(out_dir) / file_name_for(check.model.design.name, name)
        try:
            out.append((str(path), t.write(check.model, path, force=force)))
        except FileExistsError as e:
            out.append((str(path), f"conflict: {e}"))
        except OSError as e:
            out.append((str(path), f"conflict: {path}: cannot write: {e.strerror or e}"))
    return out


def command_line(argv) -> str:
    """The command as typed, for ITF #meta."""
    return "daxcheck " + " ".join(shlex.quote(a) for a in argv)
