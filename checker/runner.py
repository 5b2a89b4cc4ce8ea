"""Running checks: resolve names, build models, call an engine, save counterexamples.

This is the layer between the CLI and the engines; it imports no ``rich``.  Bad input
(unknown names, bounds out of range, unreadable user files) raises :class:`InputError`
with a one-line message; the CLI prints it and exits 2.
"""
from __future__ import annotations

import dataclasses
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from daxcheck.properties import PropertyFileError, load_properties_file
from daxcheck.spec.ops import ACTIONS
from daxcheck.spec.designs import DESIGNS, Design, DesignError, hooks
from daxcheck.userfile import GIVEN
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import BoundsError

from .explicit import Budget, explore
from .results import (INCOMPLETE, VIOLATED, CheckResult, InputError, Stats, Verdict,  # noqa: F401
                      did_you_mean)
from .trace import Trace, file_name_for


def load_designs_file(path: str) -> list[str]:
    """Import a user's Python file that calls ``register_design``; returns the names it
    added.  Raises InputError (missing file, error in it, no design registered)."""
    from daxcheck.userfile import UserFileError, import_user_file
    try:
        added = import_user_file(path, "design").names("designs")
    except UserFileError as e:
        raise InputError(str(e) + _design_hint(str(e))) from None
    if not added:
        raise InputError(f"{path} registers no design (call register_design)")
    for line in hook_typos(added):
        sys.stderr.write(f"daxcheck: warning: {line}\n")
    return added


def hook_typos(names) -> list[str]:
    """Warnings, one line each, for a method of a registered design's class (``names``:
    design names) that is no hook of :class:`~daxcheck.spec.designs.Design` but is close to
    one (a mistyped override, which would silently change nothing)."""
    known = [h for h, _ in hooks()]
    out = []
    for cls in dict.fromkeys(type(DESIGNS[n]) for n in names if n in DESIGNS):
        for attr, v in vars(cls).items():
            if attr.startswith("_") or not callable(v) or hasattr(Design, attr) \
                    or attr in Design._OLD_HOOKS or attr == "cow_allowed":   # earlier names
                continue
            hint = did_you_mean(attr, known)
            if hint:
                out.append(f"{cls.__name__}.{attr} overrides no hook{hint}")
    return out


def _design_hint(msg: str) -> str:
    """A "did you mean" for a design file's error naming an unknown setting or action
    family (:class:`~daxcheck.spec.designs.DesignError`), else ""."""
    m = re.search(r"unknown setting '([^']*)'", msg)
    if m:
        return did_you_mean(m.group(1), [f.name for f in dataclasses.fields(Design)])
    m = re.search(r"unknown action famil(?:y|ies) ([\w, ]+)", msg)
    if m:
        return did_you_mean(m.group(1).split(",")[0].strip(), ACTIONS)
    return ""


def load_user_files(designs_file=None, properties_file=None) -> None:
    """Load the optional user design and property files (None: not given; InputError on
    failure, an empty path included).  They are noted in :data:`daxcheck.userfile.GIVEN`:
    files given on the command line take precedence over those a trace or manifest
    records.  Under the supervisor a limited phase: a file that never finishes loading is
    stopped by ``--time-limit``."""
    from daxcheck.supervisor import phase
    if designs_file is not None or properties_file is not None:
        phase("loading user files " + " ".join(
            f for f in (designs_file, properties_file) if f is not None), limited=True)
    for f, kind in ((designs_file, "designs"), (properties_file, "properties")):
        if f:
            GIVEN[str(Path(f).resolve())] = kind
    if designs_file is not None:
        load_designs_file(designs_file)
    if properties_file is not None:
        try:
            load_properties_file(properties_file)
        except PropertyFileError as e:
            raise InputError(str(e)) from None


def pick(names, registry, what):
    """The registry entries named (all when ``names`` is empty).  InputError for an
    unknown name, listing the valid ones."""
    if not names:
        return list(registry.values())
    out = []
    for n in names:
        if n not in registry:
            raise InputError(f"unknown {what} {n!r}{did_you_mean(n, registry)} (valid: "
                             f"{', '.join(registry)})")
        out.append(registry[n])
    return out


def pick_properties(names):
    """The invariants named (all shipped and user invariants when ``names`` is empty); a
    lemma's name is accepted too, so ``check --property <lemma>`` confirms a lemma with
    the explicit engine.  InputError for an unknown name."""
    from daxcheck.properties import LEMMAS, PROPERTIES
    return pick(names, PROPERTIES if not names else {**PROPERTIES, **LEMMAS}, "property")


def make_model(design, overrides: dict) -> DaxModel:
    """Model of ``design`` at its default bounds with ``overrides`` (None values ignored);
    a design with user code runs guarded (:func:`daxcheck.usercode.guard_design`).
    InputError for bounds out of range."""
    from daxcheck.usercode import guard_design
    try:
        return DaxModel(guard_design(design), design.bounds.replace(**overrides))
    except (BoundsError, DesignError) as e:
        raise InputError(str(e)) from None


@dataclass
class Check:
    """One design checked: its model, result, and counterexample traces per property."""

    model: DaxModel
    result: object
    traces: dict


def timed_out(model, props, reason: str, seconds: float, stats_type=Stats) -> CheckResult:
    """The result of a run the hard deadline stopped (:func:`guarded_run`): every property
    INCOMPLETE (depth 0: no level is known to be complete), ``stats.stopped`` the reason
    (statistics of type ``stats_type``)."""
    return CheckResult(model.design.name, model.bounds.as_dict(),
                       {p.name: Verdict(p.name, INCOMPLETE, 0) for p in props},
                       stats_type(seconds=seconds, stopped=reason))


def guarded_run(model, props, time_limit, run, stats_type=Stats):
    """``run()`` (an engine run returning a :class:`CheckResult`) with a user's code
    contained: a :class:`~daxcheck.usercode.UserCodeError` is re-raised naming the design,
    and with a ``time_limit`` a SIGALRM deadline (:func:`daxcheck.usercode.deadline`) stops
    user code that never returns, giving an all-INCOMPLETE result whose reason names the
    user's ``file:line`` ("time limit 2s reached in user code /x/mine.py:8").  Engine
    agnostic: the engines keep their own budget checks; the deadline only fires when they
    cannot run."""
    import time
    from daxcheck.usercode import TimeLimitReached, UserCodeError, deadline
    t0 = time.perf_counter()
    try:
        with deadline(time_limit):
            return run()
    except TimeLimitReached as e:
        return timed_out(model, props, e.reason(), time.perf_counter() - t0, stats_type)
    except UserCodeError as e:
        msg = str(e)
        msg = msg[:-1] + f", design {model.design.name})" if msg.endswith(")") else (
            f"{msg} (design {model.design.name})")
        raise UserCodeError(msg) from e.__cause__


def check_distributable(engine="explicit", exact=False, symmetry=False) -> None:
    """InputError naming the first option the distributed explorer does not support."""
    if engine != "explicit" or exact or symmetry:
        what = "--engine z3" if engine != "explicit" else "--exact" if exact else "--symmetry"
        raise InputError(f"{what} is not supported with --workers N >= 2")


def run_check(model, props, engine="explicit", budget=Budget(), progress=None,
              command=None, exact=False, symmetry=False, pool=None, checkpoint=None,
              por=False) -> Check:
    """Check ``props`` on ``model`` with the named engine ("explicit" or "z3"); the
    counterexamples come back as :class:`Trace` objects keyed by property name.
    ``exact``: the explicit engine compares whole states instead of fingerprints;
    ``symmetry``: it reduces by the design's symmetric index sets; ``pool``: a
    :class:`~daxcheck.checker.distributed.bfs.WorkerPool` runs the explicit engine
    distributed over its Ray workers (same result; InputError with ``exact``,
    ``symmetry`` or the z3 engine); ``checkpoint``: a
    :class:`~.explicit.checkpoint.CheckpointOptions` (save the run, or resume it; one
    process only); ``por``: by ample sets (partial-order reduction, race designs).  Raises
    :class:`~daxcheck.usercode.UserCodeError` (naming the design) when a user's predicate or
    hook raises or a predicate returns a non-bool; ``budget.time_limit`` also stops a
    user's code that never returns (:func:`guarded_run`: all verdicts INCOMPLETE)."""
    if engine not in ("explicit", "z3"):
        raise InputError(f"unknown engine {engine!r} (valid: explicit, z3)")

    if pool is not None:
        check_distributable(engine, exact, symmetry)
        if checkpoint is not None:
            raise InputError("--checkpoint/--resume run in one process: drop --workers")

    def run():
        if pool is not None:
            from .distributed.bfs import explore_distributed
            return explore_distributed(model, props, pool, budget=budget, progress=progress)
        if engine == "explicit":
            return explore(model, props, budget=budget, progress=progress, exact=exact,
                           symmetry=symmetry, checkpoint=checkpoint, por=por)
        from .symbolic.engine import bmc
        report = None if progress is None else (
            lambda k, sec: progress(Stats(depth=k, seconds=sec)))
        return bmc(model, props, model.bounds.depth, time_limit=budget.time_limit,
                   progress=report)
    # Distributed: the driver's own waits for the workers are bounded by the time limit
    # (DistributedExplorer kills workers stuck past it); the deadline here bounds the user
    # code the driver runs itself (read sets, level 0, rebuilding a counterexample).
    try:
        res = guarded_run(model, props, budget.time_limit, run)
    finally:
        if pool is not None:
            pool.revive()       # workers killed at the time limit: replaced, off the clock
    traces = {}
    for name, v in res.verdicts.items():
        if v.status == VIOLATED:
            traces[name] = Trace.from_path(model, v.trace, name,
                                           {"engine": engine, "command": command or ""})
    return Check(model, res, traces)


def run_simulate(model, props, depth=200, runs=1000, seed=0, time_limit=None, weights=None,
                 swarm=False, progress=None, command=None, workers=1, address=None) -> Check:
    """Random walks on ``model`` (:func:`~daxcheck.checker.simulate.simulate`); each
    violation comes back shrunk as a :class:`Trace` keyed by property name.  InputError for
    bad parameters (depth, runs, weights); a user's code is contained as in
    :func:`guarded_run`.  ``workers`` >= 2: the walks are split over that many Ray
    workers, swarm style (:mod:`daxcheck.checker.distributed.swarm`; ``address``: join
    that Ray cluster); InputError when Ray is missing or cannot start."""
    from .simulate import SimStats, SimulationError, simulate
    if workers >= 2:
        from .distributed.swarm import simulate_distributed

        def go():
            return simulate_distributed(model, props, workers, depth=depth, runs=runs,
                                        seed=seed, time_limit=time_limit, weights=weights,
                                        swarm=swarm, address=address)
    else:
        def go():
            return simulate(model, props, depth=depth, runs=runs, seed=seed,
                            time_limit=time_limit, weights=weights, swarm=swarm,
                            progress=progress)
    try:
        res = guarded_run(model, props, time_limit if workers < 2 else None, go, SimStats)
    except SimulationError as e:
        raise InputError(str(e)) from None
    how = f"seed {seed}{', swarm' if swarm else ''}" + (
        f", {workers} workers" if workers >= 2 else "")
    meta = {"engine": f"simulate ({how}, shrunk)", "command": command or ""}
    traces = {name: Trace.from_path(model, v.trace, name, meta)
              for name, v in res.verdicts.items() if v.status == VIOLATED}
    return Check(model, res, traces)


def save_traces(check: Check, out_dir, force=False) -> list[tuple[str, str]]:
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
