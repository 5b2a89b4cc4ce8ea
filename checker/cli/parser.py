"""The ``daxcheck`` argument parser: one small function per command.

This module (with :mod:`.common`) is what the supervisor's parent process imports
(:mod:`daxcheck.supervisor`): it imports neither the spec nor an engine, so parsing and
refusing bad input costs no engine start-up.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

from daxcheck import __version__

from ..results import EXIT_BAD_INPUT, EXIT_CODES, FAILURES_DIR, did_you_mean
from .options import (
    BOUND_HELP,
    BOUND_NAMES,
    TARGETS,
    add_distributed,
    add_machine,
    add_outputs,
    add_selection,
    add_sizes,
    add_user_files,
    percent_arg,
    positive_float,
    positive_int,
    weights_arg,
)
from .parser_tools import (
    oracle_commands,
    query_list_commands,
    replay_command,
    view_graph_commands,
)
from .reduction_options import add_reduction_options

__all__ = ["BOUND_HELP", "BOUND_NAMES", "EPILOG", "TARGETS", "build_parser"]


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
        return [
            p
            for a in self._actions
            if isinstance(a, argparse._SubParsersAction)
            for p in a.choices.values()
        ]


EPILOG = "exit codes:\n" + "\n".join(
    textwrap.fill(text, 78, initial_indent=f"  {code:>2}  ", subsequent_indent=" " * 6)
    for code, text in EXIT_CODES
)
"""The exit-code table at the end of every ``--help``."""


def _common() -> argparse.ArgumentParser:
    """The options every command takes (``--traceback``, ``--memory-limit``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--traceback",
        action="store_true",
        help="on an error in a user's code (exit 3) or an internal error, "
        "print the full Python traceback",
    )
    common.add_argument(
        "--memory-limit",
        type=positive_float,
        metavar="MB",
        help="address-space limit of the worker process that runs the "
        "command (RLIMIT_AS; running out is incomplete, exit 75; not "
        "applied in process: daxcheck.checker.cli.main)",
    )
    return common


# ------------------------------------------------------------------ the search commands
def _check_command(command) -> None:
    """``check``: the main job (designs x properties, explicit or Z3 engine)."""
    c = command("check", help="explore designs and check properties")
    add_selection(c, "all")
    c.add_argument("--engine", choices=("explicit", "z3"), default="explicit")
    add_sizes(c, BOUND_NAMES)
    c.add_argument(
        "--max-states",
        type=positive_int,
        metavar="N",
        help="stop with 'incomplete' after N distinct states per design",
    )
    c.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="stop with 'incomplete' after S seconds per design",
    )
    _check_engine_options(c)
    add_outputs(c)
    add_machine(c)
    c.add_argument("--quiet", action="store_true", help="verdict table only")
    c.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also every counterexample as a table of steps, the files written "
        "and each design's statistics (the default when one design is checked)",
    )
    c.add_argument(
        "--expect",
        action="store_true",
        help="CI gate: exit 0 iff every design's verdicts match its expectations",
    )


def _check_engine_options(c) -> None:
    """``check``'s options of the explicit engine: ``--exact``, ``--symmetry``, checkpoints,
    ``--workers``, ``--livelock``, ``--por``."""
    c.add_argument(
        "--exact",
        action="store_true",
        help="explicit engine: compare whole states, not 64-bit fingerprints "
        "(no probabilistic step; more memory)",
    )
    c.add_argument(
        "--symmetry",
        action="store_true",
        help="explicit engine: explore one state per permutation of the files, "
        "processes and tokens the design treats alike (checked as it goes; "
        "state counts then differ from the manifest's)",
    )
    c.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="explicit engine, one design: save the exploration into DIR at every "
        "level and every --checkpoint-every seconds (atomically)",
    )
    c.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the exploration saved in DIR (same design, bounds, "
        "properties and options; it keeps checkpointing into DIR)",
    )
    c.add_argument(
        "--checkpoint-every",
        type=positive_float,
        metavar="S",
        help="seconds between two checkpoints inside a level (default 300)",
    )
    add_distributed(
        c, "explicit engine: partitions of a hash-partitioned BFS (default 1: this process)"
    )
    c.add_argument(
        "--livelock",
        action="store_true",
        help="race designs: also report a kernel thread that can never finish "
        "its operation from some reachable state (builds the whole state "
        "graph; exit 12 when one is found)",
    )
    add_reduction_options(c)


def _simulate_command(command) -> None:
    sm = command(
        "simulate",
        help="random walks deeper than breadth-first search reaches; "
        "violations are shrunk, saved and replayable like any counterexample",
    )
    add_selection(sm, "all")
    sm.add_argument(
        "--depth",
        type=positive_int,
        default=200,
        metavar="N",
        help="steps per walk (default 200; not bounded by the design's depth)",
    )
    sm.add_argument(
        "--runs",
        type=positive_int,
        default=1000,
        metavar="N",
        help="walks per design (default 1000)",
    )
    sm.add_argument("--seed", type=positive_int, default=0, help="random seed (default 0)")
    sm.add_argument("--time-limit", type=positive_float, metavar="S", help="per design")
    sm.add_argument(
        "--weights",
        type=weights_arg,
        metavar="FAMILY=W,...",
        help="relative weight of action families (default 1 each; 0 leaves one out)",
    )
    sm.add_argument(
        "--swarm",
        action="store_true",
        help="swarm testing: fresh random family weights for every walk",
    )
    add_sizes(sm, BOUND_NAMES[1:])
    add_distributed(sm, "split the walks over N workers, swarm style (default 1: this process)")
    add_outputs(sm)
    add_machine(sm)
    sm.add_argument("--quiet", action="store_true", help="verdict table only")


def _gate_command(command) -> None:
    g = command(
        "gate",
        help="CI gate: recompute every verdict, depth and state count "
        "and compare them exactly with a verdict manifest",
    )
    g.add_argument(
        "manifest",
        nargs="?",
        metavar="MANIFEST",
        help="manifest file (default: the shipped counterexamples/manifest.json)",
    )
    g.add_argument(
        "--design",
        action="append",
        default=[],
        metavar="D",
        help="gate (or --update) only these designs (repeatable; default: all listed)",
    )
    add_user_files(g)
    g.add_argument(
        "--update",
        action="store_true",
        help="rewrite the manifest and its counterexample files from what is computed "
        "now (after a deliberate change); prints what moved",
    )
    g.add_argument(
        "--no-replay",
        action="store_true",
        help="do not replay the counterexample files the manifest names",
    )
    g.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="per design; a design that runs out is a difference (incomplete)",
    )
    g.add_argument("--quiet", action="store_true", help="differences only")
    g.add_argument(
        "--out",
        default=FAILURES_DIR,
        metavar="DIR",
        help="where a failed gate writes the counterexamples behind its "
        "differences (default: gate-failures)",
    )
    add_machine(g)
    g.add_argument(
        "--force",
        action="store_true",
        help="overwrite --json/--junit/--summary files daxcheck did not write",
    )


def _prove_command(command) -> None:
    pv = command("prove", help="k-induction with Z3: holds at every depth?")
    add_selection(pv, "every design expected to hold")
    pv.add_argument("--k", type=positive_int, help="one induction depth (default: 1..--max-k)")
    pv.add_argument("--max-k", type=positive_int, default=2, help="largest k tried (default 2)")
    pv.add_argument(
        "--lemmas",
        choices=("none", "shipped", "mined"),
        default="shipped",
        help="strengthening candidates, each proved before it is used",
    )
    pv.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="per design (one Houdini run proves all its properties)",
    )
    add_sizes(pv, BOUND_NAMES[1:])  # a proof covers every depth
    add_outputs(pv)
    add_machine(pv)


def _coverage_command(command) -> None:
    cv = command(
        "coverage",
        help="which spec and property decisions the designs' explored "
        "states decide both ways (per kernel function; gaps as file:line)",
    )
    add_selection(cv, "every registered design")
    cv.add_argument(
        "--depth",
        type=positive_int,
        metavar="N",
        help="explore (and --explain) to depth N (default: each design's)",
    )
    cv.add_argument(
        "--explain",
        action="store_true",
        help="ask Z3 (BMC) about every gap: reachable (with a trace) or "
        "unreachable up to the depth, in the chosen designs",
    )
    cv.add_argument(
        "--time-limit",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="--explain: seconds per solver question (default 60)",
    )
    cv.add_argument("--gaps", nargs="?", const="", metavar="FILE", help="a saved report's gaps")
    cv.add_argument(
        "--fail-under",
        type=percent_arg,
        metavar="PCT",
        help="exit 1 when fewer than PCT%% of the decisions are decided both ways",
    )
    cv.add_argument("--json", metavar="FILE", help="every site with its outcome, as JSON")
    cv.add_argument(
        "--html",
        metavar="FILE",
        help="the spec's source with each decision marked (like coverage.py)",
    )
    cv.add_argument("--force", action="store_true", help="overwrite FILE")
    cv.add_argument("--verbose", "-v", action="store_true", help="every function, gaps or not")
    cv.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def build_parser() -> argparse.ArgumentParser:
    """The ``daxcheck`` parser: every command with its options; a parse error is one line
    on stderr and ``SystemExit(2)`` (``--help``/``--version``: ``SystemExit(0)``)."""
    common = _common()
    p = _Parser(
        prog="daxcheck",
        description="Model checker and executable specification of Linux filesystem DAX (fsdax).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"daxcheck {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    def command(name, **kw):
        return sub.add_parser(
            name,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kw,
        )

    for add in (
        _check_command,
        _simulate_command,
        _gate_command,
        replay_command,
        view_graph_commands,
        oracle_commands,
        _prove_command,
        query_list_commands,
        _coverage_command,
    ):
        add(command)
    return p
