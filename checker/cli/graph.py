"""``daxcheck graph --design D --out G.graphml|G.dot``: the explored state graph."""

from __future__ import annotations

from daxcheck.spec.designs import DESIGNS

from ..graph import GraphError, state_graph, write_graph
from ..results import EXIT_OK, InputError
from ..runner import load_user_files, make_model, pick, pick_properties
from .common import esc
from .parser import BOUND_NAMES


def run(args, console) -> int:
    """Build design ``args.design``'s state graph at the given bounds (networkx; refused
    beyond ``--max-states``) and write it as GraphML or DOT; returns 0.  Raises InputError."""
    load_user_files(args.designs, args.properties)
    d = pick([args.design], DESIGNS, "design")[0]
    m = make_model(d, {k: getattr(args, k) for k in BOUND_NAMES})
    try:
        g = state_graph(m, pick_properties([]), args.max_states)
        write_graph(g, args.out, force=args.force)
    except GraphError as e:
        raise InputError(str(e)) from None
    console.print(
        f"[dim]written: {esc(args.out)} ({g.number_of_nodes():,} states, "
        f"{g.number_of_edges():,} transitions)[/dim]",
        soft_wrap=True,
    )
    return EXIT_OK
