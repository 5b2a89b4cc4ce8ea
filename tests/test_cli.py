"""The daxcheck command through a subprocess: exit codes, files, replay, bad input."""

import json
import signal
import subprocess
import sys

import pytest
from helpers import dax, dax_here, reseal

from daxcheck.properties import PROPERTIES

FAST_BAD = "hole-size-unknown"  # violates at depth 3, small space
FAST_GOOD = "iomap-hole-size"


def test_check_violation_writes_itf_and_exits_12(tmp_path):
    r = dax("check", "--design", FAST_BAD, "--out", str(tmp_path))
    assert r.returncode == 12, r.stdout + r.stderr
    f = tmp_path / f"{FAST_BAD}__mapping_matches_extents.itf.json"
    doc = json.loads(f.read_text())
    meta = doc["#meta"]
    assert meta["design"] == FAST_BAD and meta["property"] == "mapping_matches_extents"
    assert meta["bounds"]["depth"] == 5 and meta["tool"].startswith("daxcheck ")
    assert meta["command"].startswith("daxcheck check") and meta["engine"] == "explicit"
    assert [s["#meta"]["action"] for s in doc["states"][1:]] == ["mmap", "write", "pmd_fault"]
    assert "pmd_fault" in r.stdout and "✗3" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{FAST_BAD}__mapping_matches_extents.itf.json",
        f"{FAST_BAD}__read_returns_last_write.itf.json",
    ]


def test_check_holds_exits_0_and_writes_nothing(tmp_path):
    r = dax("check", "--design", FAST_GOOD, "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_user_file_is_not_overwritten_without_force(tmp_path):
    assert dax("check", "--design", FAST_BAD, "--out", str(tmp_path)).returncode == 12
    f = tmp_path / f"{FAST_BAD}__mapping_matches_extents.itf.json"
    assert dax("check", "--design", FAST_BAD, "--out", str(tmp_path)).returncode == 12  # identical
    f.write_text("my notes, not a trace\n")
    r = dax("check", "--design", FAST_BAD, "--out", str(tmp_path))
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert f.read_text() == "my notes, not a trace\n"
    assert dax("check", "--design", FAST_BAD, "--out", str(tmp_path), "--force").returncode == 12
    assert json.loads(f.read_text())["#meta"]["design"] == FAST_BAD


def test_budget_exhaustion_exits_75():
    r = dax("check", "--design", "cow-srcmap", "--max-states", "50", "--no-write", "--quiet")
    assert r.returncode == 75 and "incomplete" in r.stdout


def test_replay_reproduces_then_not_after_a_design_fix(tmp_path):
    dax(
        "check",
        "--design",
        "reflink-single-owner",
        "--property",
        "no_page_two_mappings",
        "--out",
        str(tmp_path),
    )
    f = tmp_path / "reflink-single-owner__no_page_two_mappings.itf.json"
    r = dax("replay", str(f))
    assert r.returncode == 12 and "reproduces" in r.stdout
    r = dax("replay", str(f), "--design", "reflink-shared-count")  # the same steps, fixed
    assert r.returncode == 0 and "does not reproduce" in r.stdout, r.stdout + r.stderr
    assert "replayed on reflink-shared-count" in r.stdout
    r = dax("replay", str(f), "--design", "reflink-refused")  # the fix refuses a step
    assert r.returncode == 0 and "no longer enabled" in r.stdout
    r = dax("replay", str(f), "--design", "map-sync")  # reflink out of its scope
    assert r.returncode == 0 and "not an action of design map-sync" in r.stdout
    r = dax("replay", str(f), "--design", "nope")
    assert r.returncode == 2 and "unknown design 'nope'" in r.stderr


def _tamper_design(doc):
    doc["#meta"]["design"] = "reflink-shared-count"


def _delete_middle_state(doc):
    del doc["states"][2]
    doc["#meta"]["depth"] -= 1
    for i, rec in enumerate(doc["states"]):
        rec["#meta"]["index"] = i


@pytest.fixture(scope="module")
def reflink_trace(tmp_path_factory) -> str:
    """The text of the trace ``check`` writes for reflink-single-owner's
    no_page_two_mappings violation (made once for the tests that edit a copy)."""
    out = tmp_path_factory.mktemp("reflink-trace")
    r = dax(
        "check",
        "--design",
        "reflink-single-owner",
        "--property",
        "no_page_two_mappings",
        "--out",
        str(out),
    )
    assert r.returncode == 12, r.stdout + r.stderr
    return (out / "reflink-single-owner__no_page_two_mappings.itf.json").read_text()


@pytest.mark.parametrize("edit", [_tamper_design, _delete_middle_state])
def test_a_tampered_trace_is_reported_as_tampered_never_as_fixed(tmp_path, edit, reflink_trace):
    doc = json.loads(reflink_trace)
    edit(doc)
    bad = tmp_path / "edited.itf.json"
    bad.write_text(json.dumps(doc, indent=1))
    for extra in ([], ["--design", "reflink-shared-count"]):
        r = dax("replay", str(bad), *extra)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "tampered: checksum mismatch" in r.stderr and len(r.stderr.splitlines()) == 1
    del doc["#meta"]["integrity"]  # stripped of its checksum: not trusted either
    bad.write_text(json.dumps(doc, indent=1))
    r = dax("replay", str(bad))
    assert r.returncode == 2 and "#meta.integrity is missing" in r.stderr
    r = dax("replay", str(bad), "--design", "reflink-single-owner")  # explicitly asked for
    assert r.returncode in (0, 12) and "no integrity checksum" in r.stdout


@pytest.mark.parametrize(
    "mutate,expect",
    [
        (lambda t: t[: len(t) // 2], "not valid JSON"),
        (lambda t: json.dumps({**json.loads(t), "#meta": {"bounds": {}}}), "#meta.design"),
        (lambda t: t.replace('"reflink-single-owner"', '"no-such-design"'), "unknown design"),
        (lambda t: t.replace('"depth": 7', '"depth": 700'), "#meta.bounds"),
        (lambda t: t.replace('"ext_kind"', '"ext_kindX"'), "vars"),
        (lambda t: t.replace('"action": "fault"', '"action": "teleport"'), "unknown action"),
    ],
)
def test_malformed_traces_exit_2_naming_the_field(tmp_path, mutate, expect, reflink_trace):
    good = reflink_trace
    bad = tmp_path / "bad.itf.json"
    text = mutate(good)
    try:  # a well-formed edit gets a valid checksum, so the
        text = json.dumps(reseal(json.loads(text)))  # check after the checksum is tested
    except (ValueError, KeyError):
        pass
    bad.write_text(text)
    r = dax("replay", str(bad))
    assert r.returncode == 2 and expect in r.stderr and str(bad) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,expect",
    [
        (["check", "--design", "nope"], "valid: reflink-single-owner"),
        (["check", "--property", "nope"], "valid: no_page_two_mappings"),
        (["check", "--design", FAST_GOOD, "--depth", "99"], "depth=99"),
        (["check", "--design", FAST_GOOD, "--phys", "0"], "phys=0"),
        (["check", "--depth", "x"], "not an integer"),
        (["check", "--time-limit", "0"], "not positive"),
        (["replay", "/nonexistent/x.itf.json"], "no such file"),
        (["list", "nothing"], "invalid choice"),
        (["check", "--properties", "/nonexistent.py"], "does not exist"),
        (["check", "--designs", "/nonexistent.py"], "does not exist"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expect):
    r = dax(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_list_commands():
    for what, needle in (
        ("designs", "cow-srcmap"),
        ("properties", "no_stale_data"),
        ("lemmas", "dirty_lines_have_dirty_entry"),
        ("actions", "fdatasync"),
    ):
        r = dax("list", what)
        assert r.returncode == 0 and needle in r.stdout


def test_prove_saves_a_refuted_property_as_itf(tmp_path):
    r = dax(
        "prove",
        "--design",
        "userspace-flush",
        "--property",
        "durable_after_sync",
        "--max-k",
        "5",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 12, r.stdout + r.stderr
    assert "durable_after_sync is violated in userspace-flush at depth 4" in r.stdout
    f = tmp_path / "userspace-flush__durable_after_sync.itf.json"
    meta = json.loads(f.read_text())["#meta"]
    assert meta["engine"] == "z3 k-induction base case" and meta["command"].startswith(
        "daxcheck prove"
    )
    r = dax("replay", str(f))
    assert r.returncode == 12 and "reproduces: durable_after_sync fails after step 4" in r.stdout
    r = dax(
        "prove",
        "--design",
        "userspace-flush",
        "--property",
        "durable_after_sync",
        "--max-k",
        "5",
        "--no-write",
        cwd=tmp_path,
    )
    assert r.returncode == 12 and not (tmp_path / "counterexamples").exists()


def test_user_lemma_file_in_prove(tmp_path):
    f = tmp_path / "mylemmas.py"
    f.write_text('''
from daxcheck.properties import lemma


@lemma
def jsize_is_zero(L, s):
    """Wrong on purpose: fdatasync commits a non-zero size."""
    return s[L.jsize[0]] == 0
''')
    r = dax(
        "prove", "--design", "map-sync", "--property", "durable_after_sync", "--properties", str(f)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "durable_after_sync holds at every depth in map-sync" in r.stdout
    assert "jsize_is_zero (not inductive)" in " ".join(r.stdout.split())
    r = dax(
        "check",
        "--design",
        "map-sync",
        "--property",
        "jsize_is_zero",
        "--properties",
        str(f),
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 12 and "✗" in r.stdout
    trace = tmp_path / "map-sync__jsize_is_zero.itf.json"
    r = dax("replay", str(trace), "--properties", str(f))
    assert r.returncode == 12 and "reproduces: jsize_is_zero fails" in r.stdout


def test_user_property_and_design_files(tmp_path):
    props = tmp_path / "props.py"
    props.write_text('''
from daxcheck.properties import invariant

@invariant
def file_a_stays_small(L, s):
    """File a never grows past one block (a user's invariant)."""
    return s[L.size[0]] <= 1
''')
    designs = tmp_path / "designs.py"
    designs.write_text("""
from daxcheck.spec.designs import DESIGNS, register_design
register_design(DESIGNS["iomap-hole-size"].variant(name="my-hole-size", hole_size="unknown"))
""")
    r = dax(
        "check",
        "--designs",
        str(designs),
        "--properties",
        str(props),
        "--design",
        "my-hole-size",
        "--property",
        "file_a_stays_small",
        "--property",
        "mapping_matches_extents",
        "--out",
        str(tmp_path / "cx"),
    )
    assert r.returncode == 12
    assert (tmp_path / "cx" / "my-hole-size__file_a_stays_small.itf.json").exists()
    assert (tmp_path / "cx" / "my-hole-size__mapping_matches_extents.itf.json").exists()
    r = dax(
        "replay",
        str(tmp_path / "cx" / "my-hole-size__file_a_stays_small.itf.json"),
        "--designs",
        str(designs),
        "--properties",
        str(props),
    )
    assert r.returncode == 12
    # the trace records the user files it needs: replay loads them again without flags
    trace = tmp_path / "cx" / "my-hole-size__file_a_stays_small.itf.json"
    recorded = json.loads(trace.read_text())["#meta"]["user_files"]
    assert [(e["kind"], e["path"]) for e in recorded] == [
        ("designs", "../designs.py"),
        ("properties", "../props.py"),
    ]
    r = dax("replay", str(trace))
    assert r.returncode == 12, r.stdout + r.stderr
    props.write_text(props.read_text().replace("<= 1", "<= 2"))  # changed since
    r = dax("replay", str(trace))
    assert r.returncode == 2 and "#meta.user_files[1]" in r.stderr and "changed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = dax("replay", str(trace), "--properties", str(props))  # as it is now: fixed
    assert r.returncode == 0 and "does not reproduce" in r.stdout
    designs.rename(tmp_path / "moved.py")  # moved
    r = dax("replay", str(trace), "--properties", str(props))
    assert r.returncode == 2 and "no longer exists" in r.stderr and str(designs) in r.stderr


def test_expect_gate(tmp_path):
    r = dax(
        "check", "--design", FAST_BAD, "--design", FAST_GOOD, "--expect", "--no-write", "--quiet"
    )
    assert r.returncode == 0 and "match" in r.stdout
    designs = tmp_path / "d.py"
    designs.write_text("""
from daxcheck.spec.designs import DESIGNS, register_design
register_design(DESIGNS["hole-size-unknown"].variant(name="claims-fixed", expect_violated=frozenset()))
""")
    r = dax(
        "check", "--designs", str(designs), "--design", "claims-fixed", "--expect", "--no-write"
    )
    assert r.returncode == 1 and "unexpected violation of mapping_matches_extents" in r.stdout


def test_replay_on_a_users_pmem_file_works_on_a_copy_unless_forced(tmp_path):
    dax(
        "check",
        "--design",
        "cow-single-iomap",
        "--property",
        "no_stale_data",
        "--out",
        str(tmp_path),
    )
    f = tmp_path / "cow-single-iomap__no_stale_data.itf.json"
    img = tmp_path / "pmem.img"
    img.write_bytes(bytes(1 << 20))
    r = dax("replay", str(f), "--pmem", str(img))
    assert r.returncode == 12 and "stale pmem contents" in r.stdout
    assert img.read_bytes() == bytes(1 << 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f.name, img.name])
    r = dax("replay", str(f), "--pmem", str(img), "--force")
    assert r.returncode == 12 and img.read_bytes() != bytes(1 << 20)
    small = tmp_path / "small.img"
    small.write_bytes(bytes(100))
    r = dax("replay", str(f), "--pmem", str(small))
    assert r.returncode == 2 and "too small" in r.stderr
    r = dax("replay", str(f), "--crash-states", "many")
    assert r.returncode == 2


def test_z3_engine_prove_and_query_through_the_cli(tmp_path):
    r = dax(
        "check", "--engine", "z3", "--design", "userspace-flush", "--out", str(tmp_path), "--quiet"
    )
    assert r.returncode == 12 and "✗4" in r.stdout
    doc = json.loads((tmp_path / "userspace-flush__durable_after_sync.itf.json").read_text())
    assert doc["#meta"]["engine"] == "z3"
    assert (
        dax("replay", str(tmp_path / "userspace-flush__durable_after_sync.itf.json")).returncode
        == 12
    )
    r = dax("prove", "--design", "map-sync", "--property", "refcounts_consistent")
    assert r.returncode == 0 and "holds at every depth" in r.stdout
    r = dax("prove", "--design", "map-sync", "--files", "9")
    assert r.returncode == 2 and "bound files=9 is out of range" in r.stderr
    assert dax("query", "cow-srcmap").returncode == 0
    r = dax("query", "cow-single-iomap")
    assert r.returncode == 12 and "example 1: pos=" in r.stdout
    r = dax("query", "nope")
    assert r.returncode == 2 and "unknown query" in r.stderr


@pytest.mark.thorough
def test_prove_every_property_at_a_larger_scope_through_the_cli():
    """prove with raised bounds (two files, two processes) proves every shipped property of
    map-sync and says so in one line (a minute of Z3)."""
    r = dax("prove", "--design", "map-sync", "--files", "2", "--procs", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    n = sum(p.origin == "shipped" for p in PROPERTIES.values())
    assert (
        f"map-sync (files=2 blocks=1 phys=2 tokens=1 procs=2): {n} of {n} properties proved"
        in r.stdout
    )


def test_oracle_command():
    from daxcheck.checker.oracle.differential import unavailable_reason

    why = unavailable_reason()
    r = dax("oracle", "--runs", "5", "--seed", "2")
    if why:
        assert r.returncode == 75 and why in r.stderr
    else:
        assert r.returncode == 0 and "5 matched" in r.stdout and "0 mismatches" in r.stdout


@pytest.mark.parametrize(
    "args,hint",
    [
        (("chek",), "did you mean 'check'?"),
        (("list", "designz"), "did you mean 'designs'?"),
        (("check", "--propert", "x"), "did you mean '--property' or '--properties'?"),
        (("check", "--design", "cow-srcmapp"), "did you mean 'cow-srcmap'?"),
        (("gate", "--design", "cow-srcmapp"), "did you mean 'cow-srcmap'?"),
        (("check", "--property", "no_stale_dat"), "did you mean 'no_stale_data'"),
        (("query", "cow-srcmp"), "did you mean 'cow-srcmap'?"),
    ],
)
def test_typos_get_a_did_you_mean(args, hint):
    """One line, exit 2, the closest name; an abbreviated option is not taken for another."""
    code, out, err = dax_here(*args)
    assert code == 2 and hint in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "body,hint",
    [
        ('DESIGNS["map-sync"].variant(name="x", hole_sise="unknown")', "did you mean 'hole_size'?"),
        ('DESIGNS["map-sync"].variant(name="x", families=("writ",))', "did you mean 'write'?"),
    ],
)
def test_design_file_typos_get_a_did_you_mean(tmp_path, body, hint):
    f = tmp_path / "d.py"
    f.write_text(
        f"from daxcheck.spec.designs import DESIGNS, register_design\nregister_design({body})\n"
    )
    code, out, err = dax_here("list", "designs", "--designs", str(f))
    assert code == 2 and hint in err and len(err.strip().splitlines()) == 1, err


def test_a_mistyped_hook_override_is_named(tmp_path):
    f = tmp_path / "d.py"
    f.write_text(
        "from dataclasses import dataclass\n"
        "from daxcheck.spec.designs import DESIGNS, Design, register_design\n"
        "@dataclass(frozen=True)\n"
        "class Mine(Design):\n"
        "    def iomap_f_dirt(self, L, s, f, x, new):\n"
        "        return new\n"
        "register_design(Mine(**{**DESIGNS['map-sync'].__dict__, 'name': 'mine'}))\n"
    )
    code, out, err = dax_here("list", "designs", "--designs", str(f))
    assert code == 0 and "Mine.iomap_f_dirt overrides no hook (did you mean 'iomap_f_dirty'" in err


def test_ctrl_c_ends_the_search_and_keeps_what_it_found(tmp_path):
    """A real SIGINT while a design is explored: the search ends, the table, the summary, the
    counterexamples found so far and the JSON are written; the run is incomplete, exit 130."""
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daxcheck",
            "check",
            "--design",
            "cow-single-iomap",
            "--design",
            "cow-srcmap",
            "--depth",
            "12",
            "--out",
            "cx",
            "--json",
            "r.json",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in p.stdout:  # a progress line: the search is running
            if line.startswith("Progress("):
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == "daxcheck: interrupted" and "Traceback" not in err
    assert "interrupted (Ctrl-C)" in out and "1 of 2 designs checked" in out
    assert "summary:" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["exit_code"] == 130
    verdicts = {x["property"]: x["verdict"] for x in doc["results"]}
    assert "incomplete" in verdicts.values() and verdicts["no_stale_data"] == "violated"
    assert (tmp_path / "cx" / "cow-single-iomap__no_stale_data.itf.json").is_file()
