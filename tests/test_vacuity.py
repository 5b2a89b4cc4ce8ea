"""Vacuity and scope warnings (issue 25): a property declares the scope its meaning needs
(``needs={"tokens": 2}``) and its antecedent as action families (``exercised_by=``); a
"holds" below that scope, or where the antecedent never fired, is reported as "holds
(vacuous: ...)" in the verdict, the text summary and the JSON results, at no cost per
state."""

from __future__ import annotations

import json

import jsonschema
import pytest
from helpers import dax_here

from daxcheck import registries
from daxcheck.checker.outputs import RESULTS_SCHEMA
from daxcheck.checker.runner import run_check
from daxcheck.properties import PROPERTIES, InvalidDefinition, invariant
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import Bounds


def _verdicts(design, bounds=None, props=None):
    m = DaxModel(design, bounds) if bounds is not None else DaxModel(design)
    return run_check(m, list(props or PROPERTIES.values())).result.verdicts


def test_scope_below_what_the_property_needs_is_vacuous():
    d = DESIGNS["iomap-hole-size"]
    one = _verdicts(d, d.bounds.__class__(**{**vars_of(d.bounds), "depth": 3}))
    assert one["read_returns_last_write"].vacuous == "tokens=1, needs 2"
    assert one["read_returns_last_write"].label().endswith("(vacuous: tokens=1, needs 2)")
    assert one["no_deadlock"].vacuous == "threads=1, needs 2"
    assert one["mapping_matches_extents"].vacuous is None
    two = _verdicts(d, Bounds(**{**vars_of(d.bounds), "tokens": 2, "depth": 3}))
    assert two["read_returns_last_write"].status == "holds"
    assert two["read_returns_last_write"].vacuous is None


def test_antecedent_that_never_fired_is_vacuous():
    d = DESIGNS["cow-srcmap"]
    v = _verdicts(d, Bounds(**{**vars_of(d.bounds), "depth": 3}))
    assert v["dedupe_shares_equal_data"].vacuous is None  # a reflink fired
    v = _verdicts(
        DESIGNS["map-sync"], Bounds(**{**vars_of(DESIGNS["map-sync"].bounds), "depth": 2})
    )
    assert v["dedupe_shares_equal_data"].vacuous == "no reflink or dedupe fired"
    assert v["pinned_pages_stay_allocated"].vacuous == "no pin or dio_read fired"


def test_violations_are_never_vacuous():
    v = _verdicts(DESIGNS["hole-size-unknown"])
    assert v["read_returns_last_write"].status == "violated"
    assert v["read_returns_last_write"].vacuous is None


def test_text_and_json_say_vacuous(tmp_path):
    out_json = tmp_path / "r.json"
    code, out, err = dax_here(
        "check", "--design", "iomap-hole-size", "--no-write", "--json", str(out_json)
    )
    assert code == 0, err
    text = " ".join(out.split())
    assert (
        "P9 read_returns_last_write holds (vacuous: tokens=1, needs 2) in iomap-hole-size" in text
    )
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    rows = {r["property"]: r for r in doc["results"]}
    assert rows["read_returns_last_write"]["vacuous"] == "tokens=1, needs 2"
    assert rows["mapping_matches_extents"]["vacuous"] is None


def test_user_property_declares_needs_and_antecedent():
    with registries.isolated():

        @invariant(needs={"files": 2}, exercised_by=("reflink",))
        def two_files_share(L, s):
            """Nothing, twice: only meaningful with two files and a reflink."""
            return True

        p = PROPERTIES["two_files_share"]
        assert p.vacuity({"files": 1}, {"write": 3}) == "files=1, needs 2; no reflink fired"
        assert p.vacuity({"files": 2}, {"reflink": 1}) is None
        assert p.vacuity({"files": 2}, {}) is None  # nothing counted (Z3): scope only
        with pytest.raises(InvalidDefinition, match="unknown bound 'tokes'.*'tokens'"):

            @invariant(needs={"tokes": 2})
            def typo(L, s):
                """A mistyped bound."""
                return True

        with pytest.raises(InvalidDefinition, match="positive int"):

            @invariant(needs={"tokens": 0})
            def zero(L, s):
                """A minimum of zero."""
                return True


def vars_of(b):
    return {k: getattr(b, k) for k in b.__dataclass_fields__}
