"""Progress of kernel threads (issue 11): a thread inside a split operation that can never
finish it, whatever happens next (livelock within the bound).

The whole reachable state graph is built (breadth-first, the memoised reference
successors, networkx for the graph), then for each thread ``t`` a state where ``t`` is
busy is *stuck* when no state where ``t`` is idle is reachable from it: AG(busy -> EF idle)
fails there.  A deadlock (``no_deadlock``) is one such case; a thread blocked on a lock
nobody will drop, or looping through a retry forever, is another.  Only a search that
exhausted the reachable space within the depth bound can say so (a state on the frontier
of an incomplete search may only look stuck): :func:`stuck_threads` reports incomplete
instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .transitions import MemoSuccessors


@dataclass
class Stuck:
    """Thread ``thread`` can never finish the operation it is in, from the state reached
    by ``trace`` (``[(action index, state)]`` from the initial state, shortest); ``states``
    counts the states where that thread is stuck."""

    thread: int
    trace: list
    states: int


@dataclass
class ProgressResult:
    """``complete``: the reachable space was exhausted within ``depth``; ``stuck``: one
    :class:`Stuck` per thread that can get stuck (empty: every thread can always finish);
    ``states``: distinct states of the graph."""

    complete: bool
    states: int
    depth: int
    stuck: list = field(default_factory=list)


def stuck_threads(model, depth=None, max_states=500_000) -> ProgressResult:
    """Build ``model``'s state graph to ``depth`` (default: the model's bound) and find the
    threads that can get stuck (see the module docstring).  Raises ValueError when the
    graph would exceed ``max_states`` states (a progress check needs every edge)."""
    L = model.L
    depth = model.bounds.depth if depth is None else depth
    succ = MemoSuccessors(model).successors
    s0 = model.init_states()[0]
    ids, states, parent = {s0: 0}, [s0], [(-1, -1)]
    g = nx.DiGraph()
    g.add_node(0)
    frontier, level = [0], 0
    while frontier and level < depth:
        nxt = []
        for sid in frontier:
            for i, ns in succ(states[sid]):
                nid = ids.get(ns)
                if nid is None:
                    nid = ids[ns] = len(states)
                    if nid >= max_states:
                        raise ValueError(f"progress check: more than {max_states:,} states")
                    states.append(ns)
                    parent.append((sid, i))
                    nxt.append(nid)
                g.add_edge(sid, nid)
        frontier, level = nxt, level + 1
    res = ProgressResult(complete=not frontier, states=len(states), depth=level)
    if not res.complete:
        return res
    for t in L.threads:
        idle = [n for n, s in enumerate(states) if s[L.th_op[t]] == 0]
        can, todo = set(idle), list(idle)
        while todo:  # every state from which an idle state of t is reachable
            for p in g.predecessors(todo.pop()):
                if p not in can:
                    can.add(p)
                    todo.append(p)
        stuck = [n for n in range(len(states)) if n not in can]
        if stuck:
            res.stuck.append(Stuck(t, _path(states, parent, stuck[0]), len(stuck)))
    return res


def _path(states, parent, n):
    out = []
    while n >= 0:
        p, i = parent[n]
        out.append((i, states[n]))
        n = p
    out.reverse()
    return out
