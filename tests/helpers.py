"""Shared helpers for the tests: build models and drive them by action."""

from __future__ import annotations

import subprocess
import sys

from daxcheck.spec.designs import ALL_FAMILIES, DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import (
    Crash,
    Evict,
    Fallocate,
    Fault,
    Fdatasync,
    Flush,
    Mmap,
    PmdFault,
    Punch,
    Read,
    Reflink,
    Seal,
    Store,
    Truncate,
    Write,
)
from daxcheck.spec.scopes import is_coverage_scope
from daxcheck.spec.state import Bounds

WIDE = Bounds(files=2, blocks=2, phys=4, tokens=2, procs=2, depth=6)


def model(design="cow-srcmap", bounds=WIDE, **changes):
    """A model of a shipped design (optionally varied) with every action family (unless
    ``families`` is among the changes)."""
    d = DESIGNS[design].variant(**{"families": ALL_FAMILIES, **changes})
    return DaxModel(d, bounds)


def run(m, *actions, s=None):
    """Apply ``actions`` in order from ``s`` (default: the initial state); each must be
    enabled.  Returns the final state."""
    s = m.init_states()[0] if s is None else s
    for a in actions:
        ns = m.next_state(s, a)
        assert ns is not None, f"{a.describe()} unexpectedly disabled"
        s = ns
    return s


def field(m, s, name, *idx):
    """Value of field ``name`` at index ``idx`` of state ``s``."""
    o = getattr(m.L, name)
    for i in idx:
        o = o[i]
    return s[o]


def reseal(doc: dict) -> dict:
    """``doc`` (an ITF document) with its integrity checksum recomputed, as if daxcheck had
    written it: for tests of the checks that come after the checksum."""
    from daxcheck.checker.trace import integrity_digest

    doc["#meta"]["integrity"] = {"sha256": integrity_digest(doc)}
    return doc


def dax_here(*args):
    """Run ``daxcheck ARGS`` in this process (``cli.main``) with every registry isolated;
    returns ``(exit code, stdout, stderr)``.  An exception escaping ``main`` fails the
    test (it would be a traceback); ``SystemExit`` (argparse's --help) gives its code."""
    import contextlib
    import io

    from daxcheck import registries
    from daxcheck.checker.cli import main

    out, err = io.StringIO(), io.StringIO()
    with registries.isolated(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def dax(*args, cwd=None, env=None, traceback_ok=False):
    """Run ``python -m daxcheck ARGS`` in a subprocess (5 minutes at most); unless
    ``traceback_ok``, assert that nothing printed a Python traceback."""
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert traceback_ok or "Traceback" not in r.stderr, r.stderr
    return r


__all__ = [
    "dax",
    "dax_here",
    "reseal",
    "Crash",
    "Evict",
    "Fallocate",
    "Fault",
    "Fdatasync",
    "Flush",
    "Mmap",
    "PmdFault",
    "Punch",
    "Read",
    "Reflink",
    "Seal",
    "Store",
    "Truncate",
    "Write",
    "model",
    "run",
    "field",
    "WIDE",
]


def thorough_for(names, heavy):
    """Parameters for a test run per design: the design names ``names`` (a sequence of
    str), those in ``heavy`` marked ``thorough`` (deselected by default, run with ``-m
    thorough``).  ``heavy`` holds the designs where that one test takes seconds (measured
    with ``--durations``), so the default run keeps the check on the other designs and CI
    stays well under its time budget.  Raises ValueError for a heavy name not in ``names``
    (a renamed design would otherwise slip back into the default run unnoticed)."""
    import pytest

    stray = set(heavy) - set(names)
    if stray:
        raise ValueError(f"not among the test's designs: {sorted(stray)}")
    return [pytest.param(n, marks=pytest.mark.thorough) if n in heavy else n for n in names]


COVERAGE_SCOPES = frozenset(n for n, d in DESIGNS.items() if is_coverage_scope(d))
"""The coverage scopes (spec/scopes.py): the gate explores them in the default run, so the
per-design cross-checks of the engines run on them under ``-m thorough`` only."""


def per_design():
    """Parameters for a cross-check run on every design: the shipped designs by name, the
    coverage scopes marked ``thorough`` (:data:`COVERAGE_SCOPES`)."""
    return thorough_for(sorted(DESIGNS), COVERAGE_SCOPES)
