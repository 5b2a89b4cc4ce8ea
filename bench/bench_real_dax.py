"""The real-DAX oracle's speed on this machine (issue 22): for each kernel, in one run, the
boot time (QEMU start to the guest's ``ready`` line, TCG, 512 MiB emulated NVDIMM), the
sequences per second without crashes, the shutdown+remount crash points per minute and the
kill+reboot crash points per minute.

Every figure is measured here, in one run, on the same booted guest per kernel; the kernels
are prepared by ``daxcheck kernel setup --kernel all`` (root, Debian packages).

Usage: ``python bench/bench_real_dax.py [--kernel 6.12 6.1] [--runs 200] [--crashes 6]
[--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import time

from daxcheck.checker.oracle.qemu import dax_oracle as O
from daxcheck.checker.oracle.qemu import fixture
from daxcheck.checker.oracle.qemu.guest import DaxGuest


def measure(kernel: str, runs: int, crashes: int) -> dict:
    """One kernel: boot, ``runs`` crash-free sequences, ``crashes`` sequences ending in a
    shutdown and ``crashes`` ending in a kill; seconds and rates."""
    why = fixture.unavailable_reason(kernel)
    if why:
        raise SystemExit(f"bench_real_dax: {why}")
    with DaxGuest(fixture.find(kernel)) as g:
        t = time.monotonic()
        g.boot()
        boot = time.monotonic() - t
        O.prepare(g, fresh=True)
        t = time.monotonic()
        plain = O.run(g, kernel, runs, seed=1, crash_rate=0.0)
        plain_s = time.monotonic() - t
        t = time.monotonic()
        down = O.run(g, kernel, crashes, seed=2, crash_rate=1.0, kill_share=0.0)
        down_s = time.monotonic() - t
        t = time.monotonic()
        kill = O.run(g, kernel, crashes, seed=3, crash_rate=1.0, kill_share=1.0)
        kill_s = time.monotonic() - t
    bad = plain.mismatches + down.mismatches + kill.mismatches
    return {
        "kernel": kernel,
        "release": g.release,
        "boot_s": round(boot, 1),
        "reboot_s": [round(x, 1) for x in g.boot_seconds[1:]],
        "sequences": plain.sequences,
        "ops": plain.operations,
        "seq_per_s": round(plain.sequences / plain_s, 1),
        "shutdown_points_per_min": round(60 * down.shutdowns / down_s, 1),
        "kill_points_per_min": round(60 * kill.kills / kill_s, 1),
        "mismatches": len(bad),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", nargs="+", default=list(fixture.KERNELS))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--crashes", type=int, default=6)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    rows = [measure(k, args.runs, args.crashes) for k in args.kernel]
    print(
        "| kernel | boot s | reboots s | seq/s (no crash) | shutdown crash points/min "
        "| kill+reboot crash points/min | mismatches |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        rb = f"{min(r['reboot_s'])}-{max(r['reboot_s'])}" if r["reboot_s"] else "-"
        print(
            f"| {r['kernel']} ({r['release']}) | {r['boot_s']} | {rb} | {r['seq_per_s']} "
            f"| {r['shutdown_points_per_min']} | {r['kill_points_per_min']} | {r['mismatches']} |"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
