"""Transaction (Lipton) reduction on the race designs (issue 26): per design and scope,
distinct states and seconds of the unreduced search (the default batched BFS, ``daxcheck
check``) and of the reduced one (``check --reduce lipton``), measured in one run, their
ratio, and whether the verdicts agree.

Scopes: each design's default bounds, then ``--threads 2 --files 2 --depth 60`` and
``--threads 3 --files 2 --depth 60`` (the issue's scope; the unreduced depth is in steps,
the reduced one in operations, and both exhaust the space where they finish: "complete").
Every search runs under ``--time-limit`` (default 60 s): a search that does not finish is
shown with ``>`` and its state count at the limit, and a ratio involving it is a bound.  The reduced search is the per-state
reference explorer (:mod:`daxcheck.checker.explicit.reduction`), about 2,000-3,000
states/s against the batched BFS's 30,000-60,000, so the seconds column compares unlike
engines; the states column is what the reduction itself removes.

Usage: ``python bench/bench_races.py [--design NAME ...] [--all] [--time-limit S]
[--scope default|2x2|3x2 ...] [--json FILE]``; without ``--design``, the race designs
that hold (``--all``: the broken ones too).
"""

from __future__ import annotations

import argparse
import json
import time

from daxcheck.checker.engine import Budget
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.explicit.reduction import explore_lipton
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.scopes import is_coverage_scope

SCOPES = {
    "default": {},
    "2x2": {"threads": 2, "files": 2, "depth": 60},
    "3x2": {"threads": 3, "files": 2, "depth": 60},
}


def _run(fn, model, props, limit):
    t0 = time.perf_counter()
    res = fn(model, props, budget=Budget(time_limit=limit))
    return res, time.perf_counter() - t0


def measure(name, scope, limit):
    """Unreduced and reduced search of design ``name`` at ``scope`` (a key of
    :data:`SCOPES`), each under ``limit`` seconds: a dict of figures."""
    d = DESIGNS[name]
    m = DaxModel(d, d.bounds.replace(**SCOPES[scope]))
    props = list(PROPERTIES.values())
    full, full_s = _run(explore, m, props, limit)
    red, red_s = _run(explore_lipton, m, props, limit)
    done = [not r.stats.stopped for r in (full, red)]
    complete = all(
        v.complete for r in (full, red) for v in r.verdicts.values() if v.status == "holds"
    )
    same = all(full.verdicts[p].status == red.verdicts[p].status for p in full.verdicts)
    return {
        "design": name,
        "scope": scope,
        "full": full.stats.states,
        "full_s": round(full_s, 2),
        "full_done": done[0],
        "reduced": red.stats.states,
        "reduced_s": round(red_s, 2),
        "reduced_done": done[1],
        "ratio": full.stats.states / max(red.stats.states, 1),
        "same_verdicts": same if all(done) else None,
        "complete": complete if all(done) else None,
        "reduction": red.stats.por,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append")
    ap.add_argument("--all", action="store_true", help="the broken race designs too")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--scope", action="append", choices=sorted(SCOPES))
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    races = [n for n, d in DESIGNS.items() if d.threaded and not is_coverage_scope(d)]
    names = args.design or [n for n in races if args.all or not DESIGNS[n].expect_violated]
    scopes = args.scope or list(SCOPES)
    rows = []
    print(
        f"{'design':30} {'scope':>7} {'unreduced':>11} {'s':>7} {'reduced':>10} {'s':>7} "
        f"{'ratio':>7} same complete"
    )
    for scope in scopes:
        for n in names:
            r = measure(n, scope, args.time_limit)
            rows.append(r)
            f = ("" if r["full_done"] else ">") + f"{r['full']:,}"
            g = ("" if r["reduced_done"] else ">") + f"{r['reduced']:,}"
            print(
                f"{n:30} {scope:>7} {f:>11} {r['full_s']:>7.1f} {g:>10} {r['reduced_s']:>7.1f} "
                f"{r['ratio']:>6.1f}x {r['same_verdicts']} {r['complete']}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
