"""The batched explorer (checker/explicit/levels.py) against the reference per-state explorer,
and its parts: the array backend of the vocabulary, bit packing, key tables, the
fingerprint set, exact mode."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from helpers import per_design
from hypothesis import given, settings
from hypothesis import strategies as st
from test_explore import Toy, _prop

from daxcheck.checker.explicit import Budget, frontier, levels, packing
from daxcheck.checker.explicit.batched import evaluate_action, evaluate_predicate, evaluate_rows
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.explicit.fpset import FingerprintIndex, FingerprintSet
from daxcheck.checker.explicit.keytable import KeyTable
from daxcheck.checker.explicit.packing import Packing, repack
from daxcheck.checker.explicit.transitions import action_footprint
from daxcheck.checker.results import INCOMPLETE, VIOLATED
from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import Action
from daxcheck.spec.vocab import draft, freeze, require


def _reachable(m, depth, limit=400):
    """Up to ``limit`` states reachable within ``depth`` steps (reference successors)."""
    seen = list(m.init_states())
    frontier = list(seen)
    have = set(seen)
    for _ in range(depth):
        nxt = []
        for s in frontier:
            for _, ns in m.successors(s):
                if ns not in have:
                    have.add(ns)
                    nxt.append(ns)
        seen += nxt
        frontier = nxt
    return seen[:limit]


def _summary(r):
    return (
        r.stats.states,
        r.stats.depth,
        r.stats.fired,
        r.stats.transitions,
        r.never_fired,
        {k: (v.status, v.depth, v.complete, v.items, v.trace) for k, v in r.verdicts.items()},
    )


# ---------------------------------------------------------------- the array backend
@pytest.mark.parametrize("design", per_design())
def test_array_backend_equals_reference_on_reachable_states(design):
    """Every action and every invariant and lemma, evaluated on a batch of reachable states
    at once, gives what the reference gives state by state."""
    d = DESIGNS[design]
    m = DaxModel(d, d.bounds.replace(depth=3))
    states = _reachable(m, 3)
    rows = np.frombuffer(b"".join(states), dtype=np.uint8).reshape(len(states), -1)
    for a in m.actions:
        _, writes = action_footprint(m, a)
        en, vals = evaluate_action(m, a, rows, writes)
        ref_en, ref_vals = evaluate_rows(m, a, rows, writes)
        assert (en == ref_en).all(), a.describe()
        assert (vals[:, en] == ref_vals[:, en]).all(), a.describe()
        assert en.any() or not ref_en.any()
    for p in list(PROPERTIES.values()) + list(LEMMAS.values()):
        got = evaluate_predicate(p.fn, m.L, rows)
        assert got.tolist() == [p.fn(m.L, s) for s in states], p.name


def test_backend_refuses_python_branching_on_state():
    """A transition that branches with a Python ``if`` on a state value cannot run on a
    batch; the explorer then evaluates it row by row, with the same result."""
    rows = np.array([[0, 1], [2, 0], [1, 1]], dtype=np.uint8)
    with pytest.raises(Exception):
        evaluate_action(None, _PyIf(), rows, (0,))
    en, vals = evaluate_rows(None, _PyIf(), rows, (0,))
    assert en.tolist() == [False, True, True] and vals[0, 1:].tolist() == [3, 2]


@dataclass(frozen=True)
class _PyIf(Action):
    """Toy action written with a Python ``if`` on the state (outside the vocabulary)."""

    name: ClassVar[str] = "pyif"

    def apply(self, m, s):
        if s[0] == 0:
            return None
        d = draft(s)
        d[0] = s[0] + 1
        return freeze(d)


# ---------------------------------------------------------------- engine vs reference
@pytest.mark.parametrize("design", per_design())
def test_batched_explorer_equals_reference_explorer(design):
    """Same states, transitions per action family, verdicts, shortest depths, failing
    items and the very same counterexample traces as the memoised per-state explorer, on
    every design with every property (one bound below the default, to stay cheap; the
    gate checks the default bounds against the pinned manifest)."""
    d = DESIGNS[design]
    m = DaxModel(d, d.bounds.replace(depth=d.bounds.depth - 1))
    props = list(PROPERTIES.values())
    assert _summary(explore(m, props)) == _summary(explore(m, props, batched=False))


@pytest.mark.parametrize(
    "design",
    sorted(n for n in DESIGNS if DESIGNS[n].expect_violated and n != "cow-in-core-refcount"),
)
def test_batched_explorer_stops_where_the_reference_stops(design):
    """When every checked property is violated the reference stops after the parent state
    whose successor violated the last one; the batched explorer counts the same states and
    transitions (each violated property alone, then all of them together).  The CoW designs
    run to depth 4 to stay cheap (cow-in-core-refcount is violated only at 5: left out)."""
    d = DESIGNS[design]
    m = DaxModel(
        d, d.bounds.replace(depth=min(d.bounds.depth, 4)) if design.startswith("cow") else d.bounds
    )
    violated = [PROPERTIES[p] for p in sorted(d.expect_violated)]
    for props in [[p] for p in violated] + [violated]:
        a, b = explore(m, props), explore(m, props, batched=False)
        assert _summary(a) == _summary(b), [p.name for p in props]


def test_toy_models_with_repacking_and_rowwise_properties():
    """Counters that outgrow the packed width of the initial state (repacking mid-run) and
    a property written with Python operators (evaluated row by row) give the reference
    results."""
    for mod in (3, 9, 40):
        props = [_prop("small", lambda L, s: s[0] < mod - 1), _prop("any", lambda L, s: True)]  # noqa: B023 (evaluated within the iteration)
        a, b = (
            explore(Toy(mod, depth=mod), props),
            explore(Toy(mod, depth=mod), props, batched=False),
        )
        assert _summary(a) == _summary(b)
        assert a.verdicts["small"].status == VIOLATED
        assert a.verdicts["small"].depth == mod - 1


def test_key_table_entries_given_to_another_explorer_are_not_evaluated_again(monkeypatch):
    """``table_delta`` / ``merge_tables`` (how the Ray workers share their memo): a fresh
    explorer given every entry another evaluated in a whole search repeats that search
    without evaluating one projection, with the same result; entries from another packing
    are not taken; a delta since marks holds only what was evaluated after them."""
    for name in ("hole-size-unknown", "reflink-single-owner"):
        m = DaxModel(DESIGNS[name])
        props = list(PROPERTIES.values())
        a = levels.BatchedExplorer(m, props, m.bounds.depth, Budget())
        ra = a.run()
        delta = a.table_delta({})
        entries = sum(len(g.table) for gs in (a.groups, a.cgroups) for g in gs.values())
        b = levels.BatchedExplorer(m, props, m.bounds.depth, Budget())
        merged, fills = [], []
        init = b.initial

        def initial():  # the packing is set here: then merge, twice
            out = init()  # noqa: B023 (called within the iteration)
            merged.extend([b.merge_tables(delta), b.merge_tables(delta)])  # noqa: B023 (called within the iteration)
            return out

        monkeypatch.setattr(b, "initial", initial)
        for fill in ("fill_actions", "_fill_conjs"):
            orig = getattr(b, fill)
            monkeypatch.setattr(
                b,
                fill,
                lambda g, rows, base, orig=orig: fills.append(rows.shape[0]) or orig(g, rows, base),  # noqa: B023 (called within the iteration)
            )
        assert _summary(b.run()) == _summary(ra)
        assert merged == [entries, 0] and entries > 0 and fills == []
        assert a.table_delta(a.table_marks())[1] == {}
        other = levels.BatchedExplorer(m, props, m.bounds.depth, Budget())
        other.initial()
        other.set_packing(Packing(tuple(min(8, x + 1) for x in other.packing.bits)))
        assert other.merge_tables(delta) == 0


def test_exact_mode_equals_fingerprint_mode():
    m = DaxModel(DESIGNS["cow-single-iomap"], DESIGNS["cow-single-iomap"].bounds.replace(depth=4))
    props = list(PROPERTIES.values())
    a, b = explore(m, props, exact=True), explore(m, props)
    assert _summary(a) == _summary(b)
    assert a.stats.collision_probability is None
    assert 0 < b.stats.collision_probability < 1e-9


def test_exact_mode_detects_a_collision_and_reruns(monkeypatch):
    """Under a degenerate Zobrist table every state has fingerprint 0: the fingerprint
    mode merges them all (what a collision does), the exact mode notices and reruns with
    another table, getting the reference result."""
    real = levels.zobrist_table

    def degenerate(width, seed=levels.SEED):
        return np.zeros((width, 256), dtype=np.uint64) if seed == levels.SEED else real(width, seed)

    monkeypatch.setattr(levels, "zobrist_table", degenerate)
    m = DaxModel(DESIGNS["map-sync"], DESIGNS["map-sync"].bounds.replace(depth=3))
    props = [PROPERTIES["durable_after_sync"]]
    assert explore(m, props).stats.states == 1
    assert _summary(explore(m, props, exact=True)) == _summary(explore(m, props, batched=False))


@dataclass(frozen=True)
class _Flaky(Action):
    """Toy: increments counter 0, or counter 1 once ``replaying`` is set (a transition that
    is not a function of the state)."""

    name: ClassVar[str] = "flaky"
    replaying: ClassVar[list] = []

    def apply(self, m, s):
        if not require(s[0] + s[1] < 3):
            return None
        d = draft(s)
        i = 1 if self.replaying else 0
        d[i] = s[i] + 1
        return freeze(d)


def test_rebuilt_counterexample_is_checked(monkeypatch):
    """A counterexample is rebuilt by re-executing its actions; if that does not reach the
    state exploration found (here: an action that behaves differently on replay), the
    explorer says so instead of reporting a wrong trace."""
    toy = Toy(3)
    toy.actions = (_Flaky(),)
    toy.groups = ((0,),)
    real = levels.BatchedExplorer._trace

    def replay(self, *a):
        _Flaky.replaying.append(1)
        return real(self, *a)

    monkeypatch.setattr(levels.BatchedExplorer, "_trace", replay)
    monkeypatch.setattr(_Flaky, "replaying", [])
    prop = _prop("never2", lambda L, s: s[0] < 2)
    with pytest.raises(levels.ExploreError, match="rebuilt counterexample"):
        explore(toy, [prop])


def test_max_states_budget_stops_with_incomplete():
    m = DaxModel(DESIGNS["cow-srcmap"])
    r = explore(m, list(PROPERTIES.values()), budget=Budget(max_states=500))
    assert r.stats.states == 500
    assert {v.status for v in r.verdicts.values()} == {INCOMPLETE}


def test_progress_is_reported():
    seen = []
    m = DaxModel(DESIGNS["cow-srcmap"], DESIGNS["cow-srcmap"].bounds.replace(depth=4))
    explore(m, [PROPERTIES["refcounts_consistent"]], progress=seen.append, progress_every=0)
    assert seen and seen[-1].states > 0


# ---------------------------------------------------------------- the parts
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 255), min_size=1, max_size=40).flatmap(
        lambda caps: st.tuples(
            st.just(caps),
            st.lists(st.tuples(*[st.integers(0, c) for c in caps]), min_size=1, max_size=30),
        )
    )
)
def test_packing_round_trips_and_repacks(case):
    caps, rows = case
    rows = np.array(rows, dtype=np.uint8)
    p = Packing.for_values(caps)
    assert p.fits(rows)
    w = p.pack_rows(rows)
    assert (p.unpack_rows(w) == rows).all()
    wider = Packing([8] * len(caps))
    assert (wider.unpack_rows(repack(w, p, wider)) == rows).all()
    # Both ways of unpacking: a word at a time (few states), a column at a time (many)
    big = np.tile(rows, (packing.UNPACK_BY_WORD // len(rows) + 1, 1))
    assert big.shape[0] >= packing.UNPACK_BY_WORD
    assert (p.unpack_rows(p.pack_rows(big)) == big).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.data())
def test_key_table_is_an_exact_map(width, data):
    """Lookups agree with a dict keyed by the projection, for direct and hashed tables."""
    bits = data.draw(st.lists(st.integers(1, 8), min_size=width, max_size=width))
    cols = tuple(sorted(data.draw(st.sets(st.integers(0, width - 1), min_size=1))))
    p = Packing(bits)
    t, ref = KeyTable(p, cols), {}
    for _ in range(data.draw(st.integers(1, 4))):
        n = data.draw(st.integers(1, 60))
        rows = np.array(
            [[data.draw(st.integers(0, (1 << b) - 1)) for b in bits] for _ in range(n)],
            dtype=np.uint8,
        )
        keys = t.keys(p.pack_rows(rows))
        ent = t.lookup(keys)
        proj = [tuple(r[list(cols)]) for r in rows]
        for e, k in zip(ent, proj):
            assert (e == -1) == (k not in ref) and (e == -1 or ref[k] == e)
        miss = np.flatnonzero(ent < 0)
        while miss.size:
            reps = t.distinct(keys, miss)
            for r, i in zip(reps, t.add(keys, reps)):
                ref[proj[r]] = int(i)
            ent[miss] = t.lookup(t.take(keys, miss))
            miss = np.flatnonzero(ent < 0)
        assert [ref[k] for k in proj] == ent.tolist()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=300), max_size=8), st.data())
def test_fingerprint_set_and_index_agree_with_a_set(batches, data):
    with pytest.MonkeyPatch.context() as mp:  # small buckets: splits happen
        mp.setattr("daxcheck.checker.explicit.fpset.BUCKET_TARGET", 16)
        _fingerprint_set_case(batches, data)


def _fingerprint_set_case(batches, data):
    fs, ix, ref = FingerprintSet(), FingerprintIndex(), {}
    for b in batches:
        q = np.array(sorted(set(b) - set(ref)), dtype=np.uint64)
        fs.add(q)
        ix.add(q, np.arange(len(ref), len(ref) + q.size))
        for x in q.tolist():
            ref[x] = len(ref)
        probe = np.array(
            sorted(
                set(data.draw(st.lists(st.integers(0, 2**64 - 1), max_size=20)))
                | set(list(ref)[:20])
            ),
            dtype=np.uint64,
        )
        assert fs.contains(probe).tolist() == [x in ref for x in probe.tolist()]
        assert ix.find(probe).tolist() == [ref.get(x, -1) for x in probe.tolist()]
    assert len(fs) == len(ref)
    assert fs.array().tolist() == sorted(ref)  # the distributed driver's handoff


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5000).flatmap(
        lambda span: st.tuples(
            st.just(span), st.sets(st.integers(0, span - 1), max_size=min(span, 400))
        )
    )
)
def test_key_order_is_the_sort_of_distinct_keys(case):
    """``key_order`` (the order of a chunk's new okeys) is ``argsort``'s, both ways: by
    sorting (sparse keys) and by marking (dense keys), each forced here."""
    span, keys = case
    keys = np.array(sorted(keys, key=lambda k: (k * 7919) % 5003), dtype=np.int32)
    want = np.argsort(keys, kind="stable").tolist()
    for scatter in (0, span + 1):  # 0: always the sort; span + 1: always the marking
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(frontier, "KEY_ORDER_SCATTER", scatter)
            assert frontier.key_order(keys, span).tolist() == want


# ---------------------------------------------------------------- symmetry
@pytest.mark.parametrize("design", per_design())
def test_symmetry_keeps_verdicts_and_shortest_depths(design):
    """With the design's symmetric index sets (checked as the search goes) every verdict
    and shortest depth is the one of the full search, with fewer states where a set has two
    members or more; each counterexample is a real path of the spec (original terms) whose
    last state violates the property."""
    d = DESIGNS[design]
    m = DaxModel(d, d.bounds.replace(depth=d.bounds.depth - 1))
    props = list(PROPERTIES.values())
    a, b = explore(m, props, symmetry=True), explore(m, props)
    assert {k: (v.status, v.depth, v.complete) for k, v in a.verdicts.items()} == {
        k: (v.status, v.depth, v.complete) for k, v in b.verdicts.items()
    }
    reducible = any(m.L.dims[x] > 1 for x in d.symmetric)
    assert not (a.stats.symmetry or "").startswith("off")
    assert (a.stats.states < b.stats.states) if reducible else (a.stats.states == b.stats.states)
    for name, v in a.verdicts.items():
        if v.status == VIOLATED:
            s = v.trace[0][1]
            for i, t in v.trace[1:]:
                s = m.actions[i].apply(m, s)
                assert s == t
            assert not PROPERTIES[name].fn(m.L, s)


def test_symmetry_reduces_the_cow_design_by_files_and_tokens():
    d = DESIGNS["cow-single-iomap"]
    m = DaxModel(d, d.bounds.replace(phys=4, depth=4))
    props = list(PROPERTIES.values())
    a, b = explore(m, props, symmetry=True), explore(m, props)
    assert a.stats.symmetry == "file x2, tok x2 (4 permutations)"
    assert b.stats.states >= 3 * a.stats.states
    assert {k: (v.status, v.depth) for k, v in a.verdicts.items()} == {
        k: (v.status, v.depth) for k, v in b.verdicts.items()
    }


def test_a_symmetry_that_does_not_hold_is_not_used():
    """Physical blocks are not interchangeable (lowest-free allocation, 0 = no block), and
    a property that names file a is not invariant under swapping files: either claim is
    caught and the search runs without the reduction, with the full search's results."""
    d = DESIGNS["cow-single-iomap"].variant(symmetric=("file", "tok", "phys"))
    m = DaxModel(d, d.bounds.replace(depth=3))
    props = [PROPERTIES["no_stale_data"]]
    a = explore(m, props, symmetry=True)
    assert a.stats.symmetry.startswith("off (") and "phys" in a.stats.symmetry
    assert _summary(a) == _summary(explore(m, props))
    names_a = _prop("a_stays_unwritten", lambda L, s: s[L.ext_kind[0][0]] != 2)
    m = DaxModel(DESIGNS["cow-single-iomap"], DESIGNS["cow-single-iomap"].bounds.replace(depth=3))
    a = explore(m, [names_a], symmetry=True)
    assert a.stats.symmetry.startswith("off (property a_stays_unwritten")
    assert _summary(a) == _summary(explore(m, [names_a]))


def test_exact_mode_with_symmetry_compares_orbits():
    d = DESIGNS["cow-srcmap"]
    m = DaxModel(d, d.bounds.replace(depth=4))
    props = list(PROPERTIES.values())
    assert _summary(explore(m, props, symmetry=True, exact=True)) == _summary(
        explore(m, props, symmetry=True)
    )


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_image_fingerprints_are_fingerprints_of_images(data):
    """The table of element k fingerprints a state as the identity table fingerprints its
    image; images of images compose (the group acts on states)."""
    from daxcheck.checker.explicit.symmetry import Symmetry

    m = DaxModel(
        DESIGNS["cow-single-iomap"], DESIGNS["cow-single-iomap"].bounds.replace(files=3, procs=2)
    )
    sym = Symmetry(m.L, ("file", "proc", "tok"))
    assert len(sym) == 6 * 2 * 2
    rows = np.array(
        data.draw(
            st.lists(
                st.lists(st.integers(0, 255), min_size=m.L.width, max_size=m.L.width),
                min_size=1,
                max_size=5,
            )
        ),
        dtype=np.uint8,
    )
    Zs = sym.zobrist(levels.zobrist_table(m.L.width))
    k = data.draw(st.integers(0, len(sym) - 1))
    assert (
        levels.fingerprints(Zs[k], rows) == levels.fingerprints(Zs[0], sym.image(rows, k))
    ).all()
    assert sorted(
        map(bytes, (sym.image(sym.image(rows, k), j) for j in range(len(sym))))
    ) == sorted(map(bytes, (sym.image(rows, j) for j in range(len(sym)))))
