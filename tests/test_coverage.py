"""Spec coverage (issue 28): decision sites found in the source, outcomes recorded while an
engine explores, and the report's numbers."""
from __future__ import annotations

import importlib.util
import textwrap

from daxcheck.checker.coverage import Coverage, measure, html_report
from daxcheck.checker.coverage.recorder import ALONE, FALSE, TRUE, Recorder
from daxcheck.checker.coverage.sites import scan_file
from daxcheck.checker.runner import pick_properties
from daxcheck.spec import vocab
from daxcheck.spec.designs import DESIGNS


def _module(tmp_path, source):
    """A module of vocabulary calls, imported from ``tmp_path``; returns (module, path)."""
    p = tmp_path / "decide.py"
    p.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("decide_mod", p)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m, p


SOURCE = """
    from daxcheck.spec.vocab import And, If, Or, require, when

    def f(a, b, xs):
        if not require(a != 9):
            return None
        d = [0]
        when(d, b == 1, lambda d: d.__setitem__(0, 5))
        return If(And(a == 1, b == 1), 1, Or(a == 2, *xs))
    """


def test_sites_are_read_from_the_source(tmp_path):
    _, p = _module(tmp_path, SOURCE)
    sites = scan_file(p, "decide.py")
    kinds = [(s.kind, s.operand) for s in sites]
    # require, when, If, And x2 operands, Or with a starred operand (one decision).
    assert sorted(kinds) == sorted([("require", 0), ("when", 0), ("If", 0), ("And", 0),
                                    ("And", 1), ("Or", -1)])
    assert {s.function for s in sites} == {"f"}


def test_the_recorder_notes_each_way_and_operands_that_decide_alone(tmp_path):
    m, p = _module(tmp_path, SOURCE)
    sites = {(s.kind, s.operand): s for s in scan_file(p, "decide.py")}
    with Recorder({str(p): "decide.py"}, modules=[m]) as rec:
        m.f(1, 1, ())        # And true; when true
        m.f(1, 2, ())        # And false by operand 1 alone; when false
        m.f(9, 1, ())        # disabled: require false
    seen = rec.decisions
    assert seen[sites[("require", 0)].key] == TRUE | FALSE
    assert seen[sites[("when", 0)].key] == TRUE | FALSE
    assert seen[sites[("And", 1)].key] == TRUE | FALSE | ALONE
    assert seen[sites[("And", 0)].key] == TRUE          # never false: a gap
    # Outside the block the module has the plain vocabulary again.
    assert m.And is vocab.And and m.If is vocab.If


def test_symbolic_conditions_decide_nothing(tmp_path):
    m, p = _module(tmp_path, SOURCE)

    class Term:                     # what the read-set analysis passes
        def __eq__(self, other):
            return self
        __ne__ = __eq__
    with Recorder({str(p): "decide.py"}, modules=[m]) as rec:
        try:
            m.f(Term(), Term(), ())
        except Exception:
            pass
    assert not any(b & (TRUE | FALSE) for b in rec.decisions.values())


def test_a_design_covers_its_operations_and_leaves_the_rest_unreached():
    props = pick_properties([])
    cov = measure([DESIGNS["dax-toggle-on-evict"]], props)
    t = cov.totals()
    assert t["sites"] == t["both"] + t["one_way"] + t["unreached"]
    assert 0 < t["both"] < t["sites"]
    assert cov.operations["dax_toggle"] == TRUE | FALSE
    assert "reflink" not in cov.operations           # not in this design's scope
    assert cov.designs[0][0] == "dax-toggle-on-evict"
    page = html_report(cov)
    assert page.count("class='none'") >= 1 and page.count("class='both'") >= 1


def test_merging_is_a_union():
    a = Coverage([], {("x", 1, 0, 0): TRUE}, {"op": FALSE}, {"h": False}, [("a", 1, 1)])
    b = Coverage([], {("x", 1, 0, 0): FALSE}, {"op": TRUE}, {"h": True}, [("b", 2, 1)])
    a.merge(b)
    assert a.seen[("x", 1, 0, 0)] == TRUE | FALSE
    assert a.operations["op"] == TRUE | FALSE and a.hooks["h"] is True
    assert [d for d, _, _ in a.designs] == ["a", "b"]
