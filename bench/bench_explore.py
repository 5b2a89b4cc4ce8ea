"""Benchmark of the explicit engine: distinct states per second and memory, against the
reference per-state explorer ("today's engine": memoised on read sets) in the same run.

Every run is a fresh Python process (so its peak resident set size is its own) pinned to
one CPU; figures are ratios measured in this one run, because the machine is shared and
absolute times drift.  Three parts:

1. every shipped design at its default bound with the default (batched) explorer;
2. ``cow-single-iomap`` at ``--depth`` (default 7) with the batched explorer and with the
   reference explorer, alternating, ``--repeat`` runs of the former and ``--ref-repeat``
   of the latter (the reference takes minutes there); the speedup is the ratio of the
   median times, and the two must agree on the states and verdicts;
3. ``cow-single-iomap`` one level deeper (default 8) with the batched explorer: states,
   time and peak RSS (the issue asks for under 2 GB);
4. symmetry reduction (``check --symmetry``) on ``reflink-shared-count --files 3`` and
   ``cow-single-iomap --phys 4``: states with and without, and whether every verdict and
   shortest depth is the same.

bytes/state = (peak RSS - RSS of an idle process with the same imports) / states.

Usage: ``python bench/bench_explore.py [--design NAME] [--repeat N] [--ref-repeat N]
[--depth D] [--deep D] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, sys, time
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.properties import PROPERTIES
from daxcheck.checker.explicit.explore import explore
import daxcheck.checker.explicit.levels  # NumPy etc.: in the idle baseline too
import resource
name, engine, depth = sys.argv[1], sys.argv[2], int(sys.argv[3])
over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
if name == "-":
    print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})); sys.exit(0)
d = DESIGNS[name]
m = DaxModel(d, d.bounds.replace(**over, **({"depth": depth} if depth else {})))
t = time.perf_counter()
r = explore(m, list(PROPERTIES.values()), batched=engine != "reference",
            symmetry=engine == "symmetry")
dt = time.perf_counter() - t
print(json.dumps({"design": name, "engine": engine, "depth": m.bounds.depth,
                  "states": r.stats.states, "transitions": r.stats.transitions,
                  "seconds": dt, "rate": r.stats.states / dt,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "symmetry": r.stats.symmetry,
                  "verdicts": {k: [v.status, v.depth] for k, v in r.verdicts.items()}}))
"""


def child(name: str, engine: str = "batched", depth: int = 0, **bounds) -> dict:
    """One fresh, single-CPU process exploring ``name`` (depth 0: the design's bound) with
    ``engine`` batched, reference or symmetry (batched with ``--symmetry``)."""
    cpu = max(os.sched_getaffinity(0))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, name, engine, str(depth), json.dumps(bounds)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    ).stdout
    return json.loads(out)


def median_run(runs: list) -> dict:
    runs = sorted(runs, key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def main() -> int:
    from daxcheck.spec.designs import DESIGNS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append", help="only these designs in part 1")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    ap.add_argument(
        "--ref-repeat",
        type=int,
        default=1,
        help="runs of the reference explorer in part 2 (median)",
    )
    ap.add_argument("--depth", type=int, default=7, help="part 2 depth (default 7)")
    ap.add_argument("--deep", type=int, default=8, help="part 3 depth (default 8; 0 skips)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    idle = child("-")["rss_kb"]

    def per_state(r):
        return (r["rss_kb"] - idle) * 1024 / max(r["states"], 1)

    names = args.design or list(DESIGNS)
    rows = [median_run([child(n) for _ in range(args.repeat)]) for n in names]
    print(
        f"{'design':24s} {'states':>9s} {'transitions':>12s} {'seconds':>8s} {'states/s':>9s} "
        f"{'peak MB':>8s} {'B/state':>8s}"
    )
    for r in rows:
        print(
            f"{r['design']:24s} {r['states']:9,d} {r['transitions']:12,d} {r['seconds']:8.2f} "
            f"{r['rate']:9,.0f} {r['rss_kb'] / 1024:8.1f} {per_state(r):8.0f}"
        )

    big = "cow-single-iomap"
    new, ref = [], []
    for k in range(max(args.repeat, args.ref_repeat)):  # alternating
        if k < args.repeat:
            new.append(child(big, "batched", args.depth))
        if k < args.ref_repeat:
            ref.append(child(big, "reference", args.depth))
    n, r = median_run(new), median_run(ref)
    if (n["states"], n["verdicts"]) != (r["states"], r["verdicts"]):
        raise SystemExit(
            f"batched and reference explorers disagree on {big} depth "
            f"{args.depth}: {n['states']} vs {r['states']} states"
        )
    speedup = r["seconds"] / n["seconds"]
    print()
    print(f"{big} --depth {args.depth}: {n['states']:,} states (same states and verdicts in both)")
    print(
        f"  batched   {n['seconds']:8.1f} s {n['rate']:10,.0f} states/s  peak "
        f"{n['rss_kb'] / 1024:7.0f} MB  {per_state(n):5.0f} B/state  (median of {len(new)})"
    )
    print(
        f"  reference {r['seconds']:8.1f} s {r['rate']:10,.0f} states/s  peak "
        f"{r['rss_kb'] / 1024:7.0f} MB  {per_state(r):5.0f} B/state  (median of {len(ref)})"
    )
    print(f"  speedup {speedup:.1f}x (same run)")
    deep = None
    if args.deep:
        deep = child(big, "batched", args.deep)
        print(
            f"{big} --depth {args.deep}: {deep['states']:,} states in {deep['seconds']:.1f} s, "
            f"peak RSS {deep['rss_kb'] / 1024:,.0f} MB ({per_state(deep):.0f} B/state)"
        )
    sym = []
    print()
    for name, bounds in (("reflink-shared-count", {"files": 3}), ("cow-single-iomap", {"phys": 4})):
        full, red = child(name, "batched", **bounds), child(name, "symmetry", **bounds)
        same = full["verdicts"] == red["verdicts"]
        sym.append(
            {
                "design": name,
                "bounds": bounds,
                "states": full["states"],
                "symmetric_states": red["states"],
                "symmetry": red["symmetry"],
                "same_verdicts": same,
            }
        )
        print(
            f"{name} {' '.join(f'--{k} {v}' for k, v in bounds.items())}: "
            f"{full['states']:,} states, {red['states']:,} with --symmetry "
            f"({full['states'] / red['states']:.2f}x fewer; {red['symmetry']}); verdicts and "
            f"shortest depths {'identical' if same else 'DIFFERENT'}"
        )
    if args.json:
        from daxcheck.fileio import atomic_write

        atomic_write(
            args.json,
            json.dumps(
                {
                    "rows": rows,
                    "compare": {"batched": new, "reference": ref, "speedup": speedup},
                    "deep": deep,
                    "symmetry": sym,
                },
                indent=1,
            ),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
