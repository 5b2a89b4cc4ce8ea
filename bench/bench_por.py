"""Partial-order reduction on the race designs (issue 11): distinct states of the full and
of the reduced search at each design's default bounds, their ratio, whether both searches
exhausted the reachable space, and whether every verdict is the same.

Two property sets per design: every shipped property (what ``daxcheck check`` checks),
and only the properties the design is about (its ``expect_violated``, or its broken
partner's for a fixed design).  A step is invisible, and so may be reduced, only when it
writes nothing the checked properties read: the fewer properties, the more reduction.

Usage: ``python bench/bench_por.py [--design NAME ...] [--json FILE]``
"""
from __future__ import annotations

import argparse
import json
import time

from daxcheck.checker.explicit.explore import explore
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel


def _partner_props(name):
    d = DESIGNS[name]
    if d.expect_violated:
        return sorted(d.expect_violated)
    for o in DESIGNS.values():
        if o.threaded and o.seed == d.seed and o.families == d.families and o.expect_violated:
            return sorted(o.expect_violated)
    return sorted(PROPERTIES)


def measure(name, props):
    """Full and reduced search of design ``name`` checking ``props``: a dict of figures."""
    m = DaxModel(DESIGNS[name])
    t0 = time.perf_counter()
    full = explore(m, props)
    t1 = time.perf_counter()
    red = explore(m, props, por=True)
    t2 = time.perf_counter()
    same = all(full.verdicts[p.name].status == red.verdicts[p.name].status for p in props)
    complete = all(v.complete for r in (full, red) for v in r.verdicts.values()
                   if v.status == "holds")
    return {"design": name, "properties": [p.name for p in props],
            "full": full.stats.states, "reduced": red.stats.states,
            "ratio": red.stats.states / full.stats.states, "same_verdicts": same,
            "complete": complete, "full_s": round(t1 - t0, 2), "reduced_s": round(t2 - t1, 2),
            "ample": red.stats.por}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    names = args.design or sorted(n for n, d in DESIGNS.items() if d.threaded)
    rows = []
    print(f"{'design':32} {'properties':>10} {'full':>8} {'reduced':>8} {'ratio':>6} "
          f"same complete")
    for n in names:
        for label, props in (("all", list(PROPERTIES.values())),
                             ("own", [PROPERTIES[p] for p in _partner_props(n)])):
            r = measure(n, props)
            r["set"] = label
            rows.append(r)
            print(f"{n:32} {label:>10} {r['full']:>8,} {r['reduced']:>8,} {r['ratio']:>6.2f} "
                  f"{str(r['same_verdicts']):>4} {str(r['complete']):>8}   {r['ample']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
