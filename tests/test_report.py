"""Terminal output for people and CI logs: the verdict table fits 80 columns with nothing
cut, progress is printed as plain lines when stdout is not a terminal."""

import io
import json
import os
import re
from pathlib import Path

import pytest
from helpers import dax
from rich.console import Console

from daxcheck.checker.explicit import Budget
from daxcheck.checker.report import Progress, verdict_tables
from daxcheck.checker.results import Stats
from daxcheck.checker.runner import make_model, pick_properties, run_check
from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.scopes import is_coverage_scope

DESIGNS_FILE = """
from daxcheck.spec.designs import DESIGNS, register_design
register_design(DESIGNS["map-sync"].variant(name="a-users-rather-long-design-name"))
"""
PROPS_FILE = '''
from daxcheck.properties import invariant


@invariant
def file_a_stays_small(L, s):
    """File a never grows past one block (a user's invariant)."""
    return s[L.size[0]] <= 1
'''
CELL = r"(ok\*?|✗\d+|\?|-)"


def expected_cell(v) -> str:
    """The table cell of a verdict, from the verdict itself."""
    return {"holds": "ok*" if v.complete else "ok", "violated": f"✗{v.depth}", "incomplete": "?"}[
        v.status
    ]


def checked_in_process(tmp_path, designs):
    """The same check run in process: {design: CheckResult-like check}."""
    from daxcheck.checker.runner import load_user_files
    from daxcheck.registries import isolated

    with isolated():
        load_user_files(str(tmp_path / "d.py"), str(tmp_path / "p.py"))
        props = pick_properties(None)
        return {d: run_check(make_model(DESIGNS[d], {}), props, budget=Budget()) for d in designs}


def parse_rows(lines, designs, prop_labels):
    """{design: {label: cell}} from either layout of the verdict table: the full matrix (one
    column per property label) or the compact one ("all" verdict, "but" label+verdict)."""
    head = next(x for x in lines if x.startswith("design "))
    out = {}
    if " all but " in head:
        for d in designs:
            i = next(i for i, x in enumerate(lines) if x.startswith(d[:20]))
            row = lines[i].rstrip()
            m = re.fullmatch(
                rf"{re.escape(d[:20])}\S* +\S+ +{CELL} +(.*?) *[\d,]+ +\d+ +\d+\.\ds", row
            )
            assert m, row
            cells = {p: m.group(1) for p in prop_labels}
            for entry in m.group(2).split():
                lab, cell = re.fullmatch(rf"([PUL]\d+){CELL}", entry).groups()
                assert cells[lab] != cell
                cells[lab] = cell
            out[d] = cells
        return out
    labels = head.split()[2:-3]
    assert labels == prop_labels
    for d in designs:
        row = next(x for x in lines if x.startswith(d[:20]))
        m = re.fullmatch(
            rf"{re.escape(d[:20])}\S* +\S+ +((?:{CELL} +)+)[\d,]+ +\d+ +\d+\.\ds", row.rstrip()
        )
        assert m, row
        out[d] = dict(zip(labels, m.group(1).split()))
    return out


@pytest.mark.parametrize("columns", [80, 120])
def test_verdict_table_fits_and_shows_everything(tmp_path, columns):
    """At 120 columns the full matrix, at 80 the compact table: both fit, and both give
    every design's verdict on every property (the same verdicts)."""
    (tmp_path / "d.py").write_text(DESIGNS_FILE)
    (tmp_path / "p.py").write_text(PROPS_FILE)
    designs = [
        "hole-size-unknown",
        "iomap-hole-size",
        "userspace-flush",
        "a-users-rather-long-design-name",
    ]
    r = dax(
        "check",
        "--quiet",
        "--no-write",
        "--designs",
        str(tmp_path / "d.py"),
        "--properties",
        str(tmp_path / "p.py"),
        *[a for d in designs for a in ("--design", d)],
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert r.returncode == 12, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert max(len(x) for x in lines) <= columns
    text = " ".join(r.stdout.split())
    for i, p in enumerate(PROPERTIES):
        assert f"P{i + 1} {p}" in text
    assert "U1 file_a_stays_small" in text  # a user's invariant: U1, in every run
    labels = [f"P{i + 1}" for i in range(len(PROPERTIES))] + ["U1"]
    rows = parse_rows(lines, designs, labels)
    assert (" all but " in r.stdout) == (columns == 80)
    assert rows["hole-size-unknown"]["P5"] == "✗3" and rows["iomap-hole-size"]["P5"] == "ok"
    assert all(len(v) == len(labels) for v in rows.values())
    want = {
        d: {
            lab: expected_cell(c.result.verdicts[p])
            for lab, p in zip(labels, [*PROPERTIES, "file_a_stays_small"])
        }
        for d, c in checked_in_process(tmp_path, designs).items()
    }
    assert rows == want


def test_many_properties_at_80_columns_give_one_compact_table():
    """Properties and lemmas together (42 columns) at 80 columns: one row per design, every
    verdict that differs from the row's common one listed with its stable label."""
    props = pick_properties(list(PROPERTIES) + list(LEMMAS))
    checks = [
        run_check(make_model(DESIGNS[d], {"depth": 2}), props, budget=Budget())
        for d in ("map-sync", "iomap-hole-size")
    ]
    out = io.StringIO()
    console = Console(file=out, width=80)
    names = [p.name for p in props]
    parts = verdict_tables(checks, names, 80)
    assert len(parts) == 2  # the table and the legend
    for part in parts:
        console.print(part)
    lines = out.getvalue().splitlines()
    assert max(len(x) for x in lines) <= 80
    text = " ".join(out.getvalue().split())
    assert all(f"P{i + 1} {p}" in text for i, p in enumerate(PROPERTIES))
    assert all(f"L{i + 1} {p}" in text for i, p in enumerate(LEMMAS))
    labels = [f"P{i + 1}" for i in range(len(PROPERTIES))] + [
        f"L{i + 1}" for i in range(len(LEMMAS))
    ]
    rows = parse_rows(lines, [c.result.design for c in checks], labels)
    for c in checks:
        assert any(
            x.startswith(c.result.design) and f"{c.result.stats.states:,}" in x for x in lines
        )
        assert rows[c.result.design] == {
            label: expected_cell(c.result.verdicts[name]) for name, label in zip(names, labels)
        }


def test_progress_lines_when_not_a_terminal():
    out = io.StringIO()
    now = [0.0]
    p = Progress(Console(file=out, width=80), "cow-srcmap", every=5.0, clock=lambda: now[0])
    for t, n in ((1.0, 100), (5.5, 5000), (7.0, 7000), (11.0, 9000)):
        now[0] = t
        p(Stats(states=n, depth=3, seconds=t))
    p.close()
    assert out.getvalue().splitlines() == [
        "Progress(3) cow-srcmap: 5,000 distinct states, 909 states/s, 5.5s",
        "Progress(3) cow-srcmap: 9,000 distinct states, 818 states/s, 11.0s",
    ]


@pytest.mark.parametrize("columns", [80, 120])
def test_main_job_prints_the_table_and_a_summary_people_act_on(tmp_path, columns):
    """daxcheck check (every design): the verdict table and a summary ending the output,
    at most 80 lines that fit the terminal (COLUMNS=80: the compact table); no
    counterexample tables unless -v or a single design."""
    r = dax("check", "--out", "cx", cwd=tmp_path, env={**os.environ, "COLUMNS": str(columns)})
    assert r.returncode == 12, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    rows = [x for x in lines if x.split()[:1] and x.split()[0] in DESIGNS]
    main_job = [d for d in DESIGNS.values() if not is_coverage_scope(d)]
    assert len(rows) == len(main_job) and "┏" not in r.stdout
    assert len(lines) <= 80 and max(len(x) for x in lines) <= columns
    start = next(
        i for i, x in enumerate(lines) if x.startswith(f"summary: {len(main_job)} designs")
    )
    tail = "\n".join(lines[start:])
    assert "broken as expect_violated says" in tail and "in cx/" in tail
    for cmd in ('daxcheck view "$t"', 'daxcheck replay "$t"', "daxcheck check --design"):
        assert cmd in tail
    t = next(x for x in lines if x.startswith("next: t="))[len("next: t=") :]
    assert (tmp_path / t).is_file()  # the hint names a file that is there
    # the depth column shows the depth reached: an exhausted space stops short of the bound
    row = next(x for x in lines if x.startswith("fault-truncate-mmaplock "))
    assert "ok*" in row and int(row.split()[-2]) < DESIGNS["fault-truncate-mmaplock"].bounds.depth


def test_counterexample_tables_for_one_design_or_verbose(tmp_path):
    r = dax("check", "--design", "hole-size-unknown", "--no-write")
    assert r.returncode == 12 and "┏" in r.stdout and "pmd_fault" in r.stdout
    r = dax("check", "--design", "hole-size-unknown", "--design", "iomap-hole-size", "--no-write")
    assert r.returncode == 12 and "┏" not in r.stdout and "summary: 2 designs" in r.stdout
    r = dax(
        "check", "--design", "hole-size-unknown", "--design", "iomap-hole-size", "--no-write", "-v"
    )
    assert r.returncode == 12 and "┏" in r.stdout and "distinct states" in r.stdout


def test_property_labels_are_stable_across_runs(tmp_path):
    (tmp_path / "p.py").write_text(PROPS_FILE)
    r = dax(
        "check",
        "--design",
        "iomap-hole-size",
        "--property",
        "no_deadlock",
        "--property",
        "file_a_stays_small",
        "--properties",
        str(tmp_path / "p.py"),
        "--no-write",
    )
    text = " ".join(r.stdout.split())
    assert f"P{list(PROPERTIES).index('no_deadlock') + 1} no_deadlock" in text
    assert "U1 file_a_stays_small" in text and "P1 " not in text


def test_never_fired_warnings_only_after_a_complete_search():
    r = dax("check", "--design", "reflink-refused", "--no-write")
    assert "action 'reflink' never fired" in r.stdout
    r = dax("check", "--design", "reflink-refused", "--no-write", "--max-states", "50")
    assert r.returncode == 75 and "never fired" not in r.stdout and "incomplete" in r.stdout


ITEMS_FILE = '''
import itertools
from daxcheck.properties import invariant


@invariant(each=lambda L: list(itertools.product(L.procs, L.files, L.blks)),
           dims=("proc", "file", "blk"))
def nothing_mapped(L, s, pfx):
    """No process maps any file (a user's invariant over process x file block)."""
    p, f, x = pfx
    return s[L.mmap_mode[p][f]] == 0
'''


def test_failing_items_are_named_by_their_declared_dimensions(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(ITEMS_FILE)
    r = dax(
        "check",
        "--design",
        "iomap-hole-size",
        "--property",
        "nothing_mapped",
        "--properties",
        str(f),
        "--no-write",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert r.returncode == 12, r.stdout + r.stderr
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert row["items"][0] == "P0 a[0]" and "(at P0 a[0]" in row["summary"]
    assert "(at P0 a[0]" in " ".join(r.stdout.split())
    f.write_text(ITEMS_FILE.replace('dims=("proc", "file", "blk")', 'dims=("proc", "fle", "blk")'))
    r = dax("check", "--properties", str(f), "--no-write")
    assert r.returncode == 2 and "did you mean 'file'?" in r.stderr


def test_progress_lines_carry_an_eta_when_the_bound_gives_one():
    """A time limit bounds what is left; a simulation's walks done of those asked give the
    rate; a breadth-first search without a limit has none."""
    from daxcheck.checker.simulate import SimStats

    out = io.StringIO()
    now = [0.0]
    p = Progress(
        Console(file=out, width=80), "cow-srcmap", every=5.0, clock=lambda: now[0], time_limit=60
    )
    now[0] = 6.0
    p(Stats(states=600, depth=3, seconds=6.0))
    sim = Progress(
        Console(file=out, width=80), "map-sync", every=5.0, clock=lambda: now[0], walks=1000
    )
    now[0] = 12.0
    sim(SimStats(states=5000, depth=0, seconds=10.0, walks=250))
    assert out.getvalue().splitlines() == [
        "Progress(3) cow-srcmap: 600 distinct states, 100 states/s, 6.0s, ETA 54s",
        "Progress(0) map-sync: 5,000 distinct states, 500 states/s, 10.0s, ETA 30s",
    ]


def test_the_summary_fits_a_narrow_terminal_and_keeps_commands_whole(tmp_path):
    r = dax(
        "check",
        "--design",
        "hole-size-unknown",
        "--design",
        "iomap-hole-size",
        "--out",
        str(tmp_path / "cx"),
        env={**os.environ, "COLUMNS": "60"},
    )
    assert r.returncode == 12, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    tail = lines[next(i for i, x in enumerate(lines) if x.startswith("summary:")) :]
    commands = [x for x in tail if x.startswith(("  daxcheck ", "next: t="))]
    assert len(commands) == 4 and all(len(x) <= 60 for x in tail if x not in commands)
    t = next(x for x in commands if x.startswith("next: t="))[len("next: t=") :]
    assert Path(t).is_file()  # whole, copyable
    assert '  daxcheck view "$t" --html trace.html' in commands
