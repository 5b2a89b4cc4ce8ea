"""Every shipped design at its default bounds: the gate recomputes the verdicts, shortest
counterexample depths and distinct-state counts pinned in ``counterexamples/manifest.json``
and replays every shipped counterexample; each design violates exactly what it declares.

After an intended spec change, regenerate the manifest and the counterexamples with
``daxcheck gate --update`` and review the diff.
"""

import pytest

from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.spec.designs import DESIGNS


def test_shipped_gate_passes(shipped_gate):
    """No difference from the manifest: verdicts, depths, state counts, counterexamples."""
    assert [d.line() for d in shipped_gate.differences] == []
    assert sorted(c.result.design for c in shipped_gate.checks) == sorted(DESIGNS)


def test_every_violation_has_a_reproducing_counterexample(shipped_gate):
    want = {
        f"{c.result.design}__{p}.itf.json"
        for c in shipped_gate.checks
        for p, v in c.result.verdicts.items()
        if v.status == VIOLATED
    }
    assert want and dict(shipped_gate.replayed) == {f: "reproduces" for f in want}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_design_violates_exactly_what_it_declares(shipped_gate, name):
    """A design violates exactly the properties it declares (a fixed one: none)."""
    c = next(c for c in shipped_gate.checks if c.result.design == name)
    assert all(v.status in (HOLDS, VIOLATED) for v in c.result.verdicts.values())
    got = {p for p, v in c.result.verdicts.items() if v.status == VIOLATED}
    assert got == set(DESIGNS[name].expect_violated)


def test_seed_pairs_differ_in_one_setting():
    """Each seed's broken and fixed design differ in exactly one kernel decision."""
    pairs = [
        ("reflink-single-owner", "reflink-shared-count"),
        ("immutable-extents", "immutable-no-reflink"),
        ("userspace-flush", "map-sync"),
        ("cow-single-iomap", "cow-srcmap"),
        ("cow-in-core-refcount", "cow-srcmap"),
        ("hole-size-unknown", "iomap-hole-size"),
    ]
    for bad, good in pairs:
        a, b = DESIGNS[bad].settings(), DESIGNS[good].settings()
        diff = {k for k in a if a[k] != b[k]}
        assert 1 <= len(diff) <= 2, (bad, good, diff)  # userspace-flush also drops MAP_SYNC
        assert DESIGNS[bad].families == DESIGNS[good].families
        assert DESIGNS[bad].bounds == DESIGNS[good].bounds


def test_history_items_are_pairs_differing_in_one_setting():
    """Each history item (fsdax-history.md 1-10) is a pair or triple in one scope: the fixed
    design holds, each broken one violates, and they differ in exactly one setting."""
    from daxcheck.spec.history import HISTORY

    assert len(HISTORY) >= 20 and len(DESIGNS) >= 33
    items = {}
    for d in HISTORY:
        items.setdefault(d.seed, []).append(d)
        assert d.cite and "history" in d.cite
    assert sorted(items, key=lambda s: int(s[1:])) == [f"h{i}" for i in range(1, 11)]
    for seed, ds in items.items():
        fixed = [d for d in ds if not d.expect_violated]
        assert fixed, seed
        for bad in ds:
            if not bad.expect_violated:
                continue
            good = next(f for f in fixed if f.families == bad.families and f.bounds == bad.bounds)
            a, b = bad.settings(), good.settings()
            assert len({k for k in a if a[k] != b[k]}) == 1, (bad.name, good.name)


def test_every_action_family_is_in_some_shipped_scope():
    from daxcheck.spec.ops import SHIPPED_FAMILIES

    covered = {f for d in DESIGNS.values() for f in d.families}
    assert set(SHIPPED_FAMILIES) <= covered
