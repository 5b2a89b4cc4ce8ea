"""One engine interface: options in, :class:`~.results.CheckResult` out.

Modelled on stateright's ``Checker``: every search strategy daxcheck has is an
:class:`Engine` with a ``name`` and one method, ``check(options) -> CheckResult``, and the
runner picks one by name from :data:`ENGINES` (``get("bfs")``).  What a run is asked to do
is one frozen :class:`EngineOptions` (model, properties, depth, budgets, reductions,
checkpoint, progress callback, strategy-specific settings); what it found is one
:class:`~.results.CheckResult`: a :class:`~.results.Verdict` per property (status, depth,
complete or not, the counterexample trace ``[(action index, state bytes)]``), and
:class:`~.results.Stats` (states, transitions, depth reached, seconds, why the run stopped
early: ``stats.stopped``; None when it was not cut short).

The engine classes live with their implementations; :mod:`.engines` registers them
all: ``bfs`` (batched explicit BFS), ``reference`` (per-state explicit BFS),
``bmc`` (Z3 bounded model checking), ``prove`` (Z3 k-induction), ``simulate`` (random
walks), ``distributed`` (explicit BFS over Ray workers), ``swarm`` (random walks over Ray
workers).  Engines never call each other's private names; the machinery they share is
public (e.g. :meth:`.explicit.levels.BatchedExplorer.dedupe`).

This module also holds what every engine run needs from the support layer: a user's code
contained (:func:`guarded_run`) and the all-incomplete result of a run stopped in it
(:func:`timed_out`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from daxcheck.usercode import TimeLimitReached, UserCodeError, deadline

from .results import INCOMPLETE, CheckResult, InputError, Stats, Verdict, mark_vacuous

REDUCTIONS = ("lipton",)
"""``check --reduce`` choices: "lipton" runs the registered engine of that name
(:mod:`.explicit.reduction`)."""


@dataclass(frozen=True)
class Budget:
    """Limits of one run: ``max_states`` distinct states, ``time_limit`` seconds (None =
    unlimited); ``stop``: an object with ``is_set()`` (a :class:`threading.Event`), set to
    end the search early as if a budget ran out (Ctrl-C in ``daxcheck check``: what was
    found so far is kept, the rest is incomplete), checked between chunks (None: never)."""

    max_states: int | None = None
    time_limit: float | None = None
    stop: Any = field(default=None, compare=False)

    def stopped(self) -> str | None:
        """ "interrupted (Ctrl-C)" when :attr:`stop` is set, else None."""
        return INTERRUPTED if self.stop is not None and self.stop.is_set() else None


INTERRUPTED = "interrupted (Ctrl-C)"
"""``Stats.stopped`` of a search ended by :attr:`Budget.stop`."""


@dataclass(frozen=True)
class EngineOptions:
    """Everything one engine run is asked to do.

    ``model``: the :class:`~daxcheck.spec.model.DaxModel` (design + bounds, its scope);
    ``properties``: the :class:`~daxcheck.properties.Property` list to check (a tuple);
    ``depth``: BFS levels, BMC/induction steps or walk length in actions (None: the
    model's ``bounds.depth``; simulate: 200); ``budget``: a
    :class:`Budget` (``max_states`` distinct states, ``time_limit``
    seconds, ``stop`` event); ``progress``: called with a :class:`~.results.Stats` about
    every ``progress_every`` seconds (None: never).

    Explicit BFS only: ``exact`` (compare whole states, not 64-bit fingerprints),
    ``symmetry`` (False, True: the design's symmetric index sets, or a tuple of sets),
    ``por`` (partial-order reduction by ample sets), ``checkpoint`` (a
    :class:`~.explicit.checkpoint.CheckpointOptions`), ``memo`` (reference explorer:
    successors memoised on read sets).  Distributed: ``pool`` (a
    :class:`~.distributed.bfs.WorkerPool`), ``handoff`` (frontier size at which the driver
    hands over; None: one chunk), ``workers``/``address`` (swarm simulation: Ray task
    count and cluster).  Simulation: ``runs`` (walks; None: until the time limit),
    ``seed``, ``weights`` (action family -> weight), ``swarm``.  Prove: ``k``,
    ``max_k`` (induction depths), ``lemmas`` ("none", "shipped" or "mined": the
    candidates offered).
    ``stats_out``: a dict some engines fill with extra figures (distributed: memory).
    """

    model: Any
    properties: tuple = ()
    depth: int | None = None
    budget: Budget = Budget()
    progress: Callable[[Stats], None] | None = field(default=None, compare=False)
    progress_every: float = 0.25
    exact: bool = False
    symmetry: Any = False
    por: bool = False
    checkpoint: Any = None
    memo: bool = True
    pool: Any = field(default=None, compare=False)
    handoff: int | None = None
    workers: int = 1
    address: str | None = None
    runs: int | None = 1000
    seed: int = 0
    weights: dict | None = field(default=None, compare=False)
    swarm: bool = False
    k: int | None = None
    max_k: int | None = None
    lemmas: str = "shipped"
    stats_out: dict | None = field(default=None, compare=False)

    @property
    def time_limit(self) -> float | None:
        """The budget's time limit in seconds (None: unlimited)."""
        return self.budget.time_limit


@runtime_checkable
class Engine(Protocol):
    """A search strategy: ``name`` (its key in :data:`ENGINES`), ``stats_type`` (the
    :class:`~.results.Stats` subclass its results carry) and ``check``."""

    name: str
    stats_type: type

    def check(self, options: EngineOptions) -> CheckResult:
        """Check ``options.properties`` on ``options.model``.  Returns one verdict per
        property, in the order given.  Raises :class:`~.results.InputError` for options
        the engine does not support, :class:`~daxcheck.usercode.UserCodeError` when a
        user's predicate or hook fails."""
        ...


ENGINES: dict[str, Engine] = {}
"""The registered engines by name (:func:`register`, :func:`get`)."""


def register(engine: Engine) -> Engine:
    """Add ``engine`` to :data:`ENGINES` under its ``name`` (replacing one of that name);
    returns it."""
    ENGINES[engine.name] = engine
    return engine


def get(name: str) -> Engine:
    """The engine called ``name``.  Raises :class:`~.results.InputError` for an unknown
    name, listing the registered ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise InputError(f"unknown engine {name!r} (valid: {', '.join(ENGINES)})") from None


def timed_out(model, props, reason: str, seconds: float, stats_type=Stats) -> CheckResult:
    """The result of a run the hard deadline stopped (:func:`guarded_run`): every property
    INCOMPLETE (depth 0: no level is known to be complete), ``stats.stopped`` the reason
    (statistics of type ``stats_type``)."""
    return CheckResult(
        model.design.name,
        model.bounds.as_dict(),
        {p.name: Verdict(p.name, INCOMPLETE, 0) for p in props},
        stats_type(seconds=seconds, stopped=reason),
    )


def guarded_run(model, props, time_limit, run, stats_type=Stats):
    """``run()`` (an engine run returning a :class:`CheckResult`) with a user's code
    contained: a :class:`~daxcheck.usercode.UserCodeError` is re-raised naming the design,
    and with a ``time_limit`` a SIGALRM deadline (:func:`daxcheck.usercode.deadline`) stops
    user code that never returns, giving an all-INCOMPLETE result whose reason names the
    user's ``file:line`` ("time limit 2s reached in user code /x/mine.py:8").  Engine
    agnostic: the engines keep their own budget checks; the deadline only fires when they
    cannot run."""
    t0 = time.perf_counter()
    try:
        with deadline(time_limit):
            return run()
    except TimeLimitReached as e:
        return timed_out(model, props, e.reason(), time.perf_counter() - t0, stats_type)
    except UserCodeError as e:
        msg = str(e)
        msg = (
            msg[:-1] + f", design {model.design.name})"
            if msg.endswith(")")
            else (f"{msg} (design {model.design.name})")
        )
        raise UserCodeError(msg) from e.__cause__


def run_engine(name: str, options: EngineOptions, *, guarded: bool = True) -> CheckResult:
    """``get(name).check(options)``, under :func:`guarded_run` unless ``guarded`` is False
    (the deadline is the budget's time limit, unless the engine says user code runs
    elsewhere: ``in_process = False``, e.g. walks on Ray workers, each guarded there).
    Raises what the engine raises (InputError, UserCodeError naming the design)."""
    engine = get(name)
    if not guarded:
        return mark_vacuous(engine.check(options))
    limit = options.time_limit if getattr(engine, "in_process", True) else None
    return mark_vacuous(
        guarded_run(
            options.model,
            options.properties,
            limit,
            lambda: engine.check(options),
            engine.stats_type,
        )
    )
