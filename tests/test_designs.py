"""Every shipped design at its default bounds: verdicts, shortest counterexample depths and
distinct-state counts are pinned in ``expected_verdicts.json`` (a manifest checked against
what exploration computes), and each seed's claim (``expect_violated``) must hold.

Regenerate the manifest after an intended spec change with
``DAXCHECK_UPDATE_MANIFEST=1 pytest tests/test_designs.py`` and review the diff.
"""
import json
import os
from pathlib import Path

import pytest

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

MANIFEST = Path(__file__).with_name("expected_verdicts.json")
SHIPPED = [p for p in PROPERTIES.values() if p.origin == "shipped"]


@pytest.fixture(scope="module")
def computed():
    out = {}
    for name, d in DESIGNS.items():
        r = explore(DaxModel(d), SHIPPED)
        out[name] = {"states": r.stats.states,
                     "verdicts": {p: (f"violated@{v.depth}" if v.status == VIOLATED else v.status)
                                  for p, v in r.verdicts.items()}}
    if os.environ.get("DAXCHECK_UPDATE_MANIFEST"):
        MANIFEST.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return out


def test_manifest_matches_exploration(computed):
    expected = json.loads(MANIFEST.read_text())
    assert sorted(expected) == sorted(computed)
    for name in computed:
        assert computed[name] == expected[name], name


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_seed_claim(computed, name):
    """A design violates exactly the properties it declares (a fixed one: none)."""
    d = DESIGNS[name]
    got = {p for p, v in computed[name]["verdicts"].items() if v.startswith("violated")}
    assert all(v in (HOLDS,) or v.startswith("violated") for v in computed[name]["verdicts"].values())
    assert got == set(d.expect_violated)


def test_seed_pairs_differ_in_one_setting():
    """Each seed's broken and fixed design differ in exactly one kernel decision."""
    pairs = [("reflink-single-owner", "reflink-shared-count"), ("immutable-extents", "immutable-no-reflink"),
             ("userspace-flush", "map-sync"), ("cow-single-iomap", "cow-srcmap"),
             ("cow-in-core-refcount", "cow-srcmap"), ("hole-size-unknown", "iomap-hole-size")]
    for bad, good in pairs:
        a, b = DESIGNS[bad].settings(), DESIGNS[good].settings()
        diff = {k for k in a if a[k] != b[k]}
        assert 1 <= len(diff) <= 2, (bad, good, diff)  # userspace-flush also drops MAP_SYNC
        assert DESIGNS[bad].families == DESIGNS[good].families
        assert DESIGNS[bad].bounds == DESIGNS[good].bounds
