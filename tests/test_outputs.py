"""Machine-readable results of check, prove and gate: JSON (schema-checked), JUnit XML (read
back with junitparser) and a Markdown summary; a user's file is never overwritten."""
import json
import shutil

import jsonschema
from junitparser import Error, Failure, JUnitXml

from daxcheck.checker.gate import DEFAULT_MANIFEST, SHIPPED_DIR, load_manifest
from daxcheck.checker.outputs import RESULTS_SCHEMA
from helpers import dax
from daxcheck.properties import PROPERTIES

CEX = "hole-size-unknown__mapping_matches_extents.itf.json"
SUMMARY = ("mapping_matches_extents violated at depth 3 (at a[1]): mmap(proc=P0, file=a, "
           "sync=false) -> write(file=a, idx=1, lo=0, hi=1, token=t1) -> pmd_fault(proc=P0, file=a)")




def outs(tmp_path):
    return ["--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
            "--summary", str(tmp_path / "r.md")]


def cases(path):
    return {(c.classname, c.name): c for suite in JUnitXml.fromfile(str(path)) for c in suite}


def test_check_json_junit_markdown(tmp_path):
    r = dax("check", "--design", "hole-size-unknown", "--design", "iomap-hole-size", "--out",
            str(tmp_path / "cx"), "--quiet", *outs(tmp_path))
    assert r.returncode == 12, r.stdout + r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    assert doc["exit_code"] == 12 and doc["command"].startswith("daxcheck check")
    rows = {(x["design"], x["property"]): x for x in doc["results"]}
    assert len(rows) == 2 * len(PROPERTIES) == len(doc["results"])
    bad = rows[("hole-size-unknown", "mapping_matches_extents")]
    assert (bad["verdict"], bad["depth"], bad["states"], bad["summary"]) == (
        "violated", 3, 1913, SUMMARY)
    assert bad["trace"] == str(tmp_path / "cx" / CEX) and (tmp_path / "cx" / CEX).is_file()
    ok = rows[("iomap-hole-size", "no_stale_data")]
    assert (ok["verdict"], ok["depth"], ok["states"], ok["trace"]) == ("holds", 5, 1871, None)
    assert all(x["seconds"] >= 0 for x in doc["results"])

    tc = cases(tmp_path / "r.xml")
    assert len(tc) == 2 * len(PROPERTIES)
    failed = {k: c.result[0] for k, c in tc.items() if c.result}
    assert list(failed) == [("hole-size-unknown", "mapping_matches_extents"),
                            ("hole-size-unknown", "read_returns_last_write")]
    f = failed[("hole-size-unknown", "mapping_matches_extents")]
    assert isinstance(f, Failure) and f.message == SUMMARY
    assert JUnitXml.fromfile(str(tmp_path / "r.xml")).failures == 2

    md = (tmp_path / "r.md").read_text()
    assert "| design | no_page_two_mappings |" in md
    assert "| hole-size-unknown | holds | holds | holds | holds | **violated** (d=3) |" in md
    assert SUMMARY in md


def test_incomplete_is_a_junit_error(tmp_path):
    r = dax("check", "--design", "cow-srcmap", "--property", "no_stale_data", "--max-states", "50",
            "--no-write", "--quiet", "--junit", str(tmp_path / "r.xml"))
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
        "map-sync", "refcounts_consistent", "proved", "z3 k-induction")
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
    assert ("hole-size-unknown", "mapping_matches_extents") in tc    # expected: passes
    assert "Differences from the manifest" in (tmp_path / "r.md").read_text()


def test_a_users_file_is_not_overwritten_without_force(tmp_path):
    mine = tmp_path / "r.json"
    mine.write_text("my notes\n")
    args = ["check", "--design", "iomap-hole-size", "--depth", "1", "--no-write", "--quiet"]
    r = dax(*args, "--json", str(mine))
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert mine.read_text() == "my notes\n"
    assert dax(*args, "--json", str(mine), "--force").returncode == 0
    assert dax(*args, "--json", str(mine)).returncode == 0          # daxcheck's own: replaced
    jsonschema.validate(json.loads(mine.read_text()), RESULTS_SCHEMA)
