"""The explicit engine: BFS, shortest traces, budgets, memoisation — on a toy model apart
from the filesystem spec, and on the spec with pinned state-space sizes."""

from dataclasses import dataclass
from typing import ClassVar

import pytest
from helpers import per_design

from daxcheck.checker.explicit.explore import Budget, explore
from daxcheck.checker.explicit.transitions import MemoSuccessors, action_footprint
from daxcheck.checker.results import HOLDS, INCOMPLETE, VIOLATED
from daxcheck.properties import PROPERTIES, Property
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import Action
from daxcheck.spec.state import Bounds
from daxcheck.spec.vocab import draft, freeze, require


# ---------------------------------------------------------------- a toy model
class _ToyLayout:
    width = 2


@dataclass(frozen=True)
class Inc(Action):
    """Toy: counter ``i`` += 1 modulo ``mod``; disabled when it would wrap and ``wrap`` is
    False."""

    name: ClassVar[str] = "inc"
    i: int
    mod: int

    def apply(self, m, s):
        if not require(s[self.i] + 1 < self.mod):
            return None
        d = draft(s)
        d[self.i] = s[self.i] + 1
        return freeze(d)


@dataclass(frozen=True)
class Swap(Action):
    """Toy: exchange the two counters."""

    name: ClassVar[str] = "swap"

    def apply(self, m, s):
        d = draft(s)
        d[0], d[1] = s[1], s[0]
        return freeze(d)


class _ToyDesign:
    name = "toy"


class Toy:
    """Two counters in 0..mod-1; actions inc(0), inc(1), swap.  Reachable: mod*mod."""

    def __init__(self, mod=3, depth=10):
        self.L = _ToyLayout()
        self.design = _ToyDesign()
        self.bounds = Bounds(depth=depth)
        self.actions = (Inc(0, mod), Inc(1, mod), Swap())
        self.groups = ((0,), (1,), (2,))

    def init_states(self):
        return [bytes(2)]

    def next_state(self, s, a):
        return a.apply(self, s)

    def successors(self, s, steps=None):
        for i, a in enumerate(self.actions):
            ns = a.apply(self, s) if steps is None else steps[i](s)
            if ns is not None:
                yield i, ns


def _prop(name, fn):
    fn.__doc__ = name
    return Property(name, fn, name)


def test_toy_reachable_space_is_complete_and_counted():
    r = explore(Toy(3), [_prop("small", lambda L, s: s[0] < 3)])
    assert r.stats.states == 9
    assert r.verdicts["small"].status == HOLDS and r.verdicts["small"].complete
    assert r.stats.fired["inc"] > 0 and r.stats.fired["swap"] > 0


@pytest.mark.parametrize("memo", [True, False])
def test_toy_violation_is_shortest(memo):
    # (2,2) needs four incs; the shortest trace has exactly 4 steps.
    r = explore(Toy(3), [_prop("not22", lambda L, s: not (s[0] == 2 and s[1] == 2))], memo=memo)
    v = r.verdicts["not22"]
    assert v.status == VIOLATED and v.depth == 4 and len(v.trace) == 5
    assert v.trace[-1][1] == bytes([2, 2])


def test_toy_depth_bound_is_not_complete():
    r = explore(Toy(5, depth=2), [_prop("any", lambda L, s: True)])
    v = r.verdicts["any"]
    assert v.status == HOLDS and not v.complete and v.depth == 2
    assert r.stats.states == 6  # (0,0) (1,0) (0,1) (2,0) (1,1) (0,2)


def test_budget_gives_incomplete_not_holds():
    m = DaxModel(DESIGNS["cow-srcmap"])
    r = explore(m, list(PROPERTIES.values()), budget=Budget(max_states=500))
    assert {v.status for v in r.verdicts.values()} == {INCOMPLETE}
    assert r.exit_code() == 75 and "max-states" in r.stats.stopped


def test_time_limit_gives_incomplete():
    m = DaxModel(DESIGNS["cow-srcmap"])
    r = explore(m, list(PROPERTIES.values()), budget=Budget(time_limit=0.05))
    assert INCOMPLETE in {v.status for v in r.verdicts.values()}


def test_never_fired_actions_are_reported():
    r = explore(
        DaxModel(DESIGNS["reflink-refused"], DESIGNS["reflink-refused"].bounds.replace(depth=3)),
        list(PROPERTIES.values()),
    )
    assert "reflink" in r.never_fired and "write" not in r.never_fired


# ---------------------------------------------------------------- the spec
PINNED = {  # (design, depth) -> distinct states (BFS to the depth bound, reference engine)
    ("map-sync", 4): 92,
    ("reflink-shared-count", 4): 414,  # FICLONE keeps a larger dst's tail (kernel oracle);
    ("cow-srcmap", 3): 2229,  # fdatasync of a clean inode forces no log (real DAX)
    ("hole-size-unknown", 3): 139,
}


@pytest.mark.parametrize("design,depth", sorted(PINNED))
def test_pinned_state_space_sizes(design, depth):
    m = DaxModel(DESIGNS[design], DESIGNS[design].bounds.replace(depth=depth))
    r = explore(m, [PROPERTIES["refcounts_consistent"]])
    assert r.stats.states == PINNED[(design, depth)]


@pytest.mark.parametrize("design", per_design())
def test_memoised_successors_equal_reference_semantics(design):
    """The read/write-set cache must give exactly model.successors on every state."""
    m = DaxModel(DESIGNS[design], DESIGNS[design].bounds.replace(depth=4))
    memo = MemoSuccessors(m)
    r = explore(m, [PROPERTIES["refcounts_consistent"]], memo=False)
    seen = set()
    frontier = m.init_states()
    for _ in range(4):
        nxt = []
        for s in frontier:
            ref = list(m.successors(s))
            assert list(memo.successors(s)) == ref
            assert list(memo.successors(s)) == ref  # second time from the cache
            for _, ns in ref:
                if ns not in seen:
                    seen.add(ns)
                    nxt.append(ns)
        frontier = nxt
    assert len(seen | set(m.init_states())) == r.stats.states


def test_every_shipped_action_can_be_analysed_for_memoisation():
    for name in DESIGNS:
        m = DaxModel(DESIGNS[name])
        assert all(action_footprint(m, a) is not None for a in m.actions), name


def test_memo_and_plain_explorations_agree_on_verdicts():
    m = DaxModel(DESIGNS["immutable-extents"])
    a = explore(m, list(PROPERTIES.values()))
    b = explore(m, list(PROPERTIES.values()), memo=False)
    assert a.stats.states == b.stats.states
    assert {k: (v.status, v.depth) for k, v in a.verdicts.items()} == {
        k: (v.status, v.depth) for k, v in b.verdicts.items()
    }
