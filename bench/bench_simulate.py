"""Benchmark: batched random simulation vs the per-walk reference and the batched BFS, in
one run (issue 26).

For one design (default cow-single-iomap) with every shipped property, measures in this
process, one after the other: the batched BFS (:func:`explore`, the design's default depth)
in distinct states per second; the batched simulation (:func:`simulate`, walks advanced in
lockstep, ``--batch`` walks at a time) and the per-walk reference simulation
(``batched=False``) in visited states per second (with repetition), each for ``--time``
seconds of walks of ``--depth`` steps (swarm off, seed 0).  The walk rate is taken at the
last progress tick (walking only); the total rate also pays for shrinking the violations
found.  Prints a Markdown table and the ratios (batched / reference, batched / BFS).

Usage: ``python bench/bench_simulate.py [--design NAME] [--time S] [--depth N] [--batch K]``
"""

from __future__ import annotations

import argparse
import time

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.simulate import BatchedSimulation, simulate
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel


def walk_rate(model, props, seconds, depth, batched) -> dict:
    """States per second of one simulation of ``seconds``: at the last progress tick
    (``walk``) and over the whole run, shrinking included (``total``)."""
    ticks = []
    t0 = time.perf_counter()
    r = simulate(
        model,
        props,
        depth=depth,
        runs=None,
        time_limit=seconds,
        batched=batched,
        progress=lambda st: ticks.append((st.states, time.perf_counter() - t0)),
        progress_every=1.0,
    )
    total = time.perf_counter() - t0
    states, at = ticks[-1] if ticks else (r.stats.states, total)
    return {
        "walk": states / at,
        "total": r.stats.states / total,
        "states": r.stats.states,
        "walks": r.stats.walks,
        "violated": sum(v.status == "violated" for v in r.verdicts.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--design", default="cow-single-iomap")
    ap.add_argument("--time", type=float, default=30.0, help="seconds per simulation")
    ap.add_argument("--depth", type=int, default=200, help="steps per walk")
    ap.add_argument("--batch", type=int, default=BatchedSimulation.batch)
    a = ap.parse_args()
    BatchedSimulation.batch = a.batch
    m = DaxModel(DESIGNS[a.design])
    props = list(PROPERTIES.values())
    t0 = time.perf_counter()
    bfs = explore(m, props)
    t_bfs = time.perf_counter() - t0
    bfs_rate = bfs.stats.states / t_bfs
    sim = walk_rate(m, props, a.time, a.depth, batched=True)
    ref = walk_rate(m, props, a.time, a.depth, batched=False)
    print(f"design {a.design}, walks of {a.depth} steps, {a.time:g} s each, batch {a.batch}\n")
    print("| engine | states | states/s (walking) | states/s (total) |")
    print("|---|---:|---:|---:|")
    print(f"| batched BFS (depth {m.bounds.depth}) | {bfs.stats.states:,} | | {bfs_rate:,.0f} |")
    for name, x in (("batched simulation", sim), ("reference simulation", ref)):
        print(f"| {name} | {x['states']:,} | {x['walk']:,.0f} | {x['total']:,.0f} |")
    print(
        f"\nbatched / reference simulation: {sim['walk'] / ref['walk']:.1f}x; "
        f"batched simulation / batched BFS: {sim['walk'] / bfs_rate:.2f}"
    )


if __name__ == "__main__":
    main()
