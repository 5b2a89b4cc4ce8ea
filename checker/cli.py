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
"""
from __future__ import annotations

import argparse
import contextlib
import math
from pathlib import Path
import re
import shlex
import signal
import sys
import textwrap
import threading

from rich.text import Text

from daxcheck import __version__
from daxcheck.supervisor import phase

from . import cli_oracle
from .results import (EXIT_BAD_INPUT, EXIT_CODES, EXIT_INCOMPLETE, EXIT_OK, EXIT_UNEXPECTED,
                      EXIT_USER_CODE, EXIT_VIOLATION, FAILURES_DIR, combined_exit,
                      did_you_mean)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, a "did you mean" for a mistyped command, choice or
    option, no abbreviated options (``--propert`` is not ``--property``), and exit code 2."""

    def __init__(self, *a, **kw):
        kw.setdefault("allow_abbrev", False)
        super().__init__(*a, **kw)

    def error(self, message):
        message = " ".join(message.split())
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            message += did_you_mean(m.group(1), re.findall(r"'([^']*)'", m.group(2)))
        m = re.search(r"unrecognized arguments: (.*)", message)
        if m:
            opts = {o for sp in [self, *self._subcommands()] for o in sp._option_string_actions}
            for word in m.group(1).split():
                if word.startswith("--"):
                    message += did_you_mean(word.split("=")[0], opts)
        sys.stderr.write(f"daxcheck: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)

    def _subcommands(self) -> list:
        """The parsers of this parser's subcommands (none for a subcommand's parser)."""
        return [p for a in self._actions if isinstance(a, argparse._SubParsersAction)
                for p in a.choices.values()]


BOUND_HELP = {"depth": "maximum trace length (actions)", "files": "number of files",
              "blocks": "4 KiB blocks per file", "phys": "physical pmem blocks",
              "tokens": "distinct data tokens", "procs": "processes",
              "segs": "segments per 4 KiB block, the granule of partial writes (1, 2 or 4)",
              "threads": "kernel threads running split operations (race designs; 1..3)"}
"""The bounds a command line may override (``check --files 3``), with their help."""
BOUND_NAMES = tuple(BOUND_HELP)
"""Their names; ``prove`` takes all but depth."""


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _positive_int(text):
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return v


def _workers(text):
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return v


def _distributed(sp, what):
    sp.add_argument("--workers", type=_workers, default=1, metavar="N",
                    help=f"{what} (N>=2: Ray workers, local with N CPUs unless --ray-address; "
                         "needs pip install 'daxcheck[distributed]')")
    sp.add_argument("--ray-address", metavar="ADDR",
                    help="join this Ray cluster (auto, HOST:PORT, ray://HOST:10001) "
                         "instead of starting a local one; needs --workers N>=2")


def _check_distributed(args) -> None:
    from .runner import InputError
    if args.ray_address is not None and args.workers < 2:
        raise InputError("--ray-address needs --workers N with N >= 2")
    if args.ray_address == "":
        raise InputError("--ray-address: an empty address")


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return v


def _weights(text):
    out = {}
    for part in text.split(","):
        fam, sep, w = part.partition("=")
        try:
            out[fam.strip()] = float(w)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not FAMILY=WEIGHT") from None
        if not sep or not math.isfinite(out[fam.strip()]) or out[fam.strip()] < 0:
            raise argparse.ArgumentTypeError(f"{part!r} is not FAMILY=WEIGHT (a finite "
                                             f"weight >= 0)")
    return out


def _crash_states(text):
    if text == "all":
        return "all"
    return _positive_int(text)


EPILOG = "exit codes:\n" + "\n".join(
    textwrap.fill(text, 78, initial_indent=f"  {code:>2}  ", subsequent_indent=" " * 6)
    for code, text in EXIT_CODES)
"""The exit-code table at the end of every ``--help``."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--traceback", action="store_true",
                        help="on an error in a user's code (exit 3) or an internal error, "
                        "print the full Python traceback")
    common.add_argument("--memory-limit", type=_positive_float, metavar="MB",
                        help="address-space limit of the worker process that runs the "
                        "command (RLIMIT_AS; running out is incomplete, exit 75; not "
                        "applied in process: daxcheck.checker.cli.main, oracle)")
    p = _Parser(prog="daxcheck", description="Model checker and executable specification "
                "of Linux filesystem DAX (fsdax).", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"daxcheck {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    def command(name, **kw):
        return sub.add_parser(name, parents=[common], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    def user_files(sp):
        sp.add_argument("--designs", metavar="FILE", help="Python file registering extra designs")
        sp.add_argument("--properties", metavar="FILE",
                        help="Python file with extra @invariant properties")

    def selection(sp, designs_default):
        sp.add_argument("--design", action="append", default=[], metavar="D",
                        help=f"design (repeatable; default: {designs_default})")
        sp.add_argument("--property", action="append", default=[], metavar="P",
                        help="property (repeatable; default: all)")
        user_files(sp)

    def outputs(sp):
        sp.add_argument("--out", default="counterexamples", metavar="DIR",
                        help="where counterexample ITF files go (default: counterexamples)")
        sp.add_argument("--no-write", action="store_true", help="do not write counterexample files")
        sp.add_argument("--force", action="store_true", help="overwrite different existing files")

    def machine(sp):
        sp.add_argument("--json", metavar="FILE", help="write the results as JSON (one object "
                        "per design x property: verdict, depth, states, seconds, trace file)")
        sp.add_argument("--junit", metavar="FILE", help="write JUnit XML (a testcase per "
                        "design x property; a violation is a failure)")
        sp.add_argument("--summary", metavar="FILE", help="write a Markdown table (for a "
                        "PR comment)")

    def sizes(sp, names):
        for b in names:
            sp.add_argument(f"--{b}", type=_positive_int, metavar="N",
                            help=BOUND_HELP[b] + " (default: the design's)")

    c = command("check", help="explore designs and check properties")
    selection(c, "all")
    c.add_argument("--engine", choices=("explicit", "z3"), default="explicit")
    sizes(c, BOUND_NAMES)
    c.add_argument("--max-states", type=_positive_int, metavar="N",
                   help="stop with 'incomplete' after N distinct states per design")
    c.add_argument("--time-limit", type=_positive_float, metavar="S",
                   help="stop with 'incomplete' after S seconds per design")
    c.add_argument("--exact", action="store_true",
                   help="explicit engine: compare whole states, not 64-bit fingerprints "
                        "(no probabilistic step; more memory)")
    c.add_argument("--symmetry", action="store_true",
                   help="explicit engine: explore one state per permutation of the files, "
                        "processes and tokens the design treats alike (checked as it goes; "
                        "state counts then differ from the manifest's)")
    c.add_argument("--checkpoint", metavar="DIR",
                   help="explicit engine, one design: save the exploration into DIR at every "
                        "level and every --checkpoint-every seconds (atomically)")
    c.add_argument("--resume", metavar="DIR",
                   help="continue the exploration saved in DIR (same design, bounds, "
                        "properties and options; it keeps checkpointing into DIR)")
    c.add_argument("--checkpoint-every", type=_positive_float, metavar="S",
                   help="seconds between two checkpoints inside a level (default 300)")
    _distributed(c, "explicit engine: partitions of a hash-partitioned BFS (default 1: "
                    "this process)")
    c.add_argument("--livelock", action="store_true",
                   help="race designs: also report a kernel thread that can never finish "
                        "its operation from some reachable state (builds the whole state "
                        "graph; exit 12 when one is found)")
    c.add_argument("--por", action="store_true",
                   help="explicit engine, race designs: partial-order reduction by ample "
                        "sets (same verdicts when the search is complete; counterexamples "
                        "may be longer; state counts then differ from the manifest's)")
    outputs(c)
    machine(c)
    c.add_argument("--quiet", action="store_true", help="verdict table only")
    c.add_argument("--verbose", "-v", action="store_true",
                   help="also every counterexample as a table of steps, the files written "
                   "and each design's statistics (the default when one design is checked)")
    c.add_argument("--expect", action="store_true",
                   help="CI gate: exit 0 iff every design's verdicts match its expectations")

    sm = command("simulate", help="random walks deeper than breadth-first search reaches; "
                 "violations are shrunk, saved and replayable like any counterexample")
    selection(sm, "all")
    sm.add_argument("--depth", type=_positive_int, default=200, metavar="N",
                    help="steps per walk (default 200; not bounded by the design's depth)")
    sm.add_argument("--runs", type=_positive_int, default=1000, metavar="N",
                    help="walks per design (default 1000)")
    sm.add_argument("--seed", type=_positive_int, default=0, help="random seed (default 0)")
    sm.add_argument("--time-limit", type=_positive_float, metavar="S", help="per design")
    sm.add_argument("--weights", type=_weights, metavar="FAMILY=W,...",
                    help="relative weight of action families (default 1 each; 0 leaves one out)")
    sm.add_argument("--swarm", action="store_true",
                    help="swarm testing: fresh random family weights for every walk")
    sizes(sm, BOUND_NAMES[1:])
    _distributed(sm, "split the walks over N workers, swarm style (default 1: this process)")
    outputs(sm)
    machine(sm)
    sm.add_argument("--quiet", action="store_true", help="verdict table only")

    g = command("gate", help="CI gate: recompute every verdict, depth and state count "
                       "and compare them exactly with a verdict manifest")
    g.add_argument("manifest", nargs="?", metavar="MANIFEST",
                   help="manifest file (default: the shipped counterexamples/manifest.json)")
    g.add_argument("--design", action="append", default=[], metavar="D",
                   help="gate (or --update) only these designs (repeatable; default: all listed)")
    user_files(g)
    g.add_argument("--update", action="store_true",
                   help="rewrite the manifest and its counterexample files from what is computed "
                   "now (after a deliberate change); prints what moved")
    g.add_argument("--no-replay", action="store_true",
                   help="do not replay the counterexample files the manifest names")
    g.add_argument("--time-limit", type=_positive_float, metavar="S",
                   help="per design; a design that runs out is a difference (incomplete)")
    g.add_argument("--quiet", action="store_true", help="differences only")
    g.add_argument("--out", default=FAILURES_DIR, metavar="DIR",
                   help="where a failed gate writes the counterexamples behind its "
                   "differences (default: gate-failures)")
    machine(g)
    g.add_argument("--force", action="store_true",
                   help="overwrite --json/--junit/--summary files daxcheck did not write")

    r = command("replay", help="re-execute a counterexample on the spec and on pmem bytes")
    r.add_argument("file", help="an *.itf.json counterexample")
    r.add_argument("--design", metavar="D", help="replay the recorded actions on design D "
                   "(at the recorded bounds) instead of the recorded design: does the "
                   "counterexample still reproduce on a fixed design?")
    user_files(r)
    r.add_argument("--pmem", metavar="PATH", help="pmem image file to replay on (a copy "
                   "unless --force)")
    r.add_argument("--force", action="store_true", help="write to the --pmem file itself")
    r.add_argument("--crash-states", type=_crash_states, default="all", metavar="all|N",
                   help="crash images to check at each crash (default: all up to 4096)")
    r.add_argument("--seed", type=_positive_int, default=0, help="seed for sampled crash images")
    cli_oracle.add_replay_options(r)

    v = command("view", help="draw a counterexample as one self-contained HTML page")
    v.add_argument("file", help="an *.itf.json counterexample")
    v.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    v.add_argument("--force", action="store_true", help="overwrite OUT if it is not a daxcheck page")

    gr = command("graph", help="export the explored state graph (small bounds) with networkx")
    gr.add_argument("--design", required=True, metavar="D")
    user_files(gr)
    gr.add_argument("--out", required=True, metavar="FILE", help="G.graphml or G.dot")
    gr.add_argument("--max-states", type=_positive_int, default=5000, metavar="N",
                    help="refuse when the graph has more states (default 5000)")
    gr.add_argument("--force", action="store_true", help="overwrite FILE")
    sizes(gr, BOUND_NAMES)

    cli_oracle.add_commands(command, _positive_int)

    pv = command("prove", help="k-induction with Z3: holds at every depth?")
    selection(pv, "every design expected to hold")
    pv.add_argument("--k", type=_positive_int, help="one induction depth (default: 1..--max-k)")
    pv.add_argument("--max-k", type=_positive_int, default=2, help="largest k tried (default 2)")
    pv.add_argument("--lemmas", choices=("none", "shipped", "mined"), default="shipped",
                    help="strengthening candidates, each proved before it is used")
    pv.add_argument("--time-limit", type=_positive_float, metavar="S",
                    help="per design (one Houdini run proves all its properties)")
    sizes(pv, BOUND_NAMES[1:])   # a proof covers every depth
    outputs(pv)
    machine(pv)

    q = command("query", help="byte-offset questions answered by Z3")
    q.add_argument("name", nargs="*", help="queries to run (default: all)")
    q.add_argument("--time-limit", type=_positive_float, default=30.0, metavar="S")

    ls = command("list", help="list designs, properties, lemmas, actions, hooks or queries")
    ls.add_argument("what", choices=("designs", "properties", "lemmas", "actions", "hooks",
                                     "queries"))
    ls.add_argument("--verbose", "-v", action="store_true",
                    help="actions: document every argument (name, meaning, units); designs: "
                    "the citation (commit, thread, xfstest) and the scope")
    user_files(ls)
    return p


PATH_OPTIONS = ("file", "manifest", "out", "json", "junit", "summary", "html", "pmem",
                "designs", "properties", "checkpoint", "resume")
"""Arguments that name files or folders (an empty one is bad input, not "the current
folder" or "not given")."""


def main(argv=None) -> int:
    """Entry point of the ``daxcheck`` console script; returns the exit code (130 after
    SIGINT, 143 after SIGTERM, both handled so that cleanup runs; :data:`EXIT_CODES`
    otherwise).  Whatever the input, the outcome is an exit code and at most one error
    line on stderr, never a traceback (``--traceback`` asks for it)."""
    from daxcheck.usercode import Terminated, is_interrupt, signal_handlers
    argv = sys.argv[1:] if argv is None else argv
    with signal_handlers():
        try:
            return _main(argv)
        except Terminated:
            from daxcheck.supervisor import stopped_by_supervisor
            if not stopped_by_supervisor():     # else the supervisor prints why
                sys.stderr.write("daxcheck: terminated\n")
            return 143
        except KeyboardInterrupt as e:
            if not is_interrupt(e):       # raised by code, outside any user frame: a bug
                return _internal_error(e, "--traceback" in argv)
            sys.stderr.write("daxcheck: interrupted\n")
            return 130


def preflight_argv(argv) -> tuple:
    """The supervisor's part of :func:`main` (:mod:`daxcheck.supervisor`): parse ``argv``
    and check the paths it names, without importing the engines.  Returns ``(args, None)``
    when the command may run, else ``(None, exit code)`` after one line on stderr (or
    argparse's help / version output)."""
    from .results import InputError
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return None, e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    try:
        for name in PATH_OPTIONS:
            if getattr(args, name, None) == "":
                flag = name if name in ("file", "manifest") else "--" + name
                raise InputError(f"{flag}: an empty path")
        check_paths(args)
    except InputError as e:
        sys.stderr.write(f"daxcheck: error: {_one_line(e)}\n")
        return None, EXIT_BAD_INPUT
    return args, None


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    from daxcheck.fileio import InputFileError
    from daxcheck.usercode import TimeLimitReached, UserCodeError, is_interrupt
    from .gate import ManifestError
    from .outputs import OutputError
    from .report import make_console
    from .explicit.checkpoint import CheckpointError
    from .runner import InputError
    from .trace import TraceError
    console = make_console()
    try:
        with _streams_kept():
            return _dispatch(args, argv, console)
    except (InputError, TraceError, ManifestError, OutputError, InputFileError,
            CheckpointError) as e:
        sys.stderr.write(f"daxcheck: error: {_one_line(e)}\n")
        return EXIT_BAD_INPUT
    except UserCodeError as e:
        return _user_code_error(e, args)
    except TimeLimitReached as e:      # outside an engine run (the runner reports its own)
        sys.stderr.write(f"daxcheck: incomplete: {e.reason()}\n")
        return EXIT_INCOMPLETE
    except BaseException as e:  # an engine disagreement, a user's code, or a bug: one line
        if is_interrupt(e):
            raise
        from daxcheck.spec.vocab import SymbolicUseError
        from daxcheck.usercode import raised, user_frame
        if isinstance(e, SymbolicUseError):
            sys.stderr.write(f"daxcheck: error: cannot evaluate symbolically: {_one_line(e)}\n")
            return EXIT_BAD_INPUT
        if type(e).__name__ == "EngineDisagreement":
            sys.stderr.write(f"daxcheck: internal error: {_one_line(e)}\n")
            return EXIT_UNEXPECTED
        if isinstance(e, MemoryError) and getattr(args, "memory_limit", None) is not None:
            sys.stderr.write(f"daxcheck: incomplete: out of memory (--memory-limit "
                             f"{args.memory_limit:g} MB)\n")
            return EXIT_INCOMPLETE
        if user_frame(e):    # raised in a user's file (a hook, a domain, sys.exit())
            return _user_code_error(raised(e, "user code"), args)
        bad = _user_path_error(e, args)
        if bad:              # an OS error on a path the user gave: bad input, not a bug
            sys.stderr.write(f"daxcheck: error: {bad}\n")
            return EXIT_BAD_INPUT
        return _internal_error(e, args.traceback)


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
    from .runner import InputError
    for name in PATH_OPTIONS:
        if getattr(args, name, None) == "":
            flag = name if name in ("file", "manifest") else "--" + name
            raise InputError(f"{flag}: an empty path")
    check_paths(args)
    if args.cmd == "check":
        return _check(args, argv, console)
    if args.cmd == "replay":
        if args.on == "qemu-dax":
            return cli_oracle.replay_on_kernel(args, console)
        return _replay(args, console)
    if args.cmd == "gate":
        return _gate(args, argv, console)
    if args.cmd == "simulate":
        return _simulate(args, argv, console)
    if args.cmd == "view":
        return _view(args, console)
    if args.cmd == "graph":
        return _graph(args, console)
    if args.cmd in ("oracle", "kernel"):
        return cli_oracle.run(args, console)
    if args.cmd == "prove":
        return _prove(args, argv, console)
    if args.cmd == "query":
        return _query(args, console)
    return _list(args, console)


OUTPUT_FILES = ("json", "junit", "summary", "html")
"""Options naming a file daxcheck writes (``graph --out`` too)."""


def _path_flags(args) -> list[tuple[str, str, str]]:
    """``(flag, path, kind)`` for every path of ``args``: kind "file" (written), "dir" (a
    folder written into), "input" (read)."""
    out = []
    for name in PATH_OPTIONS:
        v = getattr(args, name, None)
        if not isinstance(v, str) or not v:
            continue
        flag = name if name in ("file", "manifest") else "--" + name
        if name == "out":
            if getattr(args, "no_write", False):
                continue
            kind = "file" if args.cmd == "graph" else "dir"
        elif name == "checkpoint":
            kind = "dir"
        elif name in OUTPUT_FILES:
            kind = "file"
        else:
            kind = "input"
        out.append((flag, v, kind))
    return out


def check_paths(args) -> None:
    """Refuse, before any work, a path of ``args`` the operating system would refuse at
    the end of the run: a name too long, a parent that is a regular file (``--out`` under a
    file), a destination folder that cannot be created or written.  Raises InputError
    naming the option and the path (exit 2)."""
    import errno
    import os
    from .results import InputError
    for flag, path, kind in _path_flags(args):
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except OSError as e:
            raise InputError(f"{flag} {path}: {e.strerror or e}") from None
        if kind == "input":
            continue
        if st is not None:
            if kind == "dir" and not os.path.isdir(path):
                raise InputError(f"{flag} {path}: exists and is not a folder")
            continue
        parent = Path(path).parent if kind == "file" else Path(path)
        while True:
            try:
                pst = os.stat(parent)
                break
            except (FileNotFoundError, NotADirectoryError) as e:
                if e.errno == errno.ENOTDIR:
                    pst = None
                    break
                if parent == parent.parent:
                    pst = None
                    break
                parent = parent.parent
            except OSError as e:
                raise InputError(f"{flag} {path}: {e.strerror or e}") from None
        if pst is None or not os.path.isdir(parent):
            raise InputError(f"{flag} {path}: a parent is not a folder ({_first_file(path)} "
                             f"is a file)")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{flag} {path}: cannot create it: {parent} is not writable")


def _first_file(path) -> str:
    """The first component of ``path`` that exists and is not a folder (or ``path``)."""
    p = Path(path)
    for q in list(reversed(p.parents)) + [p]:
        if q.exists() and not q.is_dir():
            return str(q)
    return str(path)


def _user_path_error(e: BaseException, args) -> str | None:
    """One line for an OSError about a path the user gave (or a file inside the folder
    they gave), or None."""
    if not isinstance(e, OSError) or e.filename is None:
        return None
    name = str(e.filename)
    for flag, path, _ in _path_flags(args):
        if name == path or name.startswith(path.rstrip("/") + "/"):
            inside = "" if name == path else f"{name}: "
            return f"{flag} {path}: {inside}{e.strerror or type(e).__name__}"
    return None


def _one_line(e) -> str:
    from daxcheck.usercode import safe_str
    return " ".join(safe_str(e).split())


def _internal_error(e: BaseException, traceback: bool) -> int:
    """A failure in daxcheck's own code: one line naming the exception and where it was
    raised (exit 1), the full traceback with ``--traceback``."""
    import traceback as tb_mod
    if traceback:
        tb_mod.print_exception(e, file=sys.stderr)
    frames = tb_mod.extract_tb(e.__traceback__)
    at = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    msg = _one_line(e)[:300]
    sys.stderr.write(f"daxcheck: internal error: {type(e).__name__}"
                     f"{': ' + msg if msg else ''}{at} (please report it; --traceback shows "
                     f"the full one)\n")
    return EXIT_UNEXPECTED


def esc(text) -> str:
    """``text`` with rich markup escaped (paths and names a user chose are printed inside
    markup strings)."""
    from rich.markup import escape
    return escape(str(text))


def _preflight(args) -> None:
    """Refuse, before any work, output destinations the end of the run would refuse: a
    ``--json``/``--junit``/``--summary`` file that is a directory, a FIFO or not daxcheck's
    (without ``--force``), and an ``--out`` that exists and is not a folder."""
    from .outputs import check_outputs
    from .runner import InputError
    check_outputs(args)
    out = getattr(args, "out", None)
    if out and not getattr(args, "no_write", False) and Path(out).exists() \
            and not Path(out).is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")


def _user_code_error(e, args) -> int:
    """Report a user's code that raised: one line (exit 3), the traceback with
    ``--traceback``."""
    if getattr(args, "traceback", False):
        import traceback
        traceback.print_exception(e.__cause__ or e, file=sys.stderr)
    sys.stderr.write(f"daxcheck: error: {_one_line(e)}\n")
    return EXIT_USER_CODE


def _check(args, argv, console) -> int:
    from daxcheck.spec.designs import DESIGNS
    from .explicit import Budget
    from .gate import expect_differences
    from .report import Progress, run_summary, stats_line, trace_table, verdict_tables
    from .results import HOLDS, fmt_items
    from .runner import (InputError, check_distributable, command_line, load_user_files,
                         make_model, pick, pick_properties, run_check)

    _preflight(args)
    load_user_files(args.designs, args.properties)
    designs = pick(args.design, DESIGNS, "design")
    props = pick_properties(args.property)
    overrides = {k: getattr(args, k) for k in BOUND_NAMES}
    models = [make_model(d, overrides) for d in designs]
    ckpt = _checkpoint_options(args, models)
    stop = threading.Event()
    budget = Budget(args.max_states, args.time_limit, stop=stop)
    cmd = command_line(argv)
    checks, written = [], {}
    _check_distributed(args)
    with contextlib.ExitStack() as stack:
        pool = None
        if args.workers >= 2:
            check_distributable(args.engine, args.exact, args.symmetry)
            if args.por:
                raise InputError("--por is not supported with --workers N >= 2")
            from .distributed.bfs import worker_pool
            pool = stack.enter_context(worker_pool(args.workers, args.ray_address))
        stack.enter_context(_soft_interrupt(stop))
        for m in models:
            phase(f"design {m.design.name}", limited=True)
            prog = Progress(console, m.design.name, time_limit=args.time_limit)
            try:
                checks.append(run_check(m, props, args.engine, budget, prog, cmd,
                                        exact=args.exact, symmetry=args.symmetry, pool=pool,
                                        checkpoint=ckpt, por=args.por))
            finally:
                prog.close()
            if stop.is_set():
                break
    interrupted = stop.is_set()
    phase("reporting")
    names = [p.name for p in props]
    for part in verdict_tables(checks, names, console.width):
        console.print(part)
    verbose = args.verbose or len(models) == 1
    problems = []
    for c in checks:
        r = c.result
        complete = not r.stats.stopped and any(v.status == HOLDS for v in r.verdicts.values())
        for w in (r.never_fired if complete else ()):
            console.print(f"[yellow]warning:[/yellow] {esc(c.model.design.name)}: action "
                          f"'{w}' never fired", soft_wrap=True)
        if r.stats.stopped:
            console.print(f"[yellow]incomplete:[/yellow] {esc(c.model.design.name)}: "
                          f"{esc(r.stats.stopped)}", soft_wrap=True)
        if verbose and not args.quiet:
            for name, t in c.traces.items():
                items = fmt_items(name, r.verdicts[name].items, c.model.L)
                where = f" (at {', '.join(items)})" if items else ""
                console.print(trace_table(t, c.model, f"{c.model.design.name}: {name} violated "
                                          f"at depth {t.depth}{where}"))
        if not args.no_write:
            problems += _save(c, args, console, written, show=args.verbose)
    if args.verbose and not args.quiet:
        for c in checks:
            console.print(f"[dim]{esc(stats_line(c))}[/dim]", soft_wrap=True)
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    diffs = expect_differences(checks, names)
    if args.expect:
        code = EXIT_UNEXPECTED if diffs else EXIT_OK
    else:
        code = combined_exit([c.result for c in checks])
    if args.livelock:
        code = _livelock(checks, console, code)
    if not args.quiet:
        _print_summary(console, run_summary(checks, names, diffs, written, _user_flags(args),
                                            None if args.no_write else args.out,
                                            len(models), expect=args.expect))
    elif args.expect:
        _expect(checks, names, console)
    if interrupted:
        code = EXIT_INTERRUPTED
    from .outputs import attach_expectations, rows_of_checks, write_outputs
    rows = rows_of_checks(checks, names, written, args.engine)
    if args.expect:      # JUnit and JSON agree with the exit code: expected violations pass
        write_outputs(args, attach_expectations(rows, checks), "daxcheck check --expect", cmd,
                      code, diffs)
    else:
        write_outputs(args, rows, "daxcheck check", cmd, code)
    return code


def _print_summary(console, lines) -> None:
    """Print :func:`~daxcheck.checker.report.run_summary`'s ``[(style, line)]``: prose wraps
    at the console's width; a command is never broken (it stays copyable), and when it does
    not fit with its explanation, the explanation goes on the line above it."""
    for style, line in lines:
        if not line.startswith("  daxcheck "):
            indent = " " * (len(line) - len(line.lstrip()))
            console.print(Text(textwrap.fill(line.strip(), max(console.width, 40),
                                             initial_indent=indent,
                                             subsequent_indent=indent + "  ",
                                             break_on_hyphens=False), style=style),
                          soft_wrap=True)
            continue
        cmd, sep, why = line.partition("   (")
        if sep and len(line) > console.width:
            console.print(Text(f"  ({why}", style="dim"), soft_wrap=False)
            console.print(Text(cmd, style=style), soft_wrap=True)
        else:
            console.print(Text(line, style=style), soft_wrap=True)


EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT), as a shell reports a process it interrupted."""


def _user_flags(args) -> list:
    """``--designs F``/``--properties F`` of this run as command-line words."""
    out = []
    for flag, f in (("--designs", getattr(args, "designs", None)),
                    ("--properties", getattr(args, "properties", None))):
        if f:
            out += [flag, f]
    return out


@contextlib.contextmanager
def _soft_interrupt(event):
    """Within the block, a first SIGINT (Ctrl-C) sets ``event`` and writes
    ``daxcheck: interrupted`` on stderr: the running search ends as if a budget ran out
    (what it found is kept and reported, the rest is incomplete) and no further design
    starts; a second one stops at once (the SIGINT handler installed before, exit 130).
    Main thread only (elsewhere the block runs unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGINT)

    def first(signum, frame):
        if event.is_set():
            signal.signal(signal.SIGINT, old)
            if callable(old):
                old(signum, frame)
            raise KeyboardInterrupt
        event.set()
        sys.stderr.write("daxcheck: interrupted\n")     # the one line of any Ctrl-C

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _checkpoint_options(args, models):
    """``--checkpoint``/``--resume``/``--checkpoint-every`` as a CheckpointOptions (None
    without them), the folder checked before any work.  One design per checkpoint, explicit
    engine only; InputError or CheckpointError otherwise."""
    from .explicit.checkpoint import EVERY, CheckpointOptions, prepare
    from .runner import InputError
    path = args.checkpoint if args.resume is None else args.resume
    if path is None:
        if args.checkpoint_every is not None:
            raise InputError("--checkpoint-every needs --checkpoint DIR or --resume DIR")
        return None
    if args.checkpoint is not None and args.resume is not None:
        raise InputError("--checkpoint and --resume: give one (a resumed run keeps "
                         "checkpointing into its folder)")
    flag = "--resume" if args.resume is not None else "--checkpoint"
    if args.engine != "explicit":
        raise InputError(f"{flag}: the explicit engine only")
    if getattr(args, "por", False):
        raise InputError(f"{flag}: not with --por (a checkpoint records the full search)")
    if getattr(args, "workers", 1) >= 2:
        raise InputError(f"{flag}: runs in one process: drop --workers")
    if len(models) != 1:
        raise InputError(f"{flag}: one design per checkpoint ({len(models)} selected); "
                         f"pick it with --design")
    opts = CheckpointOptions(path, resume=args.resume is not None,
                             every=EVERY if args.checkpoint_every is None
                             else args.checkpoint_every, force=args.force)
    prepare(opts)
    return opts


def _livelock(checks, console, code) -> int:
    """``check --livelock``: per race design, the threads that can get stuck (one line
    each, with the shortest trace to a state where it is stuck); returns the exit code
    (12 when a thread can get stuck, 75 when the graph was not exhausted)."""
    from .explicit.progress import stuck_threads
    for c in checks:
        m, name = c.model, c.model.design.name
        if not m.L.races:
            continue
        try:
            r = stuck_threads(m)
        except ValueError as e:
            console.print(f"[yellow]incomplete:[/yellow] {esc(name)}: {esc(str(e))}",
                          soft_wrap=True)
            code = code if code == EXIT_VIOLATION else EXIT_INCOMPLETE
            continue
        if not r.complete:
            console.print(f"[yellow]incomplete:[/yellow] {esc(name)}: progress not decided: the "
                          f"state graph is not exhausted at depth {r.depth}", soft_wrap=True)
            code = code if code == EXIT_VIOLATION else EXIT_INCOMPLETE
        elif not r.stuck:
            console.print(f"{esc(name)}: every thread can always finish its operation "
                          f"({r.states:,} states)", soft_wrap=True)
        for s in r.stuck:
            steps = "; ".join(m.actions[i].describe() for i, _ in s.trace[1:])
            console.print(f"[red]livelock:[/red] {esc(name)}: thread T{s.thread} can never "
                          f"finish its operation after: {esc(steps)} ({s.states:,} such "
                          f"states)", soft_wrap=True)
            code = EXIT_VIOLATION
    return code


def _simulate(args, argv, console) -> int:
    from daxcheck.spec.designs import DESIGNS
    from .report import Progress, trace_table, verdict_tables
    from .runner import command_line, load_user_files, make_model, pick, pick_properties, run_simulate
    _preflight(args)
    load_user_files(args.designs, args.properties)
    designs = pick(args.design, DESIGNS, "design")
    props = pick_properties(args.property)
    overrides = {k: getattr(args, k) for k in BOUND_NAMES[1:]}
    cmd = command_line(argv)
    checks, problems, written = [], [], {}
    _check_distributed(args)
    with contextlib.ExitStack() as stack:
        if args.workers >= 2:     # one Ray session for every design
            from .distributed.session import ray_session
            stack.enter_context(ray_session(args.workers, args.ray_address))
        for d in designs:
            phase(f"design {d.name}", limited=True)
            m = make_model(d, overrides)
            prog = Progress(console, d.name, time_limit=args.time_limit, walks=args.runs)
            try:
                c = run_simulate(m, props, args.depth, args.runs, args.seed, args.time_limit,
                                 args.weights, args.swarm, prog, cmd, args.workers,
                                 args.ray_address)
            finally:
                prog.close()
            checks.append(c)
            for name, t in c.traces.items():
                f = c.result.stats.found[name]
                if not args.quiet:
                    console.print(trace_table(t, m, f"{d.name}: {name} violated: found in walk "
                                              f"{f.walk} at step {f.step}, shrunk from "
                                              f"{f.raw_length} to {t.depth} steps"))
            if not args.no_write:
                problems += _save(c, args, console, written)
    phase("reporting")
    names = [p.name for p in props]
    for part in verdict_tables(checks, names, console.width):
        console.print(part)
    for c in checks:
        st = c.result.stats
        console.print(f"[dim]{esc(c.model.design.name)}: {st.walks:,} walks of up to {args.depth} "
                      f"steps, {st.states:,} states visited, {st.deadlocks:,} deadlocked, "
                      f"{st.seconds:.1f}s{'; ' + esc(st.stopped) if st.stopped else ''}[/dim]",
                      soft_wrap=True)
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    code = combined_exit([c.result for c in checks])
    from .outputs import rows_of_checks, write_outputs
    write_outputs(args, rows_of_checks(checks, names, written, "simulate"), "daxcheck simulate",
                  cmd, code)
    return code


def _save(check, args, console, written=None, show=None) -> list[str]:
    """Write ``check``'s counterexamples per ``--out/--force/--quiet``; returns the
    conflicts (a different existing file, an unwritable folder) as messages.  The paths of
    the files there now go to ``written[(design, property)]``; a line per file is printed
    when ``show`` (default: unless ``--quiet``)."""
    from .runner import save_traces
    from .trace import file_name_for
    by_file = {file_name_for(check.model.design.name, p): p for p in check.traces}
    problems = []
    for path, status in save_traces(check, args.out, args.force):
        if status.startswith("conflict"):
            problems.append(status[len("conflict: "):])
            continue
        if written is not None:
            written[(check.model.design.name, by_file[Path(path).name])] = path
        if (not getattr(args, "quiet", False)) if show is None else show:
            console.print(f"[dim]{status}: {esc(path)}[/dim]", soft_wrap=True)
    return problems


def _expect(checks, names, console) -> int:
    """Compare each design's computed violations with its ``expect_violated`` (restricted to
    the properties checked) exactly: an unexpected violation, a missing one and an
    incomplete verdict are all differences (exit 1)."""
    from .gate import expect_differences
    bad = expect_differences(checks, names)
    for d in bad:
        console.print(f"[red]unexpected:[/red] {esc(d.design)}: {esc(d.computed)} (expected "
                      f"{esc(d.manifest)})", highlight=False, soft_wrap=True)
    if not bad:
        console.print("[green]all verdicts match the designs' expectations exactly[/green]", soft_wrap=True)
    return EXIT_UNEXPECTED if bad else EXIT_OK


def _gate(args, argv, console) -> int:
    from daxcheck.properties import PROPERTIES
    from daxcheck.spec.designs import DESIGNS
    from .gate import (DEFAULT_MANIFEST, compare, compute, expect_differences, load_manifest,
                       load_manifest_user_files, manifest_of, run_gate, update_manifest,
                       write_failures)
    from .report import Progress, difference_table, verdict_tables
    from .runner import InputError, command_line, load_user_files
    shipped = {"designs": list(DESIGNS),
               "properties": [n for n, p in PROPERTIES.items() if p.origin == "shipped"]}
    _preflight(args)
    load_user_files(args.designs, args.properties)
    path = Path(args.manifest) if args.manifest is not None else DEFAULT_MANIFEST
    is_shipped = path.resolve() == DEFAULT_MANIFEST.resolve()
    if path.exists():      # the user files it records, unless given on the command line
        for note in load_manifest_user_files(load_manifest(path), path):
            console.print(f"[yellow]note:[/yellow] {esc(note)}", soft_wrap=True)
    elif not args.update and not path.is_symlink():
        raise InputError(f"{path}: no such manifest (create one with "
                         f"{gate_command(args, is_shipped, update=True)})")
    unknown = [d for d in args.design if d not in DESIGNS]
    if unknown:
        raise InputError(f"unknown design {unknown[0]!r}{did_you_mean(unknown[0], DESIGNS)} "
                         f"(valid: {', '.join(DESIGNS)})")

    def progress(name):
        phase(f"design {name}", limited=True)
        return Progress(console, name, time_limit=args.time_limit)

    if args.update:
        if args.time_limit is not None:
            raise InputError("--time-limit cannot be combined with --update (a manifest never "
                             "pins an incomplete verdict)")
        old = load_manifest(path) if path.exists() else None
        if old is not None:
            _refuse_unregistered(old, path, DESIGNS, PROPERTIES)
        if args.design:
            names = list(args.design)
        elif old is not None:
            names = [n for n in old["designs"] if n in DESIGNS]
            names += [n for n in (shipped["designs"] if is_shipped else ()) if n not in names]
        else:  # a new manifest of a user's own designs (all designs if none were loaded)
            names = [n for n in DESIGNS if is_shipped or n not in shipped["designs"]] or list(DESIGNS)
        props = [p for p in (old["properties"] if old else PROPERTIES) if p in PROPERTIES]
        if is_shipped:
            props += [p for p in shipped["properties"] if p not in props]
        checks = compute(names, DESIGNS, [PROPERTIES[p] for p in props], progress=progress)
        if old is not None:
            moved = compare({**old, "designs": {n: e for n, e in old["designs"].items()
                                                if n in names}},
                            manifest_of(checks, props), checks)
            if moved:
                console.print(difference_table(moved, f"what moved since {path}"))
        for f, status in update_manifest(path, checks, props, old):
            console.print(f"[dim]{status}: {esc(f)}[/dim]", soft_wrap=True)
        still = expect_differences(checks, props)
        if still:
            console.print(difference_table(still, "still different after --update: a design "
                                           "must declare what it violates (expect_violated)"))
            return EXIT_UNEXPECTED
        return EXIT_OK

    res = run_gate(path, DESIGNS, PROPERTIES, only=args.design or None,
                   require_all=shipped if is_shipped else None,
                   budget=_budget(args), progress=progress, replay=not args.no_replay)
    if not args.quiet:
        names = [p for p in res.manifest["properties"] if p in PROPERTIES]
        for part in verdict_tables(res.checks, names, console.width):
            console.print(part)
        ok = sum(1 for _, s in res.replayed if s == "reproduces")
        console.print(f"[dim]counterexamples replayed (spec and pmem bytes): {ok} of "
                      f"{len(res.replayed)} reproduce[/dim]", soft_wrap=True)
    from .outputs import attach_differences, rows_of_checks, write_outputs
    names = [p for p in res.manifest["properties"] if p in PROPERTIES]
    files = {(n, p): str(path.parent / e["counterexample"]) for n, d in res.manifest["designs"].items()
             for p, e in d["verdicts"].items() if "counterexample" in e}
    failures, problems = ({}, []) if res.passed else write_failures(res, args.out)
    files.update(failures)
    for p in problems:
        console.print(f"[yellow]warning:[/yellow] {esc(p)}", soft_wrap=True)
    code = EXIT_OK if res.passed else EXIT_UNEXPECTED
    write_outputs(args, attach_differences(rows_of_checks(res.checks, names, files),
                                           res.differences),
                  "daxcheck gate", command_line(argv), code, res.differences)
    if res.passed:
        console.print(f"[green]gate passed:[/green] {len(res.checks)} designs match {esc(path)}", soft_wrap=True)
        return EXIT_OK
    console.print(difference_table(res.differences, f"gate failed: {len(res.differences)} "
                                   f"difference(s) from {path}"))
    if failures:
        first = next(iter(failures.values()))
        console.print(f"the traces behind it: {len(failures)} in {esc(args.out)}/ (see one: "
                      f"{esc(_replay_command(first, args))})", soft_wrap=True, highlight=False)
    console.print(f"[dim]after a deliberate change: {esc(gate_command(args, is_shipped, update=True))}"
                  "[/dim]", soft_wrap=True)
    return EXIT_UNEXPECTED


def _replay_command(trace: str, args) -> str:
    """``daxcheck replay TRACE`` with the run's ``--designs``/``--properties`` (shell-quoted)."""
    parts = ["daxcheck", "replay", trace]
    for flag, f in (("--designs", getattr(args, "designs", None)),
                    ("--properties", getattr(args, "properties", None))):
        if f:
            parts += [flag, f]
    return " ".join(shlex.quote(p) for p in parts)


def gate_command(args, is_shipped: bool, update: bool = False) -> str:
    """The ``daxcheck gate`` command line that repeats this run's gate (with ``--update``
    when ``update``), carrying its manifest (unless the shipped one), ``--design`` and
    ``--designs``/``--properties`` exactly as given, shell-quoted: a hint that does the
    right thing when run as printed from the same folder."""
    parts = ["daxcheck", "gate"] + (["--update"] if update else [])
    if args.manifest is not None and not is_shipped:
        parts.append(args.manifest)
    for d in args.design:
        parts += ["--design", d]
    for flag, f in (("--designs", args.designs), ("--properties", args.properties)):
        if f:
            parts += [flag, f]
    return " ".join(shlex.quote(p) for p in parts)


def _refuse_unregistered(manifest: dict, path, designs, props) -> None:
    """``gate --update`` never drops what a manifest gates: InputError naming the first
    design or property the manifest lists that is not registered in this run."""
    from .runner import InputError
    for what, names, registry, flag in (
            ("design", manifest["designs"], designs, "--designs"),
            ("property", manifest["properties"], props, "--properties")):
        gone = [n for n in names if n not in registry]
        if gone:
            raise InputError(f"{path} lists {what} {gone[0]!r}, not registered in this run: "
                             f"pass the file defining it with {flag} FILE (or delete it from "
                             f"{path} by hand to stop gating it); nothing was updated")


def _budget(args):
    from .explicit import Budget
    return Budget(getattr(args, "max_states", None), getattr(args, "time_limit", None))


def _replay(args, console) -> int:
    from .concrete.executor import RefinementError, replay_concrete
    from .concrete.pmem import PmemError
    from .replay import mismatch, replay_spec
    from .report import trace_table
    from .runner import InputError, load_user_files
    from .trace import TraceError
    load_user_files(args.designs, args.properties)
    r = replay_spec(args.file, on_design=args.design)
    if args.design is None:    # the file's own claims: checked on the spec, before any bytes
        why = mismatch(r, args.file)
        if why:
            raise TraceError(why)
    console.print(trace_table(r.trace, r.model, f"replay of {args.file} on design "
                              f"{r.model.design.name}"))
    for note in r.notes:
        console.print(f"[yellow]note:[/yellow] {esc(note)}", soft_wrap=True, highlight=False)
    if r.divergence:
        console.print(f"[yellow]note:[/yellow] the spec now computes different states: "
                      f"{esc(r.divergence)}", soft_wrap=True)
    if r.disabled_at is not None:
        console.print(f"[green]does not reproduce:[/green] step {r.disabled_at} is no longer "
                      f"enabled in design {esc(r.model.design.name)}", soft_wrap=True)
        return EXIT_OK
    if not r.reproduced:     # decided on the spec: a byte-level symptom would be another
        console.print(f"[green]does not reproduce:[/green] {esc(r.prop)} holds after the last "
                      f"step (on the spec; no byte-level replay for a property that holds)",
                      soft_wrap=True)
        return EXIT_OK
    try:
        rep = replay_concrete(r.model, r.trace.actions, pmem_path=args.pmem, force=args.force,
                              crash_states=args.crash_states, seed=args.seed, prop=r.prop)
    except RefinementError as e:
        sys.stderr.write(f"daxcheck: internal error: spec and byte-level replay disagree: {e}\n")
        return EXIT_UNEXPECTED
    except (PmemError, ValueError) as e:
        raise InputError(str(e)) from None
    console.print("[bold]byte-level replay on pmem[/bold]", soft_wrap=True)
    for line in rep.lines():
        console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print(f"[bold red]reproduces:[/bold red] {esc(r.prop)} fails after step "
                  f"{r.trace.depth}{'' if rep.reproduced else ' (on the spec; no byte-level symptom)'}",
                  soft_wrap=True)
    return EXIT_VIOLATION


def _view(args, console) -> int:
    from .runner import InputError
    from .view import write_view
    try:
        n = write_view(args.file, args.html, force=args.force)
    except (FileExistsError, OSError) as e:
        raise InputError(str(e)) from None
    console.print(f"[dim]written: {esc(args.html)} ({n} steps)[/dim]", soft_wrap=True)
    return EXIT_OK


def _graph(args, console) -> int:
    from daxcheck.spec.designs import DESIGNS
    from .graph import GraphError, state_graph, write_graph
    from .runner import InputError, load_user_files, make_model, pick, pick_properties
    load_user_files(args.designs, args.properties)
    d = pick([args.design], DESIGNS, "design")[0]
    m = make_model(d, {k: getattr(args, k) for k in BOUND_NAMES})
    try:
        g = state_graph(m, pick_properties([]), args.max_states)
        write_graph(g, args.out, force=args.force)
    except GraphError as e:
        raise InputError(str(e)) from None
    console.print(f"[dim]written: {esc(args.out)} ({g.number_of_nodes():,} states, "
                  f"{g.number_of_edges():,} transitions)[/dim]", soft_wrap=True)
    return EXIT_OK


def _prove(args, argv, console) -> int:
    from daxcheck.properties import PROPERTIES
    from daxcheck.spec.designs import DESIGNS
    from .report import trace_table
    from .runner import Check, InputError, command_line, load_user_files, make_model, pick
    from .symbolic.engine import ProveError, induction_depths, prove_all
    from .trace import Trace
    _preflight(args)
    try:
        induction_depths(args.k, args.max_k)       # bad input before any work
    except ProveError as e:
        raise InputError(str(e)) from None
    load_user_files(args.designs, args.properties)
    designs = pick(args.design, DESIGNS, "design") if args.design else [
        d for d in DESIGNS.values() if not d.expect_violated]
    props = pick(args.property, PROPERTIES, "property")
    codes = set()
    problems, runs, written = [], [], {}
    overrides = {k: getattr(args, k) for k in BOUND_NAMES[1:]}
    from daxcheck.usercode import TimeLimitReached, deadline
    for d in designs:
        phase(f"design {d.name}", limited=True)
        m = make_model(d, overrides)
        try:
            with deadline(args.time_limit):     # also bounds a user's lemma that never returns
                run = prove_all(m, props, k=args.k, max_k=args.max_k, lemmas=args.lemmas,
                                time_limit=args.time_limit)
        except ProveError as e:
            raise InputError(str(e)) from None
        except TimeLimitReached as e:
            console.print(f"[yellow]incomplete:[/yellow] {esc(d.name)}: {esc(e.reason())}",
                          soft_wrap=True)
            codes.add(EXIT_INCOMPLETE)
            continue
        n = sum(r.status == "proved" for r in run.results)
        b = m.bounds
        console.print(f"[bold]{esc(d.name)}[/bold] (files={b.files} blocks={b.blocks} phys={b.phys} "
                      f"tokens={b.tokens} procs={b.procs}): {n} of {len(props)} propert"
                      f"{'y' if len(props) == 1 else 'ies'} proved at every depth "
                      f"({run.seconds:.1f}s)", soft_wrap=True)
        for r in run.results:
            style = {"proved": "green", "refuted": "bold red"}.get(r.status, "yellow")
            lines = r.lines(m.L)
            console.print(f"  [{style}]{esc(lines[0])}[/{style}]", soft_wrap=True)
            for line in lines[1:]:
                console.print("  " + line, markup=False)
            codes.add({"proved": EXIT_OK, "refuted": EXIT_VIOLATION}.get(r.status, EXIT_INCOMPLETE))
        for line in run.lines():
            console.print(line, markup=False)
        traces = {r.prop: Trace.from_path(m, r.trace, r.prop, {"engine": "z3 k-induction base case",
                                                               "command": command_line(argv)})
                  for r in run.results if r.status == "refuted"}
        for name, t in traces.items():
            console.print(trace_table(t, m, f"{d.name}: {name} violated at depth {t.depth}"))
        if traces and not args.no_write:
            problems += _save(Check(m, run, traces), args, console, written)
        runs.append((m, run, traces))
    phase("reporting")
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    code = next((c for c in (EXIT_VIOLATION, EXIT_INCOMPLETE) if c in codes), EXIT_OK)
    from .outputs import rows_of_proofs, write_outputs
    write_outputs(args, rows_of_proofs(runs, written), "daxcheck prove", command_line(argv), code)
    return code


def _query(args, console) -> int:
    from .symbolic.queries import QueryError, run_queries
    from .runner import InputError
    try:
        results = run_queries(args.name or None, time_limit=args.time_limit)
    except QueryError as e:
        raise InputError(str(e)) from None
    for r in results:
        for line in r.lines():
            console.print(line, markup=False)
    st = {r.status for r in results}
    return EXIT_VIOLATION if "sat" in st else (EXIT_INCOMPLETE if "unknown" in st else EXIT_OK)


def _list(args, console) -> int:
    from rich.table import Table
    from daxcheck.properties import LEMMAS, PROPERTIES
    from daxcheck.spec.ops import ACTIONS
    from daxcheck.spec.designs import DESIGNS
    from .runner import load_user_files
    load_user_files(args.designs, args.properties)
    t = Table(show_lines=False)
    if args.what == "designs":
        cols = ("design", "seed", "expected", "summary") + (
            ("citation", "scope") if args.verbose else ())
        for col in cols:
            t.add_column(col, overflow="fold")
        for d in DESIGNS.values():
            exp = ", ".join(sorted(d.expect_violated)) or "holds"
            row = [d.name, d.seed, exp, d.summary]
            if args.verbose:
                b = d.bounds
                row += [d.cite or "-", f"{' '.join(d.families)}; files={b.files} "
                        f"blocks={b.blocks} phys={b.phys} tokens={b.tokens} procs={b.procs} "
                        f"depth={b.depth}" + (f" segs={b.segs}" if b.segs != 2 else "")]
            t.add_row(*row)
    elif args.what == "hooks":
        from daxcheck.spec.designs import hooks
        t.add_column("hook")
        t.add_column("kernel source", overflow="fold")
        for name, doc in hooks():
            t.add_row(name, doc)
    elif args.what in ("properties", "lemmas"):
        t.add_column("lemma" if args.what == "lemmas" else "property")
        t.add_column("origin")
        t.add_column("meaning", overflow="fold")
        for p in (PROPERTIES if args.what == "properties" else LEMMAS).values():
            t.add_row(p.name, p.origin, p.summary)
    elif args.what == "queries":
        from .symbolic.queries import QUERIES
        t.add_column("query")
        t.add_column("question", overflow="fold")
        for name, q in QUERIES.items():
            t.add_row(name, " ".join((q.__doc__ or getattr(q, "doc", "") or "").split())[:200])
    else:
        from dataclasses import fields as dc_fields
        from daxcheck.spec.arguments import arg_doc
        t.add_column("action")
        if args.verbose:
            t.add_column("argument")
        t.add_column("models", overflow="fold")
        for name, cls in ACTIONS.items():
            doc = " ".join((cls.__doc__ or "").split())
            doc = re.sub(r":\w+:`([^`]*)`", r"\1", doc).replace("``", "")
            if not args.verbose:
                t.add_row(name, doc.split(". ")[0].rstrip(".") + ".")
                continue
            t.add_row(name, "", doc, end_section=not dc_fields(cls))
            fs = dc_fields(cls)
            for i, f in enumerate(fs):
                t.add_row("", f.name, arg_doc(cls, f.name) or "(undocumented)",
                          end_section=i == len(fs) - 1)
    console.print(t)
    return EXIT_OK
