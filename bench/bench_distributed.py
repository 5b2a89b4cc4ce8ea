"""Benchmark of the distributed explorer (checker/distributed/): ``--workers 1`` (the
one-process batched explorer) against ``--workers 2`` (Ray, hash-partitioned BFS) on
``cow-single-iomap --depth 7`` in the same run, alternating ``--repeat`` times.

Prints per run and as medians: seconds, distinct states (must be identical, as must every
verdict and depth), the ratio of the one-process time to the distributed time (target
>= 1.6 on a quiet 2-core machine; the median is that of the runs' ratios, each from two
searches run one after the other: the machine's speed drifts by 10-20% over minutes), the
machine's ceiling (``N`` one-process searches run at once as ``N`` processes, between the
two: ``N`` x one search alone / the slowest of them; on this VM two busy cores do not
always give twice the work of one) and the share of it the distributed run reached, and
for the distributed run: the levels the driver explored alone before the workers took its
frontier over (and the seconds of both), per-worker throughput (states / worker / second,
and seconds per worker in the expand, resolve and build rounds), candidates per state,
candidates new at the worker that met them per state, bytes sent between workers per
state (fingerprints to their owners, the owners' answers, states moved to even out the
ranges, key-table entries handed to the other workers at each level's end), fingerprints
sent and states moved per state, the key-table entries the workers took from each other,
the workers' memory per state (visited fingerprints with the marks, per-level links), and
the CPU seconds of the one-process run against those of the workers and the driver (a
load-independent work ratio: the machine is shared, and a loaded machine gives two
workers less than two cores; the "best ratio" is the one-process CPU time over the
busiest distributed process's CPU time, what two idle cores would give).
The distributed time is the search only (workers built and warm: the same Ray session and
actors for every repeat); Ray's start (``ray.init`` + actors) is printed apart.  The load
average is printed before and after, and per run the CPU seconds other processes used
during each search (``/proc/stat`` minus the searches' own CPU: the machine is shared;
ratios, not absolute times, are what counts).

Usage: ``python bench/bench_distributed.py [--design NAME] [--depth D] [--workers N]
[--repeat R] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def cpu() -> float:
    """CPU seconds (user + system) of this process."""
    t = os.times()
    return t.user + t.system


def machine_busy() -> tuple[float, float]:
    """``(busy, steal)``: CPU seconds all processes of this machine have used so far, and
    the time the hypervisor gave to other machines (``/proc/stat``; zeros elsewhere)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq) / hz, steal / hz


SEARCH = r"""
import sys, time
from daxcheck.checker.explicit.explore import explore
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
d = DESIGNS[sys.argv[1]]
m = DaxModel(d, d.bounds.replace(depth=int(sys.argv[2])))
props = list(PROPERTIES.values())
print("ready", flush=True)
sys.stdin.readline()                    # start together
t = time.perf_counter()
explore(m, props)
print(time.perf_counter() - t)
"""


def concurrent_searches(design: str, depth: int, n: int) -> list[float]:
    """Seconds of ``n`` one-process searches of ``design`` to ``depth`` run at the same
    time, one Python process each (started together once all are loaded): what ``n``
    busy cores of this machine give each search right now."""
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SEARCH, design, str(depth)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for p in procs:  # imports and model builds done
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a concurrent search did not start: exit {p.wait()}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return [float(p.communicate()[0].split()[-1]) for p in procs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="cow-single-iomap")
    ap.add_argument("--depth", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)

    from daxcheck.checker.distributed.bfs import WorkerPool, explore_distributed
    from daxcheck.checker.distributed.session import ray_session
    from daxcheck.checker.explicit.explore import Budget, explore
    from daxcheck.checker.explicit.levels import BatchedExplorer
    from daxcheck.properties import PROPERTIES
    from daxcheck.spec.designs import DESIGNS
    from daxcheck.spec.model import DaxModel

    d = DESIGNS[args.design]
    m = DaxModel(d, d.bounds.replace(depth=args.depth))
    props = list(PROPERTIES.values())
    print(
        f"{args.design} --depth {args.depth}: --workers 1 vs --workers {args.workers}; "
        f"{os.cpu_count()} CPUs; {load()}",
        flush=True,
    )
    t = time.perf_counter()
    out = {
        "design": args.design,
        "depth": args.depth,
        "workers": args.workers,
        "load_before": os.getloadavg(),
        "runs": [],
    }
    with ray_session(args.workers) as ray:
        pool = WorkerPool(ray, args.workers)
        try:
            ray.get([a.__ray_ready__.remote() for a in pool.actors])  # actors started
            out["ray_start_seconds"] = time.perf_counter() - t
            print(
                f"Ray start (ray.init + {args.workers} actors): {out['ray_start_seconds']:.1f}s",
                flush=True,
            )
            # The one-process explorer's key tables (for the memory line; not timed).
            ref = BatchedExplorer(m, props, m.bounds.depth, Budget())
            ref.run()
            one_tables = ref.table_bytes()
            del ref
            for rep in range(args.repeat):
                t, c, b = time.perf_counter(), cpu(), machine_busy()
                one = explore(m, props)
                t1, c1 = time.perf_counter() - t, cpu() - c
                b1 = [y - x for x, y in zip(b, machine_busy())]
                others1 = b1[0] - c1
                pair = concurrent_searches(args.design, args.depth, args.workers)
                extra = {}
                w0 = ray.get([a.cpu_seconds.remote() for a in pool.actors])
                t, c, b = time.perf_counter(), cpu(), machine_busy()
                two = explore_distributed(m, props, pool, stats_out=extra)
                t2, cd = time.perf_counter() - t, cpu() - c
                b2 = [y - x for x, y in zip(b, machine_busy())]
                w1 = ray.get([a.cpu_seconds.remote() for a in pool.actors])
                cw = [b - a for a, b in zip(w0, w1)]
                others2 = b2[0] - sum(cw) - cd
                same = one.stats.states == two.stats.states and {
                    k: (v.status, v.depth, v.trace) for k, v in one.verdicts.items()
                } == {k: (v.status, v.depth, v.trace) for k, v in two.verdicts.items()}
                lv = extra["levels"]
                n = two.stats.states
                sent = sum(x["sent_bytes"] for x in lv)
                sent_states = sum(x["sent_states"] for x in lv)
                cand = sum(x["candidates"] for x in lv)
                rounds = [
                    [sum(x["round_seconds"][w][k] for x in lv) for k in range(3)]
                    for w in range(args.workers)
                ]
                fresh = sum(x["fresh"] for x in lv)
                moved = sum(x["moved_states"] for x in lv)
                shared = sum(x.get("shared_entries", 0) for x in lv)
                mem = extra["memory"]
                run = {
                    "one_seconds": t1,
                    "dist_seconds": t2,
                    "ratio": t1 / t2,
                    "one_cpu_seconds": c1,
                    "worker_cpu_seconds": cw,
                    "driver_cpu_seconds": cd,
                    "work_ratio": (sum(cw) + cd) / c1,
                    "best_ratio": c1 / max(max(cw), cd),
                    "concurrent_seconds": pair,
                    "ceiling": args.workers * t1 / max(pair),
                    "others_cpu_seconds": [others1, others2],
                    "steal_seconds": [b1[1], b2[1]],
                    "states": [one.stats.states, two.stats.states],
                    "identical": same,
                    "per_worker_states_per_s": n / args.workers / t2,
                    "round_seconds_per_worker": rounds,
                    "fresh_per_state": fresh / n,
                    "moved_states_per_state": moved / n,
                    "candidates_per_state": cand / n,
                    "bytes_sent_per_state": sent / n,
                    "states_sent_per_state": sent_states / n,
                    "shared_entries": shared,
                    "visited_bytes_per_state": sum(x["visited"] for x in mem) / n,
                    "link_bytes_per_state": sum(x["links"] for x in mem) / n,
                    "table_bytes_per_worker": [x["tables"] for x in mem],
                    "one_table_bytes": one_tables,
                    "handoff": extra["handoff"],
                    "driver_seconds": extra.get("driver_seconds"),
                    "setup_seconds": extra.get("setup_seconds"),
                    "levels": lv,
                }
                out["runs"].append(run)
                print(
                    f"run {rep + 1}: --workers 1 {t1:.2f}s, --workers {args.workers} "
                    f"{t2:.2f}s, ratio {t1 / t2:.2f}x; states {one.stats.states:,} / "
                    f"{two.stats.states:,} ({'identical' if same else 'DIFFERENT'} states, "
                    f"verdicts, depths, traces)",
                    flush=True,
                )
                if extra["handoff"] is not None:
                    print(
                        f"  the driver explored levels 1-{extra['handoff']} "
                        f"({n - sum(x['states'] for x in lv):,} states with level 0) in "
                        f"{extra['driver_seconds']:.2f}s; the workers took its frontier "
                        f"over in {extra['setup_seconds']:.2f}s",
                        flush=True,
                    )
                print(
                    f"  per worker {run['per_worker_states_per_s']:,.0f} states/s "
                    f"(expand/resolve/build "
                    f"{', '.join('/'.join(f'{x:.2f}' for x in r) + 's' for r in rounds)}); "
                    f"{run['candidates_per_state']:.2f} candidates/state, "
                    f"{run['fresh_per_state']:.2f} new at their worker; sent "
                    f"{run['bytes_sent_per_state']:.1f} B/state "
                    f"({run['states_sent_per_state']:.2f} fingerprints sent/state, "
                    f"{run['moved_states_per_state']:.3f} states moved/state, "
                    f"{shared:,} key-table entries shared); worker "
                    f"memory {run['visited_bytes_per_state']:.1f} B visited + "
                    f"{run['link_bytes_per_state']:.1f} B links per state, key tables "
                    f"{', '.join(f'{x / 2**20:.0f}' for x in run['table_bytes_per_worker'])} "
                    f"MB (one process: {one_tables / 2**20:.0f} MB); {load()}",
                    flush=True,
                )
                print(
                    f"  CPU: --workers 1 {c1:.2f}s; --workers {args.workers} workers "
                    f"{', '.join(f'{x:.2f}s' for x in cw)} + driver {cd:.2f}s = "
                    f"{run['work_ratio']:.2f}x the one-process CPU (load-independent; with "
                    f"{args.workers} idle cores the best ratio is about "
                    f"{run['best_ratio']:.2f}x)",
                    flush=True,
                )
                print(
                    f"  {args.workers} one-process searches at once took "
                    f"{', '.join(f'{x:.2f}s' for x in pair)} (one alone {t1:.2f}s): this "
                    f"machine's ceiling for {args.workers} processes now "
                    f"{run['ceiling']:.2f}x; the distributed run reached "
                    f"{run['ratio'] / run['ceiling']:.0%} of it",
                    flush=True,
                )
                print(
                    f"  other processes (Ray's own included) used {others1:.1f} CPU s during "
                    f"--workers 1 ({others1 / t1:.2f} cores), {others2:.1f} CPU s during "
                    f"--workers {args.workers} ({others2 / t2:.2f} cores); hypervisor "
                    f"steal {b1[1]:.1f} s / {b2[1]:.1f} s",
                    flush=True,
                )
        finally:
            pool.close()
    r1 = statistics.median(r["one_seconds"] for r in out["runs"])
    r2 = statistics.median(r["dist_seconds"] for r in out["runs"])
    ratios = sorted(r["ratio"] for r in out["runs"])
    out["median_ratio"] = statistics.median(ratios)  # of the per-run (paired) ratios
    out["median_best_ratio"] = statistics.median(r["best_ratio"] for r in out["runs"])
    out["median_ceiling"] = statistics.median(r["ceiling"] for r in out["runs"])
    out["median_of_ceiling"] = statistics.median(r["ratio"] / r["ceiling"] for r in out["runs"])
    out["load_after"] = os.getloadavg()
    print(
        f"median: --workers 1 {r1:.2f}s, --workers {args.workers} {r2:.2f}s; ratio of each "
        f"run {ratios[0]:.2f}-{ratios[-1]:.2f}x, median {out['median_ratio']:.2f}x (target "
        f">= 1.6 on a quiet 2-core machine; CPU estimate {out['median_best_ratio']:.2f}x); "
        f"machine ceiling median {out['median_ceiling']:.2f}x, reached "
        f"{out['median_of_ceiling']:.0%}; {load()}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if all(r["identical"] for r in out["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
