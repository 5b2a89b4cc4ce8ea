"""The in-process command line: :func:`main` parses, checks the paths, runs one command
module and turns every exception into one line and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys

from daxcheck.fileio import InputFileError, redirected_writes
from daxcheck.spec.vocab import SymbolicUseError
from daxcheck.supervisor import is_worker, send_file, stopped_by_supervisor
from daxcheck.usercode import (
    Terminated,
    TimeLimitReached,
    UserCodeError,
    is_interrupt,
    raised,
    signal_handlers,
    user_frame,
)

from ..explicit.checkpoint import CheckpointError
from ..gate import ManifestError
from ..outputs import OutputError
from ..report import make_console
from ..results import EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_UNEXPECTED, InputError
from ..trace import TraceError
from . import check, coverage, gate, graph, oracle, prove, query, replay, simulate, view
from . import list as list_command
from .common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    check_paths,
    internal_error,
    one_line,
    refuse_empty_paths,
    user_code_error,
    user_path_error,
)
from .parser import build_parser

BAD_INPUT = (InputError, TraceError, ManifestError, OutputError, InputFileError, CheckpointError)
"""Exceptions that are bad input: one line, exit 2."""


def main(argv=None) -> int:
    """Entry point of the ``daxcheck`` command in this process (the supervisor's worker,
    ``DAXCHECK_NO_SUPERVISOR=1``, tests); returns the exit code (130 after SIGINT, 143
    after SIGTERM, both handled so that cleanup runs; :data:`EXIT_CODES` otherwise).
    Whatever the input, the outcome is an exit code and at most one error line on stderr,
    never a traceback (``--traceback`` asks for it).  Uncontained: a user's code runs in
    this process."""
    argv = sys.argv[1:] if argv is None else argv
    with signal_handlers():
        try:
            return _main(argv)
        except Terminated:
            if not stopped_by_supervisor():  # else the supervisor prints why
                sys.stderr.write("daxcheck: terminated\n")
            return EXIT_TERMINATED
        except KeyboardInterrupt as e:
            if not is_interrupt(e):  # raised by code, outside any user frame: a bug
                return internal_error(e, traceback="--traceback" in argv)
            sys.stderr.write("daxcheck: interrupted\n")
            return EXIT_INTERRUPTED


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    console = make_console()
    try:
        with _streams_kept():
            return _dispatch(args, argv, console)
    except BAD_INPUT as e:
        sys.stderr.write(f"daxcheck: error: {one_line(e)}\n")
        return EXIT_BAD_INPUT
    except UserCodeError as e:
        return user_code_error(e, args)
    except TimeLimitReached as e:  # outside an engine run (the runner reports its own)
        sys.stderr.write(f"daxcheck: incomplete: {e.reason()}\n")
        return EXIT_INCOMPLETE
    except BaseException as e:  # an engine disagreement, a user's code, or a bug: one line
        if is_interrupt(e):
            raise
        return _other_error(e, args)


def _other_error(e: BaseException, args) -> int:
    """One line and the exit code for an exception no command turned into one."""
    if isinstance(e, SymbolicUseError):
        sys.stderr.write(f"daxcheck: error: cannot evaluate symbolically: {one_line(e)}\n")
        return EXIT_BAD_INPUT
    if type(e).__name__ == "EngineDisagreement":
        sys.stderr.write(f"daxcheck: internal error: {one_line(e)}\n")
        return EXIT_UNEXPECTED
    if isinstance(e, MemoryError) and getattr(args, "memory_limit", None) is not None:
        sys.stderr.write(
            f"daxcheck: incomplete: out of memory (--memory-limit {args.memory_limit:g} MB)\n"
        )
        return EXIT_INCOMPLETE
    if user_frame(e):  # raised in a user's file (a hook, a domain, sys.exit())
        return user_code_error(raised(e, "user code"), args)
    bad = user_path_error(e, args)
    if bad:  # an OS error on a path the user gave: bad input, not a bug
        sys.stderr.write(f"daxcheck: error: {bad}\n")
        return EXIT_BAD_INPUT
    return internal_error(e, traceback=args.traceback)


@contextlib.contextmanager
def _streams_kept():
    """Put back ``sys.stdout``/``sys.stderr`` when the block ends (a user's file or
    predicate that set them to None or closed them must not silence the error line)."""
    saved = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _dispatch(args, argv, console) -> int:
    """Check the paths the command line names (:func:`check_paths`), then run the
    command; returns its exit code."""
    refuse_empty_paths(args)
    check_paths(args)
    with _parent_writes(args):
        return _run(args, argv, console)


def _parent_writes(args):
    """In a supervised worker, every file the command writes (``--json``, ``--junit``,
    ``--summary``, ``--out`` traces, ``view --html``, ``graph --out``) is sent to the parent,
    which alone writes it once the worker has ended (:func:`daxcheck.supervisor.send_file`):
    what the user's code does to those files meanwhile is overwritten.  Kept here: a
    checkpoint (written by the search itself) and ``gate --update``'s manifest and traces
    (read back while it writes them)."""
    if not is_worker() or (args.cmd == "gate" and args.update):
        return contextlib.nullcontext()
    keep = [
        os.path.abspath(d)
        for d in (getattr(args, "checkpoint", None), getattr(args, "resume", None))
        if d
    ]

    def kept(path) -> bool:
        p = os.path.abspath(path)
        return any(p == d or p.startswith(d.rstrip(os.sep) + os.sep) for d in keep)

    return redirected_writes(send_file, kept)


def _run(args, argv, console) -> int:
    if args.cmd == "replay" and args.on == "qemu-dax":
        return oracle.replay_on_kernel(args, console)
    if args.cmd in ("check", "gate", "simulate", "prove"):
        mod = {"check": check, "gate": gate, "simulate": simulate, "prove": prove}[args.cmd]
        return mod.run(args, argv, console)
    if args.cmd in ("oracle", "kernel"):
        return oracle.run(args, console)
    mod = {
        "replay": replay,
        "view": view,
        "graph": graph,
        "query": query,
        "list": list_command,
        "coverage": coverage,
    }[args.cmd]
    return mod.run(args, console)
