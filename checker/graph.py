"""The explored state graph of a design at small bounds, exported with networkx.

:func:`state_graph` explores breadth-first with the model's reference transitions
(:meth:`DaxModel.successors`) and keeps every edge (the explicit engine keeps only parent
pointers, for shortest counterexamples): nodes are distinct states numbered in BFS order
(attributes: ``depth``, ``init``, one boolean per property, whether it holds there, the
``failing`` properties, the non-zero fields as text and the state as hex), edges are
transitions (attributes: ``action`` with its arguments, ``family``).  :func:`write_graph`
writes GraphML (``.graphml``) or Graphviz DOT (``.dot``, through pydot).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from daxcheck.fileio import InputFileError, atomic_write, check_destination


class GraphError(ValueError):
    """Too many states for a graph export, an unknown file type or an unwritable file;
    one-line message."""


def state_graph(model, props, max_states: int = 5000) -> nx.MultiDiGraph:
    """The reachable graph of ``model`` up to its depth bound, evaluating the Property list
    ``props`` in every state.  Raises GraphError as soon as it has more than ``max_states``
    states (lower the bounds or raise the limit)."""
    L = model.L
    g = nx.MultiDiGraph(
        design=model.design.name,
        bounds=" ".join(f"{k}={v}" for k, v in model.bounds.as_dict().items()),
    )
    ids = {}
    init = L.init_state()

    def node(s, depth):
        i = ids.get(s)
        if i is not None:
            return i, False
        if len(ids) >= max_states:
            raise GraphError(
                f"design {model.design.name} has more than {max_states:,} states "
                f"at these bounds (lower --depth or other bounds, or raise "
                f"--max-states)"
            )
        i = ids[s] = len(ids)
        truth = {p.name: bool(p.holds(L, s)) for p in props}
        failing = [n for n, ok in truth.items() if not ok]
        fields = ", ".join(f"{L.label(o)}={L.show(o, v)}" for o, v in enumerate(s) if v != init[o])
        g.add_node(
            i,
            depth=depth,
            init=depth == 0,
            failing=" ".join(failing),
            fields=fields,
            state=s.hex(),
            label=f"#{i} d={depth}" + (f" ✗ {' '.join(failing)}" if failing else ""),
            **truth,
        )
        return i, True

    frontier = []
    for s in model.init_states():
        i, new = node(s, 0)
        if new:
            frontier.append(s)
    for depth in range(1, model.bounds.depth + 1):
        nxt = []
        for s in frontier:
            src = ids[s]
            for ai, ns in model.successors(s):
                a = model.actions[ai]
                j, new = node(ns, depth)
                g.add_edge(src, j, action=a.describe(), family=a.name, label=a.describe())
                if new:
                    nxt.append(ns)
        frontier = nxt
        if not frontier:
            break
    return g


def write_graph(g, path, *, force: bool = False) -> None:
    """Write ``g`` as GraphML or DOT by the extension of ``path``.  Raises GraphError for
    another extension, an existing file (without ``force``) or an OS error."""
    p = Path(path)
    if p.suffix not in (".graphml", ".dot"):
        raise GraphError(
            f"{path}: unknown graph format {p.suffix or '(none)'} (use .graphml or .dot)"
        )
    try:
        if check_destination(p) and not force:
            raise GraphError(f"{path} exists (use --force to overwrite it)")
        if p.suffix == ".graphml":
            text = "\n".join(nx.generate_graphml(g)) + "\n"
        else:
            from networkx.drawing.nx_pydot import to_pydot

            text = to_pydot(g).to_string()
        atomic_write(p, text)
    except InputFileError as e:
        raise GraphError(str(e)) from None
    except OSError as e:
        raise GraphError(f"{path}: cannot write: {e.strerror or e}") from None
