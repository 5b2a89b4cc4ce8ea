"""Overhead of the supervisor (daxcheck/supervisor.py, issue 27): the same command run by
the console script supervised (a parent that parses and checks paths, a worker that runs
the command and sends its result files back, the parent writing them) and in one process
(``DAXCHECK_NO_SUPERVISOR=1``), alternating, ``--repeat`` times each, in the same run.

Workloads: the main job (``daxcheck check``: every shipped design x every shipped property,
counterexamples written to a fresh folder, so the parent writes them) and
``daxcheck check --design cow-single-iomap --depth 7 --no-write --quiet``.  Prints per run
the wall-clock seconds of both ways and their ratio (supervised / in process; the order
inside a pair alternates, since the machine's speed drifts), the median ratio per workload,
and the CPU seconds the children used (``os.wait4``: parent + worker for the supervised
way), with the load average before and after (the machine is shared: ratios, not absolute
times, are what counts).  Exit codes must agree (12 and 0).

Usage: ``python bench/bench_supervisor.py [--repeat R] [--only main|cow7] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOADS = {
    "main": ["check"],
    "cow7": ["check", "--design", "cow-single-iomap", "--depth", "7", "--no-write", "--quiet"],
}
"""The commands timed (``daxcheck ARGS``)."""


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def once(args: list[str], supervised: bool) -> tuple[float, float, int]:
    """Run ``python -m daxcheck ARGS`` in a fresh folder: ``(seconds, CPU seconds of it and
    its children, exit code)``."""
    env = dict(os.environ)
    env.pop("DAXCHECK_NO_SUPERVISOR", None)
    if not supervised:
        env["DAXCHECK_NO_SUPERVISOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-supervisor-") as cwd:
        before = os.times()
        t0 = time.perf_counter()
        code = subprocess.run(
            [sys.executable, "-m", "daxcheck", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
        secs = time.perf_counter() - t0
        after = os.times()
    cpu = (
        after.children_user - before.children_user + after.children_system - before.children_system
    )
    return secs, cpu, code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=tuple(WORKLOADS))
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args()
    print(load(), flush=True)
    report = {}
    for name, args in WORKLOADS.items():
        if a.only and name != a.only:
            continue
        ratios, rows = [], []
        for i in range(a.repeat):
            order = (True, False) if i % 2 == 0 else (False, True)
            got = {sup: once(args, sup) for sup in order}
            (s_sec, s_cpu, s_code), (p_sec, p_cpu, p_code) = got[True], got[False]
            if s_code != p_code:
                print(f"{name}: exit codes differ: supervised {s_code}, in process {p_code}")
                return 1
            ratios.append(s_sec / p_sec)
            rows.append(
                {
                    "supervised_s": s_sec,
                    "in_process_s": p_sec,
                    "ratio": s_sec / p_sec,
                    "supervised_cpu": s_cpu,
                    "in_process_cpu": p_cpu,
                    "exit": s_code,
                }
            )
            print(
                f"{name} run {i + 1}: supervised {s_sec:6.2f}s (cpu {s_cpu:6.2f}s)  "
                f"in process {p_sec:6.2f}s (cpu {p_cpu:6.2f}s)  ratio {s_sec / p_sec:.3f}  "
                f"exit {s_code}",
                flush=True,
            )
        med = statistics.median(ratios)
        print(f"{name}: median ratio supervised / in process {med:.3f} over {a.repeat} pairs")
        report[name] = {"rows": rows, "median_ratio": med}
    print(load())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
