"""The state-space reduction options of ``daxcheck check`` (``--reduce``, ``--por``), kept
out of :mod:`.parser` (a unit over its size limit)."""

from __future__ import annotations

from ..engine import REDUCTIONS


def add_reduction_options(c) -> None:
    """Add ``--reduce {lipton}`` (transaction reduction by kernel locks,
    :mod:`daxcheck.checker.explicit.reduction`) and ``--por`` (ample sets,
    :mod:`daxcheck.checker.explicit.por`) to the argparse (sub)parser ``c``."""
    c.add_argument(
        "--reduce",
        choices=REDUCTIONS,
        default=None,
        help="explicit engine, race designs: transaction (Lipton) reduction by "
        "kernel locks: steps that commute under a held lock run as one atomic "
        "block (same verdicts and depths in operations; state counts then "
        "differ from the manifest's); other designs run unreduced, said so",
    )
    c.add_argument(
        "--por",
        action="store_true",
        help="explicit engine, race designs: partial-order reduction by ample "
        "sets (same verdicts when the search is complete; counterexamples "
        "may be longer; state counts then differ from the manifest's)",
    )
