"""Two checkouts of daxcheck, same benchmarks, one run: the ratios old/new.

Issue 24's "benchmarks within noise of before": each checkout is measured with its own
interpreter (a venv where that checkout is installed) and its own ``bench/`` folder (its
``bench_explore.child`` and ``vs_spin.run_daxcheck``, so each side runs the benchmark code
written against its own API).  The two sides alternate, ``--repeat`` times, each run a
fresh process pinned to one CPU (the benchmarks' own children); a figure is the median
of the repetitions and only the ratios mean anything (the machine is shared).

Measured per side:

* ``explore``: bench_explore's part 1 on ``--design`` (default: the seed designs, which
  both checkouts ship) at their default bounds, and part 2's batched run
  (``cow-single-iomap`` at ``--depth``, default 7): exploration seconds (the search only,
  not start-up), states, peak RSS;
* ``toy``: vs_spin's daxcheck run of the shared toy (``--toy F P B``, default 3 3 4).

Where the spec itself changed between the checkouts a design's state count differs (the
rows say so); throughput (states per second, new/old) compares them, and the time ratio
old/new is the like-for-like figure only where the counts are equal.

Usage: ``python bench/before_after.py --old-python OLD/venv/bin/python --old-bench
OLD/bench [--new-python PY] [--new-bench DIR] [--repeat N] [--design D ...] [--depth D]
[--toy F P B] [--json FILE]``; exit 2 on bad input or a failed run (one line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SEED_DESIGNS = (
    "reflink-single-owner",
    "reflink-shared-count",
    "reflink-refused",
    "immutable-extents",
    "immutable-no-reflink",
    "userspace-flush",
    "map-sync",
    "mixed-dirty-tracking",
    "cow-single-iomap",
    "cow-srcmap",
    "cow-in-core-refcount",
    "hole-size-unknown",
    "iomap-hole-size",
)
"""The designs of issue 24's seed threads, shipped by both checkouts."""

SIDE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
kind, args = sys.argv[2], json.loads(sys.argv[3])
if kind == "explore":
    import bench_explore
    print(json.dumps(bench_explore.child(args["design"], "batched", args["depth"])))
else:
    import vs_spin
    print(json.dumps(vs_spin.run_daxcheck(*args["toy"])))
"""
"""Run by each side's interpreter: one measurement with that side's bench module."""


def measure(python: str, bench: str, kind: str, args: dict) -> dict:
    """One measurement (``kind`` "explore" or "toy") by ``python`` with the bench scripts of
    folder ``bench``: the benchmark's JSON dict (``seconds``, ``states``, ``rss_kb``).
    Raises RuntimeError with the side's last output lines when it fails."""
    p = subprocess.run(
        [python, "-c", SIDE, bench, kind, json.dumps(args)], capture_output=True, text=True
    )
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{python} ({bench}) {kind} {args} failed: {' | '.join(tail)}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(sides: dict, jobs: list, repeat: int) -> list[dict]:
    """Every job ``(label, kind, args)`` on both sides, alternating (old first on even
    repetitions, new first on odd ones), ``repeat`` times: per job the median seconds and
    RSS of each side, their ratios old/new and both state counts."""
    runs: dict = {(label, side): [] for label, _, _ in jobs for side in sides}
    for i in range(repeat):
        order = list(sides) if i % 2 == 0 else list(sides)[::-1]
        for label, kind, args in jobs:
            for side in order:
                python, bench = sides[side]
                runs[label, side].append(measure(python, bench, kind, args))
    rows = []
    for label, _, _ in jobs:
        med = {
            side: {
                "seconds": statistics.median(r["seconds"] for r in runs[label, side]),
                "rss_kb": statistics.median(r["rss_kb"] for r in runs[label, side]),
                "states": runs[label, side][0]["states"],
            }
            for side in sides
        }
        rows.append(
            {
                "job": label,
                **{f"{side}_{k}": v for side in sides for k, v in med[side].items()},
                "time_ratio": med["old"]["seconds"] / med["new"]["seconds"],
                "rate_ratio": (med["new"]["states"] / med["new"]["seconds"])
                / (med["old"]["states"] / med["old"]["seconds"]),
                "rss_ratio": med["old"]["rss_kb"] / med["new"]["rss_kb"],
            }
        )
    return rows


def main(argv=None) -> int:
    """Parse the command line, run :func:`compare` and print one line per job and the
    total; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old-python", required=True, help="interpreter of the old checkout")
    ap.add_argument("--old-bench", required=True, help="the old checkout's bench/ folder")
    ap.add_argument("--new-python", default=sys.executable, help="default: this one")
    ap.add_argument("--new-bench", default=str(HERE), help="default: this bench/ folder")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per side (median)")
    ap.add_argument("--design", action="append", help="designs (default: the seed designs)")
    ap.add_argument("--depth", type=int, default=7, help="cow-single-iomap's deep run")
    ap.add_argument("--toy", type=int, nargs=3, default=[3, 3, 4], metavar=("F", "P", "B"))
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args(argv)
    for folder in (a.old_bench, a.new_bench):
        if not (Path(folder) / "bench_explore.py").is_file():
            print(f"before_after: error: no bench_explore.py in {folder}", file=sys.stderr)
            return 2
    if a.repeat < 1:
        print("before_after: error: --repeat must be at least 1", file=sys.stderr)
        return 2
    sides = {"old": (a.old_python, a.old_bench), "new": (a.new_python, a.new_bench)}
    jobs = [(d, "explore", {"design": d, "depth": 0}) for d in a.design or SEED_DESIGNS]
    jobs.append(
        (f"cow-single-iomap@{a.depth}", "explore", {"design": "cow-single-iomap", "depth": a.depth})
    )
    jobs.append((f"toy {a.toy}", "toy", {"toy": a.toy}))
    try:
        rows = compare(sides, jobs, a.repeat)
    except (RuntimeError, OSError) as e:
        print(f"before_after: error: {e}", file=sys.stderr)
        return 2
    print(
        f"{'job':26s} {'old states':>10s} {'new states':>10s} {'old s':>7s} {'new s':>7s} "
        f"{'time o/n':>8s} {'rate n/o':>8s} {'RSS o/n':>7s}"
    )
    for r in rows:
        print(
            f"{r['job']:26s} {r['old_states']:10,d} {r['new_states']:10,d} "
            f"{r['old_seconds']:7.2f} {r['new_seconds']:7.2f} {r['time_ratio']:8.3f} "
            f"{r['rate_ratio']:8.3f} {r['rss_ratio']:7.3f}"
        )
    explore = [r for r in rows if r["job"] in {j[0] for j in jobs if j[1] == "explore"}]
    same = [r for r in explore if r["old_states"] == r["new_states"]]
    if same:
        t = sum(r["old_seconds"] for r in same) / sum(r["new_seconds"] for r in same)
        print(f"explore, equal state counts ({len(same)} jobs): time old/new {t:.3f}")
    rate = statistics.geometric_mean(r["rate_ratio"] for r in explore)
    print(f"explore, all {len(explore)} jobs: throughput new/old (geometric mean) {rate:.3f}")
    print(f"(medians of {a.repeat} alternating repetitions)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
