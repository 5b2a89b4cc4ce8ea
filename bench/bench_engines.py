"""Benchmark: the explicit engine vs the Z3 engine, per seed design.

For every shipped design, prints the time the explicit BFS (:func:`explore`) takes to its
verdicts at the design's default depth, the time bounded model checking (:func:`bmc`)
takes to cover the same depth (same verdicts; checked), and the deepest depth K the Z3
engine fully covers within ``--time`` seconds (default 60).  One BMC run per design serves
both Z3 columns: it goes on past the default depth until the time limit.  The last columns
are k-induction (:func:`prove_all`, shipped lemmas, k <= 2): the seconds of the one Houdini
run and how many properties it proves at every depth (no proved property may be violated
by exploration; checked).

Usage: ``python bench/bench_engines.py [--time SECONDS] [--design NAME ...]``
Output: a Markdown table (paste into README.md).
"""

from __future__ import annotations

import argparse
import sys
import time

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.symbolic.engine import SymbolicModel, bmc, prove_all
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel


def bench_design(name: str, seconds: float) -> dict:
    """Measure one design; returns a row dict (times in seconds)."""
    d = DESIGNS[name]
    m = DaxModel(d)
    props = list(PROPERTIES.values())
    t0 = time.perf_counter()
    ex = explore(m, props)
    t_ex = time.perf_counter() - t0
    D = m.bounds.depth
    reached = {}
    t0 = time.perf_counter()
    sm = SymbolicModel(m)
    r = bmc(
        m,
        props,
        depth=60,
        time_limit=seconds,
        sm=sm,
        progress=lambda k, s: reached.setdefault(k, time.perf_counter() - t0),
    )
    t_all = time.perf_counter() - t0
    # Time to the verdict at the default depth: when depth D was covered, or, if every
    # property was violated earlier, when the run ended.
    t_z3 = reached.get(D, t_all if r.stats.depth >= D or not reached else None)
    same = True
    for p, e in ex.verdicts.items():
        z = r.verdicts[p]
        if e.status == "violated":
            same &= (z.status == "violated" and z.depth == e.depth) or (
                z.status == "incomplete" and r.stats.depth < e.depth
            )
        else:
            same &= z.status != "violated" or z.depth > D
    t0 = time.perf_counter()
    run = prove_all(m, props, max_k=2, time_limit=seconds, sm=sm)
    t_prove = time.perf_counter() - t0
    proved = [r.prop for r in run.results if r.status == "proved"]
    same &= all(ex.verdicts[p].status != "violated" for p in proved)
    viol = ", ".join(f"{p}@{v.depth}" for p, v in ex.verdicts.items() if v.status == "violated")
    return {
        "design": name,
        "depth": D,
        "states": ex.stats.states,
        "explicit": t_ex,
        "z3": t_z3,
        "deepest": r.stats.depth,
        "agree": same,
        "violated": viol or "-",
        "prove": t_prove,
        "proved": len(proved),
        "props": len(props),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=60.0, help="Z3 time budget per design (s)")
    ap.add_argument("--design", action="append", help="only this design (repeatable)")
    a = ap.parse_args(argv)
    names = a.design or list(DESIGNS)
    bad = [n for n in names if n not in DESIGNS]
    if bad:
        print(f"unknown design {bad[0]!r} (known: {', '.join(DESIGNS)})", file=sys.stderr)
        return 2
    print(
        f"| design | default depth | explicit states | explicit s | Z3 BMC s to default depth "
        f"| deepest K in {a.time:g} s | same verdicts | violated (shortest depth) "
        f"| k-induction s | proved at every depth |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for n in names:
        row = bench_design(n, a.time)
        z3s = "timeout" if row["z3"] is None else f"{row['z3']:.1f}"
        ok &= row["agree"] and row["z3"] is not None
        print(
            f"| {n} | {row['depth']} | {row['states']} | {row['explicit']:.2f} | {z3s} | "
            f"{row['deepest']} | {'yes' if row['agree'] else 'NO'} | {row['violated']} | "
            f"{row['prove']:.1f} | {row['proved']}/{row['props']} |",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
