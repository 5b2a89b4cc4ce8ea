"""Result values of a check: per-property verdicts, exploration statistics, exit codes."""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass, field

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.state import file_name, fmt_index

EXIT_OK = 0
"""Every property holds within the bound (TLC: 0)."""
EXIT_VIOLATION = 12
"""A safety property is violated (TLC/Apalache: 12)."""
EXIT_INCOMPLETE = 75
"""A budget ran out before the bound was covered (TLC 75-77 family: not a pass)."""
EXIT_BAD_INPUT = 2
"""Unknown names, malformed files, impossible bounds."""
EXIT_UNEXPECTED = 1
"""``daxcheck gate`` or ``--expect``: computed verdicts differ from the manifest or from the
designs' expected verdicts."""
EXIT_USER_CODE = 3
"""A user's predicate, lemma or design hook raised (or a predicate returned a non-bool)."""

EXIT_CODES = (
    (EXIT_OK, "every property holds within the bound (a replayed trace no longer reproduces)"),
    (EXIT_VIOLATION, "a violation was found (or reproduced by replay)"),
    (
        EXIT_INCOMPLETE,
        "incomplete: a budget ran out (--time-limit also stops a "
        "user's code that never returns; --memory-limit), the solver said unknown, or a "
        "proof is not inductive (never a pass)",
    ),
    (
        EXIT_BAD_INPUT,
        "bad input: unknown design or property, malformed or tampered "
        "file (or a trace the spec contradicts), a special or oversized file, a path the "
        "system refuses (checked before any search), impossible bounds, a user file "
        "that cannot be imported (one line on stderr)",
    ),
    (EXIT_UNEXPECTED, "the gate or --expect found a difference"),
    (
        EXIT_USER_CODE,
        "a user's predicate, lemma or design hook raised, or a predicate "
        "returned a non-bool (one line naming file:line; --traceback for the full one), "
        "or, with user files given, the worker process died (a signal, os._exit)",
    ),
)
"""Every exit code with its meaning (``--help`` and the README print this table)."""


class InputError(ValueError):
    """Bad user input: the message is one line naming the problem (also importable from
    :mod:`daxcheck.checker.runner`)."""


HOLDS, VIOLATED, INCOMPLETE = "holds", "violated", "incomplete"
NOT_FOUND = "not found"
"""Random simulation found no violation: not a pass (random search proves nothing), exit 0
like TLC's -simulate."""


@dataclass
class Verdict:
    """The verdict for one property of one design.

    status: HOLDS (no violation in the explored space), VIOLATED, or INCOMPLETE (a budget
    ran out first).  depth: for VIOLATED, the length of the shortest counterexample
    (actions); for HOLDS, the depth bound covered.  complete: HOLDS over the whole
    reachable space (the frontier emptied before the depth bound).  trace: for VIOLATED,
    ``[(action index or -1, state bytes), ...]``; items: for VIOLATED, the items (pages,
    file blocks or segments) whose conjunct fails in the last state, for properties
    declared per item.  vacuous: for HOLDS, why the run could not falsify what the property
    means (its scope ``needs``, or none of its ``exercised_by`` families fired:
    :meth:`~daxcheck.properties.Property.vacuity`; set by :func:`mark_vacuous`), else None.
    """

    prop: str
    status: str
    depth: int
    complete: bool = False
    trace: list | None = None
    items: list = field(default_factory=list)
    vacuous: str | None = None

    def label(self) -> str:
        """``violated at depth N``, ``incomplete (covered depth N)``, ``holds to depth N``
        or ``holds (all reachable)``, each "holds" with `` (vacuous: why)`` when it is."""
        if self.status == VIOLATED:
            return f"violated at depth {self.depth}"
        if self.status == INCOMPLETE:
            return f"incomplete (covered depth {self.depth})"
        held = "holds (all reachable)" if self.complete else f"holds to depth {self.depth}"
        return held + (f" (vacuous: {self.vacuous})" if self.vacuous else "")


@dataclass
class Stats:
    """Exploration statistics: distinct states, transitions (enabled successor
    computations), deepest level reached, seconds, per-family counts of successful
    transitions, the reason a budget stopped the run (or None), and, for a run that
    de-duplicated states by 64-bit fingerprints, the probability that a fingerprint
    collision made it miss a state (TLC's estimate; None when states were compared
    exactly), the symmetry reduction used (None: not asked for; "off (why)" when the
    declared symmetry did not hold), and the partial-order reduction (None: not asked
    for; else how many states got an ample set, or "off (why)")."""

    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    fired: dict = field(default_factory=dict)
    stopped: str | None = None
    collision_probability: float | None = None
    symmetry: str | None = None
    por: str | None = None

    @property
    def rate(self) -> float:
        """Distinct states per second."""
        return self.states / self.seconds if self.seconds > 0 else float(self.states)


@dataclass
class CheckResult:
    """All verdicts of one design at one bound, with its statistics and the bounds used."""

    design: str
    bounds: dict
    verdicts: dict
    stats: Stats
    never_fired: list = field(default_factory=list)

    def exit_code(self) -> int:
        st = [v.status for v in self.verdicts.values()]
        if VIOLATED in st:
            return EXIT_VIOLATION
        if INCOMPLETE in st:
            return EXIT_INCOMPLETE
        return EXIT_OK


def mark_vacuous(result: CheckResult) -> CheckResult:
    """Set :attr:`Verdict.vacuous` on every HOLDS verdict of ``result`` whose property (an
    invariant or lemma registered by name) is vacuous at the run's bounds and fired counts
    (:meth:`~daxcheck.properties.Property.vacuity`: no state is read, so it costs nothing
    per state).  Returns ``result``."""
    for name, v in result.verdicts.items():
        p = PROPERTIES.get(name) or LEMMAS.get(name)
        if v.status == HOLDS and p is not None:
            v.vacuous = p.vacuity(result.bounds, result.stats.fired)
    return result


def combined_exit(results) -> int:
    """Exit code of several checks: violation beats incomplete beats ok."""
    codes = {r.exit_code() for r in results}
    for c in (EXIT_VIOLATION, EXIT_INCOMPLETE):
        if c in codes:
            return c
    return EXIT_OK


def fmt_item(item, dims=None) -> str:
    """An invariant's item (:attr:`Verdict.items`) as a label.  With ``dims`` (the index
    dimension of each component, :attr:`~daxcheck.properties.Property.dims`): each component
    named by its dimension, a block or segment attached to the file before it (``P0 a[1]``,
    ``a[0].s1``, ``p2``).  Without: guessed from the shape, as the shipped domains have it
    (a pmem page ``p1``, a file block ``a[0]``, a segment ``a[0].s1``)."""
    if dims is not None:
        comps = item if isinstance(item, tuple) else (item,)
        if len(comps) == len(dims) and all(isinstance(c, int) for c in comps):
            parts = []
            for d, i in zip(dims, comps):
                if d == "blk" and parts:
                    parts[-1] += f"[{i}]"
                elif d == "seg" and parts:
                    parts[-1] += f".s{i}"
                else:
                    parts.append(fmt_index(d, i) if d != "blk" else f"blk {i}")
            return " ".join(parts)
    if isinstance(item, int):
        return f"p{item}"
    if isinstance(item, tuple) and len(item) in (2, 3):
        out = f"{file_name(item[0])}[{item[1]}]"
        return out + (f".s{item[2]}" if len(item) == 3 else "")
    return str(item)


def item_dims(prop_name: str, L):
    """The index dimensions of the items of property ``prop_name`` in layout ``L``: the
    ones it declares (``dims=``), else those of the layout domain its ``each=`` returns
    (``L.file_blk_segs`` -> file, blk, seg; ``L.file_blks``; ``L.phys``; ``L.files``;
    ``L.procs``), else None (unknown: :func:`fmt_item` guesses)."""
    p = PROPERTIES.get(prop_name) or LEMMAS.get(prop_name)
    if p is None or p.each is None:
        return None
    if p.dims is not None:
        return p.dims
    try:
        items = tuple(p.each(L))
    except Exception:  # a user's domain that raises: reported where it is checked
        return None
    for dims, dom in (
        (("file", "blk", "seg"), L.file_blk_segs),
        (("file", "blk"), L.file_blks),
        (("phys",), L.phys),
        (("file",), L.files),
        (("proc",), L.procs),
    ):
        if items == tuple(dom):
            return dims
    return None


def fmt_items(prop_name: str, items, L) -> list[str]:
    """Labels of the failing ``items`` of property ``prop_name`` in layout ``L``
    (:func:`fmt_item` with :func:`item_dims`)."""
    dims = item_dims(prop_name, L) if items else None
    return [fmt_item(i, dims) for i in items]


FAILURES_DIR = "gate-failures"
"""Where a failed gate writes the counterexamples behind its differences (``gate --out``)."""


def did_you_mean(name, choices) -> str:
    """`` (did you mean 'x'?)`` naming the closest of ``choices`` to the unknown ``name``
    (:func:`difflib.get_close_matches`, up to two), or "" when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def segs_arg(text):
    """The argparse type of ``--segs``: ``N`` (an int: segments of an even split) or
    comma-separated byte offsets (a tuple: :attr:`~daxcheck.spec.state.Bounds.cuts`);
    validated by ``Bounds.replace``.  Raises argparse.ArgumentTypeError otherwise."""
    try:
        v = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or BYTE,BYTE,...") from None
    if len(v) == 1 and v[0] < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return v[0] if len(v) == 1 else v
