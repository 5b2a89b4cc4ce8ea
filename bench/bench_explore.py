"""Benchmark of the explicit engine: distinct states per second and peak memory.

Every shipped design is explored at its default bound in a fresh Python process (so the
peak resident set size is its own); the largest design (most distinct states) is also run
with memoisation off.  Figures are reported as ratios measured in this one run, because the
machine is shared and absolute times drift:

* floor ratio = distinct states/s of the largest design / 30,000 (the issue's floor),
* memo speedup = memoised states/s / reference (memo=False) states/s, same design,
* bytes/state = (peak RSS - RSS of an idle process with daxcheck imported) / states,
* calib = a fixed pure-Python workload (200,000 dict inserts of 8-byte keys, best of 5)
  timed in the same process right after the exploration; states per calib-second
  normalises the rate for the VM's speed at that moment.

Each figure is the median of ``--repeat`` runs (default 3): the VM's speed varies by
tens of percent from one second to the next.

Usage: ``python bench/bench_explore.py [--design NAME] [--repeat N] [--json FILE]``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

FLOOR = 30_000

CHILD = r"""
import json, resource, sys, time
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.properties import PROPERTIES
from daxcheck.checker.explicit.explore import explore
import timeit
name, memo = sys.argv[1], sys.argv[2] == "1"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if name == "-":
    print(json.dumps({"rss_kb": base})); sys.exit(0)
r = explore(DaxModel(DESIGNS[name]), list(PROPERTIES.values()), memo=memo)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
calib = min(timeit.repeat('d={}\nfor i in range(200000): d[i.to_bytes(8, "little")] = i',
                          number=1, repeat=5))
print(json.dumps({"design": name, "states": r.stats.states, "transitions": r.stats.transitions,
                  "seconds": r.stats.seconds, "rate": r.stats.rate, "rss_kb": peak,
                  "calib_s": calib}))
"""


def child(name: str, memo: bool = True, repeat: int = 1) -> dict:
    """Median-rate run of ``name`` over ``repeat`` fresh processes."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, name, "1" if memo else "0"],
                             capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out))
    runs.sort(key=lambda r: r.get("rate", 0))
    return runs[len(runs) // 2]


def main() -> int:
    from daxcheck.spec.designs import DESIGNS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append", help="only these designs")
    ap.add_argument("--repeat", type=int, default=3, help="runs per design (median)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    names = args.design or list(DESIGNS)
    idle = child("-")["rss_kb"]
    rows = [child(n, repeat=args.repeat) for n in names]
    largest = max(rows, key=lambda r: r["states"])
    plain = child(largest["design"], memo=False, repeat=args.repeat)
    print(f"{'design':24s} {'states':>9s} {'transitions':>12s} {'seconds':>8s} {'states/s':>9s} "
          f"{'peak MB':>8s} {'B/state':>8s}")
    for r in rows:
        per = (r["rss_kb"] - idle) * 1024 / max(r["states"], 1)
        print(f"{r['design']:24s} {r['states']:9,d} {r['transitions']:12,d} {r['seconds']:8.2f} "
              f"{r['rate']:9,.0f} {r['rss_kb'] / 1024:8.1f} {per:8.0f}")
    per = (largest["rss_kb"] - idle) * 1024 / largest["states"]
    summary = {
        "largest_design": largest["design"], "states": largest["states"],
        "states_per_s": round(largest["rate"]), "floor_ratio": round(largest["rate"] / FLOOR, 2),
        "memo_speedup": round(largest["rate"] / plain["rate"], 2),
        "peak_rss_mb": round(largest["rss_kb"] / 1024, 1), "bytes_per_state": round(per),
        "calib_s": round(largest["calib_s"], 4),
        "states_per_calib_s": round(largest["rate"] * largest["calib_s"]),
    }
    print()
    print(f"largest design {summary['largest_design']}: {summary['states']:,} states at "
          f"{summary['states_per_s']:,} states/s = {summary['floor_ratio']}x the 30,000/s floor; "
          f"memoisation speedup {summary['memo_speedup']}x (same run); peak RSS "
          f"{summary['peak_rss_mb']} MB, ~{summary['bytes_per_state']} bytes/state; calibration "
          f"loop {summary['calib_s']}s in that process ({summary['states_per_calib_s']:,} states "
          f"per calibration-loop time)")
    if args.json:
        from daxcheck.fileio import atomic_write
        atomic_write(args.json, json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
