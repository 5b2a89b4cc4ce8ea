"""Symmetry reduction for the batched explorer (Murphi scalarsets, TLC symmetry sets).

A design declares the index dimensions whose members it treats alike
(``Design.symmetric``: files, processes, data tokens).  A permutation of those members acts
on a state by moving the fields indexed by them (``ext_kind[a,0]`` <-> ``ext_kind[b,0]``) and
by renaming the values that name them (``spec.state.ENUM_MEMBERS``: a page->mapping of file
a becomes one of file b, token t1 becomes t2).  :class:`Symmetry` builds, for every element
of the group, a column map and a per-column value map from the layout's metadata alone
(``L.fields``, ``L.dims``), and the Zobrist table of the permuted state, so that the
explorer gets the fingerprint of every image of a state incrementally, and de-duplicates on
the smallest (the orbit's canonical fingerprint).  The state kept is the one actually
reached, so traces are in original terms.

The reduction is only sound if every transition commutes with the permutations and every
property is invariant under them.  That is not trusted: each action and each property
conjunct is matched, per permutation, with the candidates whose read and write sets are the
permuted ones, and every time the explorer evaluates a new projection it also evaluates the
candidates on the permuted projection and drops those that disagree
(:meth:`Symmetry.check_actions`, :meth:`Symmetry.check_conjuncts`).  When a candidate set
empties, or at the end the surviving candidates admit no bijection, the run is repeated
without the reduction (:class:`SymmetryBroken`).  Since every transition taken and every
property value used comes from a checked projection, the explored orbits are exactly the
orbits of the reachable states.
"""

from __future__ import annotations

import itertools

import numpy as np

from daxcheck.spec.state import ENUM_MEMBERS

MAX_ELEMENTS = 720
"""The largest group used; a larger one drops its biggest factors."""


class SymmetryBroken(Exception):
    """The declared symmetry does not hold for this model and properties (the message says
    which action, conjunct or initial state broke it)."""


def _members():
    return ENUM_MEMBERS


class Symmetry:
    """The permutation group of the symmetric dimensions ``sets`` of layout ``L``.

    ``elements``: list of ``{dimension: permutation tuple}``, identity first; ``colmap[k]``
    (width,) the column each column goes to under element ``k``; ``valmap[k]`` (width, 256)
    the value each value of each column becomes; ``sets`` the dimensions used (size >= 2).
    Raises nothing: a layout without metadata gives the trivial group.
    """

    def __init__(self, L, sets):
        dims = getattr(L, "dims", {})
        fields = getattr(L, "fields", ())
        sets = [x for x in sets if dims.get(x, 0) >= 2]
        while sets and _order(dims, sets) > MAX_ELEMENTS:
            sets.remove(max(sets, key=lambda x: dims[x]))
        self.sets = tuple(sets)
        self.dims = {x: dims[x] for x in sets}
        width = L.width
        members = _members()
        self.elements = [
            dict(zip(sets, ps))
            for ps in itertools.product(*[itertools.permutations(range(dims[x])) for x in sets])
        ] or [{}]
        self.colmap = np.tile(np.arange(width), (len(self.elements), 1))
        self.valmap = np.tile(np.arange(256, dtype=np.uint8), (len(self.elements), width, 1))
        for k, perm in enumerate(self.elements):
            for _name, fdims, _, enum, _, flat in fields:
                shape = [dims[d] for d in fdims]
                strides = [int(np.prod(shape[i + 1 :], dtype=np.int64)) for i in range(len(shape))]
                vmap = None
                if isinstance(enum, str) and enum in members and members[enum][0] in perm:
                    dim, off = members[enum]
                    vmap = np.arange(256, dtype=np.uint8)
                    for m, pm in enumerate(perm[dim]):
                        vmap[m + off] = pm + off
                for idx, o in zip(itertools.product(*[range(n) for n in shape]), flat):
                    new = sum(
                        (perm[d][i] if d in perm else i) * st
                        for d, i, st in zip(fdims, idx, strides)
                    )
                    self.colmap[k, o] = flat[0] + new
                    if vmap is not None:
                        self.valmap[k, o] = vmap

    def __len__(self) -> int:
        return len(self.elements)

    def describe(self) -> str:
        """E.g. ``file x3, tok x2 (12 permutations)``."""
        if len(self) == 1:
            return "none"
        return ", ".join(f"{x} x{n}" for x, n in self.dims.items()) + f" ({len(self)} permutations)"

    def zobrist(self, Z: np.ndarray) -> np.ndarray:
        """``(len, width, 256)``: the Zobrist table of each image (element 0: ``Z``)."""
        return np.stack([Z[self.colmap[k][:, None], self.valmap[k]] for k in range(len(self))])

    def image(self, rows: np.ndarray, k: int) -> np.ndarray:
        """``(n, width)`` uint8 rows mapped by element ``k``."""
        out = np.empty_like(rows)
        cm, vm = self.colmap[k], self.valmap[k]
        for c in range(rows.shape[1]):
            out[:, cm[c]] = vm[c][rows[:, c]]
        return out

    # ------------------------------------------------------------------ matching
    def candidates(self, footprints):
        """Per element ``k`` and item ``i`` (an action or a conjunct with footprint
        ``(reads, writes)``), the items whose footprint is the image of ``i``'s:
        ``cand[k][i]`` a set of indices."""
        by_fp = {}
        for j, (r, w) in enumerate(footprints):
            by_fp.setdefault((frozenset(r), frozenset(w)), set()).add(j)
        out = []
        for k in range(len(self)):
            cm = self.colmap[k]
            out.append(
                [
                    set(
                        by_fp.get(
                            (frozenset(int(cm[c]) for c in r), frozenset(int(cm[c]) for c in w)), ()
                        )
                    )
                    for r, w in footprints
                ]
            )
        return out

    def check_results(self, k, writes_a, en_a, vals_a, writes_b, en_b, vals_b) -> bool:
        """Whether ``b`` on the images (element ``k``) of some states does what ``a`` does
        on the states, mapped by ``k``: same enabledness, and on the enabled rows the value
        ``a`` leaves at column ``c`` becomes, renamed, the value ``b`` leaves at the image
        of ``c``."""
        if not np.array_equal(en_a, en_b):
            return False
        if not en_a.any():
            return True
        pos = {int(c): j for j, c in enumerate(writes_b)}
        cm, vm = self.colmap[k], self.valmap[k]
        for j, c in enumerate(writes_a):
            jb = pos.get(int(cm[c]))
            if jb is None:
                return False
            mapped = vm[c][vals_a[j][en_a].astype(np.intp)]
            if not np.array_equal(mapped, vals_b[jb][en_a].astype(np.uint8)):
                return False
        return True

    def check_init(self, rows: np.ndarray) -> None:
        """Raise SymmetryBroken unless the set of initial states is closed under every
        element."""
        have = {bytes(r) for r in rows}
        for k in range(1, len(self)):
            if {bytes(r) for r in self.image(rows, k)} != have:
                raise SymmetryBroken(f"the initial states are not symmetric under {self.name(k)}")

    def name(self, k: int) -> str:
        """Element ``k`` as cycles of members, e.g. ``file (0 1)``."""
        parts = []
        for x, p in self.elements[k].items():
            if any(i != j for i, j in enumerate(p)):
                parts.append(f"{x} {p}")
        return ", ".join(parts) or "identity"


def has_perfect_matching(cand) -> bool:
    """Whether the relation ``cand`` (item -> set of items) contains a bijection of the
    items (a perfect bipartite matching, networkx Hopcroft-Karp)."""
    import networkx as nx
    from networkx.algorithms import bipartite

    n = len(cand)
    if any(not c for c in cand):
        return False
    if all(len(c) == 1 for c in cand):
        return len({next(iter(c)) for c in cand}) == n
    g = nx.Graph()
    g.add_nodes_from((("a", i) for i in range(n)), bipartite=0)
    g.add_nodes_from((("b", j) for j in range(n)), bipartite=1)
    g.add_edges_from((("a", i), ("b", j)) for i, c in enumerate(cand) for j in c)
    m = bipartite.hopcroft_karp_matching(g, top_nodes=[("a", i) for i in range(n)])
    return sum(1 for v in m if v[0] == "a") == n


def _order(dims, sets) -> int:
    n = 1
    for x in sets:
        for i in range(2, dims[x] + 1):
            n *= i
    return n
