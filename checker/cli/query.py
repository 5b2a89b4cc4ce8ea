"""``daxcheck query [NAME ...]``: byte-offset questions answered by Z3."""

from __future__ import annotations

from ..results import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION, InputError
from ..symbolic.queries import QueryError, run_queries


def run(args, console) -> int:
    """Run the named queries (all by default) under ``--time-limit`` seconds each; prints
    their answers; returns 12 when one is satisfiable (a bad offset exists), 75 when one is
    unknown, else 0.  Raises InputError for an unknown query."""
    try:
        results = run_queries(args.name or None, time_limit=args.time_limit)
    except QueryError as e:
        raise InputError(str(e)) from None
    for r in results:
        for line in r.lines():
            console.print(line, markup=False)
    st = {r.status for r in results}
    return EXIT_VIOLATION if "sat" in st else (EXIT_INCOMPLETE if "unknown" in st else EXIT_OK)
