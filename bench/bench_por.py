"""Partial-order reduction on the race designs (issue 11): distinct states of the full and
of the reduced search at each design's default bounds, their ratio, whether both searches
exhausted the reachable space, and whether every verdict is the same.

Two property sets per design: every shipped property (what ``daxcheck check`` checks),
and only the properties the design is about (its ``expect_violated``, or its broken
partner's for a fixed design).  A step is invisible, and so may be reduced, only when it
writes nothing the checked properties read: the fewer properties, the more reduction.

The last two columns bound what any ample- or stubborn-set reduction can reach on the
design, whatever its independence relation.  Condition D1 (C1 for ample sets) implies, in
the state itself: if a kept action ``a`` can run after a left-out ``b``, then ``a·b`` runs
too and reaches the same state; D2: some kept action (the key) is disabled by no left-out
one.  ``forced`` is the share of states (with two or more enabled actions) in which the
smallest set closed under these conditions (a networkx graph over the enabled actions) is
the whole enabled set, so every ample/stubborn set there expands everything.  ``bound`` is
the state count of a search that, in each state, expands only that smallest set: no
visibility condition at all, and a cycle proviso that expands fully only when the set's
successors were all seen before (without any, a self-commuting retry loop hides
everything).  It is optimistic (commutation in one state is weaker than independence, and
invisibility is dropped), not a proof: a sound reduction checking the same properties
typically stays above it.

Usage: ``python bench/bench_por.py [--design NAME ...] [--json FILE] [--no-bound]``
"""

from __future__ import annotations

import argparse
import json
import time

import networkx as nx

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
    complete = all(
        v.complete for r in (full, red) for v in r.verdicts.values() if v.status == "holds"
    )
    return {
        "design": name,
        "properties": [p.name for p in props],
        "full": full.stats.states,
        "reduced": red.stats.states,
        "ratio": red.stats.states / full.stats.states,
        "same_verdicts": same,
        "complete": complete,
        "full_s": round(t1 - t0, 2),
        "reduced_s": round(t2 - t1, 2),
        "ample": red.stats.por,
    }


def local_bound(model):
    """The ``forced`` share and the optimistic ``bound`` state count of the module docstring
    for ``model``, with the full reachable state count: ``(full, bound, forced)``."""
    succ = {}

    def enabled(s):
        r = succ.get(s)
        if r is None:
            r = succ[s] = {i: t for i, t in model.successors(s)}
        return r

    def smallest(s):
        """The smallest set of enabled actions of ``s`` that may be expanded alone: from a
        key action ``k``, closed under "a kept, b left out: b·a runs, so a·b must run
        and reach the same state" (D1; left-out actions may disable non-key members), and
        no left-out action disables ``k`` (D2)."""
        en = enabled(s)
        after = {b: enabled(t) for b, t in en.items()}
        g = nx.DiGraph()
        g.add_nodes_from(en)
        for a in en:
            for b in en:
                if a != b and a in after[b] and after[a].get(b) != after[b][a]:
                    g.add_edge(a, b)
        best = None
        for k in en:
            keep = {k} | nx.descendants(g, k)
            for b in en:
                if b not in keep and k not in after[b]:  # b disables the key
                    keep |= {b} | nx.descendants(g, b)
            if best is None or (len(keep), min(keep)) < (len(best), min(best)):
                best = keep
        return best

    full = set(model.init_states())
    todo = list(full)
    forced = several = 0
    while todo:
        s = todo.pop()
        en = enabled(s)
        if len(en) > 1:
            several += 1
            forced += len(smallest(s)) == len(en)
        for t in en.values():
            if t not in full:
                full.add(t)
                todo.append(t)
    seen = set(model.init_states())
    level = list(seen)
    while level:
        nxt = []
        for s in level:
            en = enabled(s)
            pick = [en[a] for a in (smallest(s) if len(en) > 1 else en)]
            if all(t in seen for t in pick):  # cycle proviso (BFS form)
                pick = list(en.values())
            for t in pick:
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        level = nxt
    return len(full), len(seen), forced / max(several, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append")
    ap.add_argument("--json")
    ap.add_argument(
        "--no-bound",
        action="store_true",
        help="skip the local-commutation bound (the slowest column)",
    )
    args = ap.parse_args(argv)
    names = args.design or sorted(n for n, d in DESIGNS.items() if d.threaded)
    rows = []
    print(
        f"{'design':32} {'properties':>10} {'full':>8} {'reduced':>8} {'ratio':>6} "
        f"same complete  bound forced"
    )
    for n in names:
        bound = None if args.no_bound else local_bound(DaxModel(DESIGNS[n]))
        for label, props in (
            ("all", list(PROPERTIES.values())),
            ("own", [PROPERTIES[p] for p in _partner_props(n)]),
        ):
            r = measure(n, props)
            r["set"] = label
            extra = ""
            if bound is not None:
                r["bound_states"], r["forced_share"] = bound[1], round(bound[2], 3)
                r["bound_ratio"] = bound[1] / bound[0]
                extra = f"  {r['bound_ratio']:5.2f} {bound[2]:6.0%}"
            rows.append(r)
            print(
                f"{n:32} {label:>10} {r['full']:>8,} {r['reduced']:>8,} {r['ratio']:>6.2f} "
                f"{str(r['same_verdicts']):>4} {str(r['complete']):>8}{extra}   {r['ample']}"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
