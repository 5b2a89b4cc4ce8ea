"""The ``daxcheck`` argument parser: one small function per command.

This module (with :mod:`.common`) is what the supervisor's parent process imports
(:mod:`daxcheck.supervisor`): it imports neither the spec nor an engine, so parsing and
refusing bad input costs no engine start-up.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap

from daxcheck import __version__

from ..oracle.qemu.fixture import KERNELS
from ..results import EXIT_BAD_INPUT, EXIT_CODES, FAILURES_DIR, did_you_mean, segs_arg
from .reduction_options import add_reduction_options


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


BOUND_HELP = {
    "depth": "maximum trace length (actions)",
    "files": "number of files",
    "blocks": "4 KiB blocks per file",
    "phys": "physical pmem blocks",
    "tokens": "distinct data tokens",
    "procs": "processes",
    "segs": "segments per 4 KiB block (1, 2 or 4), or byte offsets that end them (100,110)",
    "threads": "kernel threads running split operations (race designs; 1..3)",
}
"""The bounds a command line may override (``check --files 3``), with their help."""
BOUND_NAMES = tuple(BOUND_HELP)
"""Their names; ``prove`` takes all but depth."""

TARGETS = ("loop-xfs", "qemu-dax")
"""``oracle --target`` values."""


# ------------------------------------------------------------------ argument types
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
            raise argparse.ArgumentTypeError(
                f"{part!r} is not FAMILY=WEIGHT (a finite weight >= 0)"
            )
    return out


def _crash_states(text):
    if text == "all":
        return "all"
    return _positive_int(text)


def _rate(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in 0..1")
    return v


def _setting(text: str) -> tuple:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if value in ("True", "False"):
        return key, value == "True"
    return key, value


EPILOG = "exit codes:\n" + "\n".join(
    textwrap.fill(text, 78, initial_indent=f"  {code:>2}  ", subsequent_indent=" " * 6)
    for code, text in EXIT_CODES
)
"""The exit-code table at the end of every ``--help``."""


# ------------------------------------------------------------------ option groups
def _distributed(sp, what):
    sp.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help=f"{what} (N>=2: Ray workers, local with N CPUs unless --ray-address; "
        "needs pip install 'daxcheck[distributed]')",
    )
    sp.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join this Ray cluster (auto, HOST:PORT, ray://HOST:10001) "
        "instead of starting a local one; needs --workers N>=2",
    )


def _user_files(sp):
    sp.add_argument("--designs", metavar="FILE", help="Python file registering extra designs")
    sp.add_argument(
        "--properties", metavar="FILE", help="Python file with extra @invariant properties"
    )


def _selection(sp, designs_default):
    sp.add_argument(
        "--design",
        action="append",
        default=[],
        metavar="D",
        help=f"design (repeatable; default: {designs_default})",
    )
    sp.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="P",
        help="property (repeatable; default: all)",
    )
    _user_files(sp)


def _outputs(sp):
    sp.add_argument(
        "--out",
        default="counterexamples",
        metavar="DIR",
        help="where counterexample ITF files go (default: counterexamples)",
    )
    sp.add_argument("--no-write", action="store_true", help="do not write counterexample files")
    sp.add_argument("--force", action="store_true", help="overwrite different existing files")


def _machine(sp):
    sp.add_argument(
        "--json",
        metavar="FILE",
        help="write the results as JSON (one object "
        "per design x property: verdict, depth, states, seconds, trace file)",
    )
    sp.add_argument(
        "--junit",
        metavar="FILE",
        help="write JUnit XML (a testcase per design x property; a violation is a failure)",
    )
    sp.add_argument("--summary", metavar="FILE", help="write a Markdown table (for a PR comment)")


def _sizes(sp, names):
    for b in names:
        sp.add_argument(
            f"--{b}",
            type=segs_arg if b == "segs" else _positive_int,
            metavar="N,..." if b == "segs" else "N",
            help=BOUND_HELP[b] + " (default: the design's)",
        )


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
        type=_positive_float,
        metavar="MB",
        help="address-space limit of the worker process that runs the "
        "command (RLIMIT_AS; running out is incomplete, exit 75; not "
        "applied in process: daxcheck.checker.cli.main)",
    )
    return common


# ------------------------------------------------------------------ the commands
def _check_command(command) -> None:
    c = command("check", help="explore designs and check properties")
    _selection(c, "all")
    c.add_argument("--engine", choices=("explicit", "z3"), default="explicit")
    _sizes(c, BOUND_NAMES)
    c.add_argument(
        "--max-states",
        type=_positive_int,
        metavar="N",
        help="stop with 'incomplete' after N distinct states per design",
    )
    c.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="stop with 'incomplete' after S seconds per design",
    )
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
        type=_positive_float,
        metavar="S",
        help="seconds between two checkpoints inside a level (default 300)",
    )
    _distributed(
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
    _outputs(c)
    _machine(c)
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


def _simulate_command(command) -> None:
    sm = command(
        "simulate",
        help="random walks deeper than breadth-first search reaches; "
        "violations are shrunk, saved and replayable like any counterexample",
    )
    _selection(sm, "all")
    sm.add_argument(
        "--depth",
        type=_positive_int,
        default=200,
        metavar="N",
        help="steps per walk (default 200; not bounded by the design's depth)",
    )
    sm.add_argument(
        "--runs",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="walks per design (default 1000)",
    )
    sm.add_argument("--seed", type=_positive_int, default=0, help="random seed (default 0)")
    sm.add_argument("--time-limit", type=_positive_float, metavar="S", help="per design")
    sm.add_argument(
        "--weights",
        type=_weights,
        metavar="FAMILY=W,...",
        help="relative weight of action families (default 1 each; 0 leaves one out)",
    )
    sm.add_argument(
        "--swarm",
        action="store_true",
        help="swarm testing: fresh random family weights for every walk",
    )
    _sizes(sm, BOUND_NAMES[1:])
    _distributed(sm, "split the walks over N workers, swarm style (default 1: this process)")
    _outputs(sm)
    _machine(sm)
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
    _user_files(g)
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
        type=_positive_float,
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
    _machine(g)
    g.add_argument(
        "--force",
        action="store_true",
        help="overwrite --json/--junit/--summary files daxcheck did not write",
    )


def _replay_command(command) -> None:
    r = command("replay", help="re-execute a counterexample on the spec and on pmem bytes")
    r.add_argument("file", help="an *.itf.json counterexample")
    r.add_argument(
        "--design",
        metavar="D",
        help="replay the recorded actions on design D "
        "(at the recorded bounds) instead of the recorded design: does the "
        "counterexample still reproduce on a fixed design?",
    )
    _user_files(r)
    r.add_argument(
        "--pmem", metavar="PATH", help="pmem image file to replay on (a copy unless --force)"
    )
    r.add_argument("--force", action="store_true", help="write to the --pmem file itself")
    r.add_argument(
        "--crash-states",
        type=_crash_states,
        default="all",
        metavar="all|N",
        help="crash images to check at each crash (default: all up to 4096)",
    )
    r.add_argument("--seed", type=_positive_int, default=0, help="seed for sampled crash images")
    r.add_argument(
        "--on",
        choices=("pmem", "qemu-dax"),
        default="pmem",
        help="pmem: the byte-level replay (default); qemu-dax: run the actions as "
        "syscalls on a real kernel and compare it with the fixed and the broken "
        "design",
    )
    r.add_argument(
        "--kernel", choices=tuple(KERNELS), default="6.12", help="--on qemu-dax: the kernel booted"
    )
    r.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="stop after S seconds (incomplete, exit 75)",
    )


def _view_graph_commands(command) -> None:
    v = command("view", help="draw a counterexample as one self-contained HTML page")
    v.add_argument("file", help="an *.itf.json counterexample")
    v.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    v.add_argument(
        "--force", action="store_true", help="overwrite OUT if it is not a daxcheck page"
    )

    gr = command("graph", help="export the explored state graph (small bounds) with networkx")
    gr.add_argument("--design", required=True, metavar="D")
    _user_files(gr)
    gr.add_argument("--out", required=True, metavar="FILE", help="G.graphml or G.dot")
    gr.add_argument(
        "--max-states",
        type=_positive_int,
        default=5000,
        metavar="N",
        help="refuse when the graph has more states (default 5000)",
    )
    gr.add_argument("--force", action="store_true", help="overwrite FILE")
    _sizes(gr, BOUND_NAMES)


def _oracle_commands(command) -> None:
    kr = command("kernel", help="prepare the Debian kernels the real-DAX oracle boots (root)")
    kr.add_argument(
        "action",
        choices=("setup",),
        help="setup: download, unpack, build the initramfs (cached under ~/.cache/daxcheck/kernel)",
    )
    kr.add_argument("--kernel", choices=tuple(KERNELS) + ("all",), default="6.12")
    kr.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="stop after S seconds (incomplete, exit 75)",
    )

    o = command(
        "oracle",
        help="differential test of the spec against a real kernel: XFS "
        "with reflink on a loop device, or the real fsdax path in QEMU (needs root)",
    )
    o.add_argument(
        "--target",
        choices=TARGETS,
        default="loop-xfs",
        help="loop-xfs (no DAX, fast; default) or qemu-dax (a Debian kernel on an "
        "emulated NVDIMM; run `daxcheck kernel setup` first)",
    )
    o.add_argument(
        "--kernel",
        choices=tuple(KERNELS),
        default="6.12",
        help="qemu-dax: the kernel booted and the spec design xfs-KERNEL compared",
    )
    o.add_argument("--runs", type=_positive_int, default=200, help="generated sequences")
    o.add_argument("--seed", type=_positive_int, default=0)
    o.add_argument("--max-ops", type=_positive_int, default=10, help="operations per sequence")
    o.add_argument(
        "--crash-rate",
        type=_rate,
        default=0.1,
        metavar="R",
        help="qemu-dax: share of sequences ending in a crash (default 0.1)",
    )
    o.add_argument(
        "--kill-share",
        type=_rate,
        default=0.2,
        metavar="R",
        help="qemu-dax: share of crashes that kill QEMU and reboot (the others "
        "shut XFS down and remount; default 0.2)",
    )
    o.add_argument(
        "--setting",
        type=_setting,
        action="append",
        default=[],
        metavar="K=V",
        help="qemu-dax: change a setting of the spec design (a hypothesis to test "
        "against the kernel, e.g. sync_fault=never); repeatable",
    )
    o.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="stop after S seconds, the loop device unmounted and the guest shut "
        "down (incomplete, exit 75)",
    )


def _prove_command(command) -> None:
    pv = command("prove", help="k-induction with Z3: holds at every depth?")
    _selection(pv, "every design expected to hold")
    pv.add_argument("--k", type=_positive_int, help="one induction depth (default: 1..--max-k)")
    pv.add_argument("--max-k", type=_positive_int, default=2, help="largest k tried (default 2)")
    pv.add_argument(
        "--lemmas",
        choices=("none", "shipped", "mined"),
        default="shipped",
        help="strengthening candidates, each proved before it is used",
    )
    pv.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="per design (one Houdini run proves all its properties)",
    )
    _sizes(pv, BOUND_NAMES[1:])  # a proof covers every depth
    _outputs(pv)
    _machine(pv)


def _query_list_commands(command) -> None:
    q = command("query", help="byte-offset questions answered by Z3")
    q.add_argument("name", nargs="*", help="queries to run (default: all)")
    q.add_argument("--time-limit", type=_positive_float, default=30.0, metavar="S")

    ls = command("list", help="list designs, properties, lemmas, actions, hooks or queries")
    ls.add_argument(
        "what", choices=("designs", "properties", "lemmas", "actions", "hooks", "queries")
    )
    ls.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="actions: document every argument (name, meaning, units); designs: "
        "the citation (commit, thread, xfstest) and the scope",
    )
    _user_files(ls)


def _coverage_command(command) -> None:
    cv = command(
        "coverage",
        help="which spec and property decisions the designs' explored "
        "states decide both ways (per kernel function; gaps as file:line)",
    )
    _selection(cv, "every registered design")
    cv.add_argument(
        "--depth",
        type=_positive_int,
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
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="--explain: seconds per solver question (default 60)",
    )
    cv.add_argument("--gaps", nargs="?", const="", metavar="FILE", help="a saved report's gaps")
    cv.add_argument(
        "--fail-under",
        type=_percent,
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


def _percent(text):
    v = _positive_float(text)
    if v > 100:
        raise argparse.ArgumentTypeError(f"{text!r} is over 100")
    return v


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
        _replay_command,
        _view_graph_commands,
        _oracle_commands,
        _prove_command,
        _query_list_commands,
        _coverage_command,
    ):
        add(command)
    return p
