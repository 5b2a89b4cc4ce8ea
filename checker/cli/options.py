"""The options and option types the ``daxcheck`` commands share: argument types (a bad
value is a one-line parse error, exit 2), the option groups (selection, user files,
outputs, machine-readable files, bounds, Ray workers) and the bounds a command line may
override.  Light on purpose, like :mod:`.parser`: it imports neither the spec nor an engine.
"""

from __future__ import annotations

import argparse
import math

from ..results import segs_arg

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
def int_arg(text):
    """An ``int`` option value; ArgumentTypeError (a one-line parse error) otherwise."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text):
    """An ``int`` option value >= 0 (a count or a bound); ArgumentTypeError otherwise."""
    v = int_arg(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return v


def workers_arg(text):
    """``--workers N``: an ``int`` >= 1; ArgumentTypeError otherwise."""
    v = int_arg(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return v


def positive_float(text):
    """A finite ``float`` > 0 (seconds, megabytes); ArgumentTypeError otherwise."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return v


def weights_arg(text):
    """``--weights FAMILY=W,...``: ``{family: weight}`` with finite weights >= 0;
    ArgumentTypeError otherwise."""
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


def crash_states_arg(text):
    """``--crash-states all|N``: ``"all"`` or an ``int`` >= 0."""
    if text == "all":
        return "all"
    return positive_int(text)


def rate_arg(text: str) -> float:
    """A share in 0..1 (``--crash-rate``, ``--kill-share``); ArgumentTypeError otherwise."""
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in 0..1")
    return v


def setting_arg(text: str) -> tuple:
    """``--setting K=V``: ``(key, value)``, value ``True``/``False`` as a bool, else the
    string; ArgumentTypeError without ``=`` or key."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if value in ("True", "False"):
        return key, value == "True"
    return key, value


def percent_arg(text):
    """A percentage in (0, 100] (``--fail-under``); ArgumentTypeError otherwise."""
    v = positive_float(text)
    if v > 100:
        raise argparse.ArgumentTypeError(f"{text!r} is over 100")
    return v


# ------------------------------------------------------------------ option groups
def add_distributed(sp, what):
    """``--workers N`` (what N splits: ``what``) and ``--ray-address``."""
    sp.add_argument(
        "--workers",
        type=workers_arg,
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


def add_user_files(sp):
    """``--designs FILE`` and ``--properties FILE`` (users' Python files)."""
    sp.add_argument("--designs", metavar="FILE", help="Python file registering extra designs")
    sp.add_argument(
        "--properties", metavar="FILE", help="Python file with extra @invariant properties"
    )


def add_selection(sp, designs_default):
    """``--design D`` / ``--property P`` (repeatable; ``designs_default`` names the
    default in the help) and the user files."""
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
    add_user_files(sp)


def add_outputs(sp):
    """Where counterexample files go: ``--out DIR``, ``--no-write``, ``--force``."""
    sp.add_argument(
        "--out",
        default="counterexamples",
        metavar="DIR",
        help="where counterexample ITF files go (default: counterexamples)",
    )
    sp.add_argument("--no-write", action="store_true", help="do not write counterexample files")
    sp.add_argument("--force", action="store_true", help="overwrite different existing files")


def add_machine(sp):
    """Machine-readable outputs: ``--json``, ``--junit``, ``--summary`` files."""
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


def add_sizes(sp, names):
    """One ``--NAME N`` option per bound in ``names`` (:data:`BOUND_HELP`)."""
    for b in names:
        sp.add_argument(
            f"--{b}",
            type=segs_arg if b == "segs" else positive_int,
            metavar="N,..." if b == "segs" else "N",
            help=BOUND_HELP[b] + " (default: the design's)",
        )
