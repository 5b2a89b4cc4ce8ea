"""The shared benchmark toy (F files x P pages over B pmem blocks) as a daxcheck model.

Same semantics and the same distinct-state counts as the naive Python BFS
(``bench/toy_naive.py``, a copy of ``../shared/bench/toy_dax.py``) and the Promela models
Spin runs (``bench/vs_spin.py`` generates the one-``d_step``-per-action model of
``../shared/bench/gen_toy_dstep_pml.py``): 2x3x4 39,025 states, 3x2x4 95,585, 2x3x5
182,761, 3x3x4 2,458,585.

State (one byte per field): ``ext[i]`` the block of file page ``i = f*P + p`` plus one
(0 = no extent), ``ent[i]`` a DAX entry is present, ``refc[b]`` the extent references of
block ``b``, ``share[b]`` the entries mapping it.  Actions per page, in this order: alloc
(lowest free block), fault (insert the entry), unmap (drop it), punch (free the extent),
cow (an unshared copy of a shared block on the lowest free block); then reflink of a whole
file onto an empty one.  Written in the vocabulary like the real spec, so it runs through
the same engines; the invariant checked is refcount consistency (Spin's model checks
none).

Usage: ``python bench/toy_model.py F P B`` explores and prints the figures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar

from daxcheck.properties import Property
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import Action
from daxcheck.spec.vocab import (
    And,
    Count,
    Exists,
    ForAll,
    draft,
    first,
    freeze,
    require,
    select,
    store,
    when,
)


class ToyLayout:
    """Offsets of the toy's fields (``ext``, ``ent``, ``refc``, ``share``) and the
    ``fields`` table in the form of :class:`daxcheck.spec.state.Layout`."""

    def __init__(self, F: int, P: int, B: int):
        self.F, self.P, self.B = F, P, B
        n = F * P
        self.ext = tuple(range(0, n))
        self.ent = tuple(range(n, 2 * n))
        self.refc = tuple(range(2 * n, 2 * n + B))
        self.share = tuple(range(2 * n + B, 2 * n + 2 * B))
        self.width = 2 * n + 2 * B
        self.fields = [
            ("ext", ("page",), "meta", "pblk+1", "block of the page plus one (0: none)", self.ext),
            ("ent", ("page",), "xarray", None, "DAX entry present", self.ent),
            ("refc", ("phys",), "meta", None, "extent references", self.refc),
            ("share", ("phys",), "page", None, "entries mapping the block", self.share),
        ]

    def init_state(self) -> bytes:
        return bytes(self.width)


def _free(L, s):
    return first(range(L.B), lambda b: s[L.refc[b]] == 0)


@dataclass(frozen=True)
class Alloc(Action):
    """A hole page gets the lowest free block (disabled when none is free)."""

    name: ClassVar[str] = "alloc"
    i: int

    def apply(self, m, s):
        L = m.L
        found, nb = _free(L, s)
        if not require(And(s[L.ext[self.i]] == 0, found)):
            return None
        d = draft(s)
        d[L.ext[self.i]] = nb + 1
        store(d, L.refc, nb, 1)
        return freeze(d)


def _set_entry(m, s, i, present):
    """Insert (``present``) or drop the DAX entry of page ``i``; the block's share count
    follows.  Enabled when the page has an extent and the entry is not already so."""
    L = m.L
    e = s[L.ext[i]]
    if not require(And(e != 0, s[L.ent[i]] == (0 if present else 1))):
        return None
    d = draft(s)
    d[L.ent[i]] = 1 if present else 0
    store(d, L.share, e - 1, select(d, L.share, e - 1) + (1 if present else -1))
    return freeze(d)


@dataclass(frozen=True)
class Fault(Action):
    """A mapped page without an entry gets one (the block's share count + 1)."""

    name: ClassVar[str] = "fault"
    i: int

    def apply(self, m, s):
        return _set_entry(m, s, self.i, True)


@dataclass(frozen=True)
class Unmap(Action):
    """The entry of a page goes away (the block's share count - 1)."""

    name: ClassVar[str] = "unmap"
    i: int

    def apply(self, m, s):
        return _set_entry(m, s, self.i, False)


@dataclass(frozen=True)
class Punch(Action):
    """A page without an entry loses its extent (refcount - 1)."""

    name: ClassVar[str] = "punch"
    i: int

    def apply(self, m, s):
        L = m.L
        e = s[L.ext[self.i]]
        if not require(And(e != 0, s[L.ent[self.i]] == 0)):
            return None
        d = draft(s)
        store(d, L.refc, e - 1, select(d, L.refc, e - 1) - 1)
        d[L.ext[self.i]] = 0
        return freeze(d)


@dataclass(frozen=True)
class Cow(Action):
    """A write to a shared page without an entry moves it to the lowest free block."""

    name: ClassVar[str] = "cow"
    i: int

    def apply(self, m, s):
        L = m.L
        e = s[L.ext[self.i]]
        found, nb = _free(L, s)
        if not require(And(e != 0, s[L.ent[self.i]] == 0, select(s, L.refc, e - 1) > 1, found)):
            return None
        d = draft(s)
        store(d, L.refc, e - 1, select(d, L.refc, e - 1) - 1)
        d[L.ext[self.i]] = nb + 1
        store(d, L.refc, nb, 1)
        return freeze(d)


@dataclass(frozen=True)
class Reflink(Action):
    """Every page of file ``src`` is shared into the empty file ``dst``."""

    name: ClassVar[str] = "reflink"
    src: int
    dst: int

    def apply(self, m, s):
        L = m.L
        P = L.P
        a, b = self.src * P, self.dst * P
        if not require(
            And(
                ForAll(range(P), lambda k: s[L.ext[b + k]] == 0),
                Exists(range(P), lambda k: s[L.ext[a + k]] != 0),
            )
        ):
            return None
        d = draft(s)
        for k in range(P):
            e = s[L.ext[a + k]]
            d[L.ext[b + k]] = e
            when(d, e != 0, lambda d, e=e: store(d, L.refc, e - 1, select(d, L.refc, e - 1) + 1))
        return freeze(d)


@dataclass(frozen=True)
class ToyBounds:
    """The toy's bounds: files, pages per file, blocks; depth (BFS levels, unbounded by
    default: the toy's reachable space is finite)."""

    files: int
    pages: int
    blocks: int
    depth: int = 10**6

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "pages": self.pages,
            "blocks": self.blocks,
            "depth": self.depth,
        }


@dataclass(frozen=True)
class ToyDesign:
    name: str = "toy-dax"


class ToyModel:
    """The toy at ``F`` files x ``P`` pages x ``B`` blocks, shaped like
    :class:`daxcheck.spec.model.DaxModel` (``L``, ``design``, ``bounds``, ``actions``,
    ``groups``, ``init_states``, ``next_state``, ``successors``)."""

    def __init__(self, F: int, P: int, B: int):
        self.L = ToyLayout(F, P, B)
        self.design = ToyDesign()
        self.bounds = ToyBounds(F, P, B)
        acts = []
        for i in range(F * P):
            acts += [Alloc(i), Fault(i), Unmap(i), Punch(i), Cow(i)]
        acts += [Reflink(a, d) for a in range(F) for d in range(F) if a != d]
        self.actions = tuple(acts)
        self.groups = tuple((i,) for i in range(len(acts)))

    def init_states(self):
        return [self.L.init_state()]

    # The reference explorer's interface, shared with the real model.
    next_state = DaxModel.next_state
    successors = DaxModel.successors
    steps = DaxModel.steps


def _refcount(L, s, b):
    return s[L.refc[b]] == Count(range(L.F * L.P), lambda i: s[L.ext[i]] == b + 1)


REFCOUNTS = Property(
    "toy_refcounts_consistent",
    lambda L, s: ForAll(range(L.B), lambda b: _refcount(L, s, b)),
    "Each block's refcount equals the number of pages whose extent maps it.",
    "bench",
    each=lambda L: range(L.B),
    item_fn=_refcount,
)
"""The toy's invariant (holds), declared per block like the shipped invariants."""


def main(argv=None) -> int:
    import time

    from daxcheck.checker.explicit.explore import explore

    F, P, B = (int(x) for x in (argv or sys.argv[1:4]))
    t = time.perf_counter()
    r = explore(ToyModel(F, P, B), [REFCOUNTS])
    dt = time.perf_counter() - t
    v = r.verdicts[REFCOUNTS.name]
    print(
        f"states={r.stats.states} transitions={r.stats.transitions} depth={r.stats.depth} "
        f"secs={dt:.3f} states/s={r.stats.states / dt:.0f} verdict={v.label()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
