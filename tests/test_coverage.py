"""Spec coverage (issue 28): decision sites found in the source, outcomes recorded while an
engine explores, and the report's numbers."""

from __future__ import annotations

import importlib.util
import json
import textwrap

import pytest

from daxcheck.checker.cli import main
from daxcheck.checker.coverage import Coverage, html_report, measure, source_sites
from daxcheck.checker.coverage.explain import (
    REACHABLE,
    UNREACHABLE,
    DesignGoals,
    iter_explanations,
)
from daxcheck.checker.coverage.recorder import ALONE, FALSE, TRUE, Recorder
from daxcheck.checker.coverage.sites import scan_file, shortcut_guards
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
    assert sorted(kinds) == sorted(
        [("require", 0), ("when", 0), ("If", 0), ("And", 0), ("And", 1), ("Or", -1)]
    )
    assert {s.function for s in sites} == {"f"}


def test_the_recorder_notes_each_way_and_operands_that_decide_alone(tmp_path):
    m, p = _module(tmp_path, SOURCE)
    sites = {(s.kind, s.operand): s for s in scan_file(p, "decide.py")}
    with Recorder({str(p): "decide.py"}, modules=[m]) as rec:
        m.f(1, 1, ())  # And true; when true
        m.f(1, 2, ())  # And false by operand 1 alone; when false
        m.f(9, 1, ())  # disabled: require false
    seen = rec.decisions
    assert seen[sites[("require", 0)].key] == TRUE | FALSE
    assert seen[sites[("when", 0)].key] == TRUE | FALSE
    assert seen[sites[("And", 1)].key] == TRUE | FALSE | ALONE
    assert seen[sites[("And", 0)].key] == TRUE  # never false: a gap
    # Outside the block the module has the plain vocabulary again.
    assert m.And is vocab.And and m.If is vocab.If


def test_symbolic_conditions_decide_nothing(tmp_path):
    m, p = _module(tmp_path, SOURCE)

    class Term:  # what the read-set analysis passes
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
    assert "reflink" not in cov.operations  # not in this design's scope
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


# ------------------------------------------------------------------ Z3 explanations
def _gaps(cov, limit=None):
    gaps = [
        (s, want)
        for s in cov.sites
        for want in (TRUE, FALSE)
        if cov.outcome(s) and not cov.outcome(s) & want
    ]
    return gaps[:limit] if limit else gaps


def test_z3_agrees_with_a_complete_exploration_that_a_missing_outcome_is_unreachable():
    """The explorer decides every site of dax-toggle-on-evict to depth 7; BMC to the same
    depth must never call a missing outcome reachable (two engines, one answer)."""
    d = DESIGNS["dax-toggle-on-evict"]
    props = pick_properties([])
    cov = measure([d], props)
    _, files = source_sites()
    dg = DesignGoals(d, props, files)
    answers = [dg.explain(s, want, time_limit=30) for s, want in _gaps(cov, 12)]
    assert answers and all(e.status != REACHABLE for e in answers), [e.line() for e in answers]
    assert any(e.status == UNREACHABLE for e in answers)


def test_z3_finds_what_a_shallow_exploration_missed_and_the_trace_decides_it():
    """Explored to depth 1 only, some decisions stay one-way; BMC to depth 7 finds them
    reachable, and re-running its trace under the recorder decides the site that way."""
    d = DESIGNS["dax-toggle-on-evict"]
    props = pick_properties([])
    cov = measure([d], props, depth=1)
    _, files = source_sites()
    dg = DesignGoals(d, props, files)
    found = []
    for s, want in _gaps(cov):
        e = dg.explain(s, want, time_limit=30)
        if e.status == REACHABLE:
            found.append(e)
            if len(found) == 3:
                break
    assert found, "no gap of a depth-1 exploration is reachable by depth 7"
    m = dg.model
    for e in found:
        assert 1 < e.depth <= 7 and len(e.trace) == e.depth
        state = m.init_states()[0]
        for step in e.trace:
            a = next(a for a in m.actions if a.describe() == step)
            state = m.next_state(state, a)
            assert state is not None
        with Recorder(files) as rec:
            for a in m.actions:
                a.apply(m, state)
            for p in props:
                p.fn(m.L, state)
        assert rec.decisions.get(e.site.key, 0) & e.outcome, e.line()


def test_coverage_command_writes_json_and_html_and_gates_on_a_share(tmp_path, capsys):
    out_json, out_html = tmp_path / "c.json", tmp_path / "c.html"
    code = main(
        [
            "coverage",
            "--design",
            "dax-toggle-on-evict",
            "-q",
            "--json",
            str(out_json),
            "--html",
            str(out_html),
            "--property",
            "no_stale_data",
        ]
    )
    assert code == 0
    doc = json.loads(out_json.read_text())
    assert doc["format"] == "daxcheck-coverage" and doc["totals"]["sites"] == len(doc["sites"])
    assert "daxcheck spec coverage" in out_html.read_text()
    text = capsys.readouterr().out
    assert f"{doc['totals']['both']} of {doc['totals']['sites']} decisions" in text
    # Far under 100%: --fail-under 99 fails; a file daxcheck did not write is kept.
    mine = tmp_path / "mine.json"
    mine.write_text("my notes\n")
    assert (
        main(
            [
                "coverage",
                "--design",
                "dax-toggle-on-evict",
                "-q",
                "--property",
                "no_stale_data",
                "--fail-under",
                "99",
            ]
        )
        == 1
    )
    assert (
        main(
            [
                "coverage",
                "--design",
                "dax-toggle-on-evict",
                "-q",
                "--property",
                "no_stale_data",
                "--json",
                str(mine),
            ]
        )
        == 2
    )
    assert mine.read_text() == "my notes\n"
    assert main(["coverage", "--design", "no-such-design"]) == 2


@pytest.mark.thorough  # about 25 s of CPU: Z3 over every gap of one design
def test_explanations_are_saved_and_listed_by_gaps(tmp_path, capsys):
    """``--explain --json`` saves Z3's answer per missing outcome; ``--gaps FILE`` lists
    them without exploring and gives the share of the reachable decisions; a file that is
    not such a report is one line of error (exit 2)."""
    out = tmp_path / "c.json"
    args = ["coverage", "--design", "dax-toggle-on-evict", "-q", "--property", "no_stale_data"]
    assert main([*args, "--depth", "1", "--explain", "--time-limit", "20", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    missing = sum(
        {"both": 0, "only true": 1, "only false": 1, "never reached": 2}[s["outcome"]]
        for s in doc["sites"]
    )
    assert len(doc["explanations"]) == missing > 0
    answers = {e["answer"] for e in doc["explanations"]}
    assert answers <= {REACHABLE, UNREACHABLE, "unresolved", "not evaluated"}
    capsys.readouterr()
    assert main(["coverage", "--gaps", str(out)]) == 0
    text = capsys.readouterr().out
    assert all(e["text"] in text for e in doc["explanations"][:5])
    unreachable = len(
        {
            (e["file"], e["line"], e["col"], e["kind"], e["operand"])
            for e in doc["explanations"]
            if e["answer"] == UNREACHABLE
        }
        - {
            (e["file"], e["line"], e["col"], e["kind"], e["operand"])
            for e in doc["explanations"]
            if e["answer"] != UNREACHABLE
        }
    )
    t = doc["totals"]
    assert f"{t['both']} of {t['sites'] - unreachable} reachable decisions" in text
    (tmp_path / "x.json").write_text('{"format": "something else"}')
    for bad in ("x.json", "none.json"):
        assert main(["coverage", "--gaps", str(tmp_path / bad)]) == 2
        err = capsys.readouterr()
        assert len((err.out + err.err).strip().splitlines()) == 1


def test_a_decision_behind_an_is_not_false_shortcut_never_sees_false(tmp_path):
    """``if x is not False: when(d, x, ...)``: concretely the call sees only ``x`` true (and
    ``Not(x)`` only false); --explain answers that outcome without Z3, in every scope."""
    _, p = _module(
        tmp_path,
        """
        from daxcheck.spec.vocab import And, Not, when

        def g(d, x, y):
            if x is not False:
                when(d, x, print)
                y = And(y, Not(x))
            when(d, y, print)
        """,
    )
    cuts = shortcut_guards(p, "g.py")
    sites = {(s.kind, s.line): s for s in scan_file(p, "g.py")}
    when_x, and_not = sites[("when", 6)], sites[("And", 7)]
    assert cuts == {when_x.key: (5, "x", False), (*and_not.key[:3], 1): (5, "x", True)}
    not_x = next(s for s in scan_file(p, "g.py") if s.key == (*and_not.key[:3], 1))
    answers = list(iter_explanations([(when_x, FALSE), (not_x, TRUE)], [], [], {str(p): "g.py"}))
    assert [e.status for e in answers] == [UNREACHABLE, UNREACHABLE]
    assert all("if x is not False" in e.line() for e in answers)
