"""The ``daxcheck`` command line.

    daxcheck check [--design D ...] [--property P ...] [--engine explicit|z3] [bounds] [budgets]
    daxcheck replay FILE [--design D] [--pmem PATH] [--force] [--crash-states all|N] [--seed S]
    daxcheck list designs|properties|lemmas|actions|hooks|queries [--verbose]
    daxcheck prove [--design D] [--property P] [--k K]      (k-induction with Z3)
    daxcheck query [NAME ...]                               (byte-offset questions to Z3)
    daxcheck oracle [--target loop-xfs|qemu-dax] [--kernel K] [--runs N] [--seed S]
                                              (root: compares the spec with a real kernel)
    daxcheck kernel setup [--kernel 6.12|6.1|all]   (the Debian kernels qemu-dax boots)

Exit codes (:data:`~daxcheck.checker.results.EXIT_CODES`, printed by ``--help``): 0 every
property holds within the bound, 12 a violation was found (or reproduced by replay), 75
incomplete (a budget ran out, or the solver said unknown), 2 bad input, 1 the gate or
``--expect`` found a difference (or replay's byte-level executor disagreed with the spec: an
internal error), 3 a user's predicate, lemma or design hook raised.
Bad input and a user's code that raises are reported on one line, never as a traceback
(``--traceback`` shows the full one).

:func:`main` runs the command in this process (uncontained: a user's code runs here); the
console script runs it under :mod:`daxcheck.supervisor` (a worker process, limits enforced
from outside, exit 3 or 1 for a worker that dies, 75 for ``--memory-limit``).

The package: :mod:`.parser` (the argument parser: the search commands' options;
:mod:`.options` the shared option types and groups, :mod:`.parser_tools` the tool
commands' options), :mod:`.common`
(one-line errors, the paths a command names, :func:`preflight_argv`), :mod:`.runs` (what
the search commands share), :mod:`.dispatch` (:func:`main`) and one module per command
(:mod:`.check`, :mod:`.simulate`, :mod:`.gate`, :mod:`.replay`, :mod:`.view`,
:mod:`.graph`, :mod:`.prove`, :mod:`.query`, :mod:`.list`, :mod:`.oracle`).

Lazy on purpose: importing this package loads only the parser and the path checks, not the
spec or an engine (~1.5 s), because the supervisor's parent process imports it to parse
and refuse bad input (:mod:`daxcheck.supervisor`); :func:`main` and :func:`gate_command`
load :mod:`.dispatch` / :mod:`.gate` on first access (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib

from .common import EXIT_INTERRUPTED, OUTPUT_FILES, PATH_OPTIONS, check_paths, esc, preflight_argv
from .parser import BOUND_HELP, BOUND_NAMES, EPILOG, build_parser

_LAZY = {"main": "dispatch", "gate_command": "gate"}
"""Names loaded on first access, from the module that imports the engines."""

__all__ = [
    "BOUND_HELP",
    "BOUND_NAMES",
    "EPILOG",
    "EXIT_INTERRUPTED",
    "OUTPUT_FILES",
    "PATH_OPTIONS",
    "build_parser",
    "check_paths",
    "esc",
    "gate_command",
    "main",
    "preflight_argv",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
