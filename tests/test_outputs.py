"""Machine-readable results of check, prove and gate: JSON (schema-checked), JUnit XML (read
back with junitparser) and a Markdown summary; a user's file is never overwritten."""

import json
import shutil

import jsonschema
from helpers import dax
from junitparser import Error, Failure, JUnitXml

from daxcheck.checker.gate import DEFAULT_MANIFEST, SHIPPED_DIR, load_manifest
from daxcheck.checker.outputs import RESULTS_SCHEMA
from daxcheck.properties import PROPERTIES

CEX = "hole-size-unknown__mapping_matches_extents.itf.json"
SUMMARY = (
    "mapping_matches_extents violated at depth 3 (at a[1]): mmap(proc=P0, file=a, "
    "sync=false) -> write(file=a, idx=1, lo=0, hi=1, token=t1) -> pmd_fault(proc=P0, file=a)"
)


def outs(tmp_path):
    return [
        "--json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "r.xml"),
        "--summary",
        str(tmp_path / "r.md"),
    ]


def cases(path):
    return {(c.classname, c.name): c for suite in JUnitXml.fromfile(str(path)) for c in suite}


def case_properties(case) -> dict:
    """A testcase's ``<properties>`` as ``{name: value}`` (junitparser reads them for suites
    only)."""
    return {p.get("name"): p.get("value") for p in case._elem.iter("property")}


def test_check_json_junit_markdown(tmp_path):
    r = dax(
        "check",
        "--design",
        "hole-size-unknown",
        "--design",
        "iomap-hole-size",
        "--out",
        str(tmp_path / "cx"),
        "--quiet",
        *outs(tmp_path),
    )
    assert r.returncode == 12, r.stdout + r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    assert doc["exit_code"] == 12 and doc["command"].startswith("daxcheck check")
    rows = {(x["design"], x["property"]): x for x in doc["results"]}
    assert len(rows) == 2 * len(PROPERTIES) == len(doc["results"])
    bad = rows[("hole-size-unknown", "mapping_matches_extents")]
    assert (bad["verdict"], bad["depth"], bad["states"], bad["summary"]) == (
        "violated",
        3,
        1913,
        SUMMARY,
    )
    assert bad["trace"] == str(tmp_path / "cx" / CEX) and (tmp_path / "cx" / CEX).is_file()
    ok = rows[("iomap-hole-size", "no_stale_data")]
    assert (ok["verdict"], ok["depth"], ok["states"], ok["trace"]) == ("holds", 5, 1871, None)
    assert all(x["seconds"] >= 0 for x in doc["results"])

    tc = cases(tmp_path / "r.xml")
    assert len(tc) == 2 * len(PROPERTIES)
    failed = {k: c.result[0] for k, c in tc.items() if c.result}
    assert list(failed) == [
        ("hole-size-unknown", "mapping_matches_extents"),
        ("hole-size-unknown", "read_returns_last_write"),
    ]
    f = failed[("hole-size-unknown", "mapping_matches_extents")]
    assert isinstance(f, Failure) and f.message == SUMMARY
    assert JUnitXml.fromfile(str(tmp_path / "r.xml")).failures == 2

    md = (tmp_path / "r.md").read_text()
    assert "| design | no_page_two_mappings |" in md
    assert "| hole-size-unknown | holds | holds | holds | holds | **violated** (d=3) |" in md
    assert SUMMARY in md


def test_incomplete_is_a_junit_error(tmp_path):
    r = dax(
        "check",
        "--design",
        "cow-srcmap",
        "--property",
        "no_stale_data",
        "--max-states",
        "50",
        "--no-write",
        "--quiet",
        "--junit",
        str(tmp_path / "r.xml"),
    )
    assert r.returncode == 75
    (c,) = cases(tmp_path / "r.xml").values()
    assert isinstance(c.result[0], Error) and "incomplete" in c.result[0].message


def test_prove_outputs(tmp_path):
    r = dax("prove", "--design", "map-sync", "--property", "refcounts_consistent", *outs(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    (row,) = doc["results"]
    assert (row["design"], row["property"], row["verdict"], row["engine"]) == (
        "map-sync",
        "refcounts_consistent",
        "proved",
        "z3 k-induction",
    )
    (c,) = cases(tmp_path / "r.xml").values()
    assert not c.result
    assert "| map-sync | proved |" in (tmp_path / "r.md").read_text()


def test_gate_outputs_fail_exactly_where_the_gate_differs(tmp_path):
    doc = load_manifest(DEFAULT_MANIFEST)
    doc["designs"] = {n: doc["designs"][n] for n in ("hole-size-unknown", "iomap-hole-size")}
    doc["designs"]["iomap-hole-size"]["states"] = 1870
    m = tmp_path / "m" / "manifest.json"
    m.parent.mkdir()
    m.write_text(json.dumps(doc))
    for f in SHIPPED_DIR.glob("hole-size-unknown__*.itf.json"):
        shutil.copy(f, m.parent / f.name)
    r = dax("gate", str(m), "--quiet", *outs(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(out, RESULTS_SCHEMA)
    assert [(d["design"], d["what"]) for d in out["differences"]] == [("iomap-hole-size", "states")]
    tc = cases(tmp_path / "r.xml")
    assert {k for k, c in tc.items() if c.result} == {("iomap-hole-size", "(design)")}
    ok = tc[("hole-size-unknown", "mapping_matches_extents")]  # pinned: passes
    assert (
        not ok.result
        and case_properties(ok) == {"trace": str(m.parent / CEX)}
        and CEX in ok.system_out
    )
    assert next(
        x["trace"]
        for x in out["results"]
        if x["design"] == "hole-size-unknown" and x["property"] == "mapping_matches_extents"
    ) == str(m.parent / CEX)
    assert "Differences from the manifest" in (tmp_path / "r.md").read_text()


def test_a_users_file_is_not_overwritten_without_force(tmp_path):
    mine = tmp_path / "r.json"
    mine.write_text("my notes\n")
    args = ["check", "--design", "iomap-hole-size", "--depth", "1", "--no-write", "--quiet"]
    r = dax(*args, "--json", str(mine))
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert mine.read_text() == "my notes\n"
    assert dax(*args, "--json", str(mine), "--force").returncode == 0
    assert dax(*args, "--json", str(mine)).returncode == 0  # daxcheck's own: replaced
    jsonschema.validate(json.loads(mine.read_text()), RESULTS_SCHEMA)


def test_expect_junit_json_and_exit_code_agree(tmp_path):
    """check --expect: an expected violation is a passing testcase carrying its trace, an
    unexpected one and an expected one not found are failures; JSON says the same."""
    r = dax(
        "check",
        "--design",
        "hole-size-unknown",
        "--design",
        "iomap-hole-size",
        "--expect",
        "--out",
        str(tmp_path / "cx"),
        "--quiet",
        *outs(tmp_path),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    xml = JUnitXml.fromfile(str(tmp_path / "r.xml"))
    assert xml.failures == 0 and xml.errors == 0
    c = cases(tmp_path / "r.xml")[("hole-size-unknown", "mapping_matches_extents")]
    assert not c.result and str(tmp_path / "cx" / CEX) in c.system_out
    assert case_properties(c) == {"trace": str(tmp_path / "cx" / CEX)}
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    assert doc["exit_code"] == 0 and doc["differences"] == []
    assert not any(x["difference"] for x in doc["results"])

    designs = tmp_path / "d.py"
    designs.write_text(
        "from daxcheck.spec.designs import DESIGNS, register_design\n"
        "register_design(DESIGNS['hole-size-unknown'].variant(name='claims-fixed', "
        "expect_violated=frozenset()))\n"
        "register_design(DESIGNS['iomap-hole-size'].variant(name='claims-broken', "
        "expect_violated=frozenset({'no_stale_data'})))\n"
    )
    r = dax(
        "check",
        "--designs",
        str(designs),
        "--design",
        "claims-fixed",
        "--design",
        "claims-broken",
        "--design",
        "hole-size-unknown",
        "--expect",
        "--no-write",
        "--quiet",
        "--force",
        *outs(tmp_path),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    failed = {
        k
        for k, c in cases(tmp_path / "r.xml").items()
        if any(isinstance(x, Failure) for x in c.result)
    }
    assert failed == {
        ("claims-fixed", "mapping_matches_extents"),
        ("claims-fixed", "read_returns_last_write"),
        ("claims-broken", "no_stale_data"),
    }
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    assert doc["exit_code"] == 1
    assert {(x["design"], x["property"]) for x in doc["results"] if x["difference"]} == failed
    assert {d["design"] for d in doc["differences"]} == {"claims-fixed", "claims-broken"}
    row = next(
        x
        for x in doc["results"]
        if x["design"] == "claims-broken" and x["property"] == "no_stale_data"
    )
    assert row["expected"] is True and "expected violation not found" in row["difference"]


def test_gate_junit_fails_unexpected_and_missing_violations(tmp_path):
    """The gate, with one design that lost its expected violations and one that gained an
    unexpected one: exactly those testcases fail, JSON and the exit code agree."""
    doc = load_manifest(DEFAULT_MANIFEST)
    doc["designs"] = {n: doc["designs"][n] for n in ("hole-size-unknown", "iomap-hole-size")}
    m = tmp_path / "m" / "manifest.json"
    m.parent.mkdir()
    m.write_text(json.dumps(doc))
    for f in SHIPPED_DIR.glob("hole-size-unknown__*.itf.json"):
        shutil.copy(f, m.parent / f.name)
    swap = tmp_path / "swap.py"
    swap.write_text(
        "from daxcheck.spec.designs import DESIGNS\n"
        "fixed, broken = DESIGNS['iomap-hole-size'], DESIGNS['hole-size-unknown']\n"
        "DESIGNS['hole-size-unknown'] = fixed.variant(name='hole-size-unknown', "
        "expect_violated=broken.expect_violated)\n"
        "DESIGNS['iomap-hole-size'] = broken.variant(name='iomap-hole-size', "
        "expect_violated=frozenset())\n"
        "from daxcheck.spec.designs import register_design\n"
        "register_design(fixed.variant(name='unused'))\n"
    )
    r = dax(
        "gate",
        str(m),
        "--designs",
        str(swap),
        "--quiet",
        "--out",
        str(tmp_path / "gf"),
        *outs(tmp_path),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads((tmp_path / "r.json").read_text())
    assert out["exit_code"] == 1
    failed = {
        k
        for k, c in cases(tmp_path / "r.xml").items()
        if any(isinstance(x, Failure) for x in c.result)
    }
    want = {
        (d, p)
        for d in ("hole-size-unknown", "iomap-hole-size")
        for p in ("mapping_matches_extents", "read_returns_last_write", "(design)")
    }
    assert failed == want
    assert {(x["design"], x["property"]) for x in out["results"] if x["difference"]} == want
    traces = {(x["design"], x["property"]): x["trace"] for x in out["results"]}
    # the unexpected violation found now, and the pinned trace that no longer reproduces
    assert traces[("iomap-hole-size", "mapping_matches_extents")] == str(
        tmp_path / "gf" / "iomap-hole-size__mapping_matches_extents.itf.json"
    )
    assert traces[("hole-size-unknown", "mapping_matches_extents")] == str(tmp_path / "gf" / CEX)
    assert (tmp_path / "gf" / CEX).read_text() == (SHIPPED_DIR / CEX).read_text()
