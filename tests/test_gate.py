"""The gate is exact: every kind of difference from a manifest fails it, and only a
difference does.  Planted differences run on the two small hole-size designs so each test
explores a few thousand states; the full shipped gate runs once (tests/test_designs.py)."""

import json
import shlex
import shutil
from pathlib import Path

import pytest
from helpers import dax

from daxcheck.checker.gate import (
    DEFAULT_MANIFEST,
    SHIPPED_DIR,
    ManifestError,
    load_manifest,
    run_gate,
)
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS

SMALL = ("hole-size-unknown", "iomap-hole-size")
CEX = "hole-size-unknown__mapping_matches_extents.itf.json"


@pytest.fixture
def small(tmp_path):
    """A manifest of the two hole-size designs, with its counterexample, in a tmp folder."""
    doc = load_manifest(DEFAULT_MANIFEST)
    doc["designs"] = {n: doc["designs"][n] for n in SMALL}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc, indent=1))
    for f in SHIPPED_DIR.glob(f"{SMALL[0]}__*.itf.json"):
        shutil.copy(f, tmp_path / f.name)
    return path


def gate(path, designs=DESIGNS):
    return [(d.design, d.prop, d.what) for d in run_gate(path, designs, PROPERTIES).differences]


def edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def test_unchanged_manifest_passes(small):
    assert gate(small) == []


def test_state_count_off_by_one_fails(small):
    edit(small, lambda d: d["designs"]["iomap-hole-size"].update(states=1870))
    assert gate(small) == [("iomap-hole-size", None, "states")]


def test_shorter_or_longer_counterexample_fails(small):
    for depth in (2, 4):
        edit(
            small,
            lambda d: d["designs"]["hole-size-unknown"]["verdicts"][
                "mapping_matches_extents"
            ].update(depth=depth),  # noqa: B023 (called at once by edit)
        )
        assert gate(small) == [
            ("hole-size-unknown", "mapping_matches_extents", "shortest counterexample depth")
        ]


def test_new_violation_in_a_broken_design_fails(small, monkeypatch):
    """A planted spec bug (unwritten conversion without zeroing the block) adds a violation
    to a design already expected to be broken: the old --expect ignored that."""
    from daxcheck.spec.kernel import xfs_bmap

    monkeypatch.setattr(xfs_bmap, "zero_block", lambda L, d, b: None)
    diffs = gate(small)
    assert ("hole-size-unknown", None, "expect_violated") in diffs
    assert ("hole-size-unknown", "no_stale_data", "verdict") in diffs


def test_one_line_behaviour_change_fails(small, monkeypatch):
    monkeypatch.setitem(
        DESIGNS, "iomap-hole-size", DESIGNS["iomap-hole-size"].variant(hole_size="unknown")
    )
    diffs = gate(small)
    assert ("iomap-hole-size", "mapping_matches_extents", "verdict") in diffs
    assert ("iomap-hole-size", None, "states") in diffs


def test_counterexample_problems_fail(small):
    f = small.parent / CEX
    doc = json.loads(f.read_text())
    del doc["states"][2]  # a middle state deleted
    f.write_text(json.dumps(doc))
    assert gate(small) == [("hole-size-unknown", "mapping_matches_extents", "counterexample")]
    f.unlink()  # the witness missing
    assert gate(small) == [("hole-size-unknown", "mapping_matches_extents", "counterexample")]
    shutil.copy(SHIPPED_DIR / CEX, f)
    (small.parent / "stray.itf.json").write_text("{}")  # a file no entry names
    assert gate(small) == [("*", None, "counterexample")]


def test_listed_design_or_property_gone_fails(small):
    edit(small, lambda d: d["designs"].update({"no-such-design": d["designs"]["iomap-hole-size"]}))
    edit(small, lambda d: d["properties"].append("no_such_property"))
    diffs = gate(small)
    assert ("no-such-design", None, "design") in diffs and (
        "*",
        "no_such_property",
        "property",
    ) in diffs


def test_shipped_manifest_must_list_every_shipped_design(small):
    shipped = {"designs": list(DESIGNS), "properties": list(PROPERTIES)}
    diffs = run_gate(small, DESIGNS, PROPERTIES, require_all=shipped).differences
    missing = {d.design for d in diffs if d.what == "design"}
    assert missing == set(DESIGNS) - set(SMALL)


@pytest.mark.parametrize(
    "text,field",
    [
        ("{", "not valid JSON"),
        (
            '{"format": "daxcheck-manifest", "version": 1, "properties": [], "designs": {"x": {}}}',
            "designs.x",
        ),
        (
            '{"format": "daxcheck-manifest", "version": 2, "properties": [], "designs": {}}',
            "version",
        ),
    ],
)
def test_malformed_manifest_is_named(tmp_path, text, field):
    p = tmp_path / "m.json"
    p.write_text(text)
    with pytest.raises(ManifestError, match=field):
        load_manifest(p)


def test_cli_gate_exit_codes_and_update(tmp_path, small):
    assert dax("gate", str(small), "--quiet").returncode == 0
    mutate = tmp_path / "mutate.py"
    mutate.write_text(
        "from daxcheck.spec.designs import DESIGNS\n"
        "DESIGNS['iomap-hole-size'] = DESIGNS['iomap-hole-size'].variant("
        "hole_size='unknown', expect_violated=frozenset({"
        "'mapping_matches_extents', 'read_returns_last_write'}))\n"
        "from daxcheck.spec.designs import register_design\n"
        "register_design(DESIGNS['map-sync'].variant(name='mine'))\n"
    )
    r = dax("gate", str(small), "--designs", str(mutate), "--quiet", cwd=tmp_path)
    assert r.returncode == 1 and "iomap-hole-size" in r.stdout and "violated@3" in r.stdout
    assert (
        tmp_path / "gate-failures" / "iomap-hole-size__mapping_matches_extents.itf.json"
    ).is_file()  # the counterexample behind the failure, in the folder named
    # --update pins the change (and writes the new witness); the gate then passes again
    r = dax("gate", str(small), "--designs", str(mutate), "--update")
    assert r.returncode == 0 and "what moved" in r.stdout
    assert (small.parent / "iomap-hole-size__mapping_matches_extents.itf.json").is_file()
    assert dax("gate", str(small), "--designs", str(mutate), "--quiet").returncode == 0
    # a change the design does not declare is never blessed by --update
    mutate.write_text(
        mutate.read_text().replace(
            "expect_violated=frozenset({'mapping_matches_extents', 'read_returns_last_write'})", ""
        )
    )
    r = dax("gate", str(small), "--designs", str(mutate), "--update")
    assert r.returncode == 1 and "expect_violated" in r.stdout
    # bad input: one line, exit 2
    (tmp_path / "bad.json").write_text("[1]")
    r = dax("gate", str(tmp_path / "bad.json"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "bad.json" in r.stderr
    r = dax("gate", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "--update" in r.stderr
    r = dax("gate", str(tmp_path / "none.json"), "--designs", str(mutate))  # the exact command
    assert (
        r.returncode == 2
        and (f"create one with daxcheck gate --update {tmp_path / 'none.json'} --designs {mutate})")
        in r.stderr
    )


def test_cli_expect_is_exact(tmp_path):
    """The README's cow-no-zero example expects one violation but has four: --expect exits 1
    and names the three unexpected ones."""
    f = tmp_path / "my_designs.py"
    f.write_text(
        "from daxcheck.spec.designs import DESIGNS, register_design\n"
        'register_design(DESIGNS["cow-srcmap"].variant(name="cow-no-zero", '
        'cow="single-iomap",\n    expect_violated=frozenset({"no_stale_data"})))\n'
    )
    r = dax(
        "check", "--designs", str(f), "--design", "cow-no-zero", "--expect", "--no-write", "--quiet"
    )
    assert r.returncode == 1
    assert (
        "unexpected violation of durable_after_sync, no_stale_data_after_crash, "
        "read_returns_last_write"
    ) in " ".join(r.stdout.split())
    r = dax("check", "--design", "hole-size-unknown", "--expect", "--no-write", "--quiet")
    assert r.returncode == 0


TUTORIAL = Path(__file__).resolve().parent / "user_files" / "dsync_write.py"
UF = ("--designs", "dsync_write.py", "--properties", "dsync_write.py")
BREAK_FIXED = (
    "register_design(FIXED)\n",
    "register_design(DirtyOnlyIfNew(**{f.name: getattr(FIXED, f.name) for f in fields(Design)}))\n",
)


def _project(tmp_path):
    """A user project (the tutorial's file) gated in its folder, then moved elsewhere: the
    original folder is gone, as on a CI runner's fresh clone."""
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(TUTORIAL, first / "dsync_write.py")
    r = dax("gate", "m/manifest.json", *UF, "--update", cwd=first)
    assert r.returncode == 0, r.stdout + r.stderr
    proj = tmp_path / "elsewhere" / "proj"
    shutil.copytree(first, proj)
    shutil.rmtree(first)
    return proj


def test_user_project_copied_to_another_path_passes_its_gate(tmp_path):
    proj = _project(tmp_path)
    doc = json.loads((proj / "m" / "manifest.json").read_text())
    assert [(e["kind"], e["path"]) for e in doc["user_files"]] == [("designs", "../dsync_write.py")]
    cex = proj / "m" / "dsync-dirty-if-new__dsync_writes_survive_crash.itf.json"
    assert json.loads(cex.read_text())["#meta"]["user_files"][0]["path"] == "../dsync_write.py"
    for flags in (UF, ()):  # the files given, or those the manifest records
        r = dax("gate", "m/manifest.json", *flags, cwd=proj)
        assert r.returncode == 0 and "gate passed" in r.stdout, r.stdout + r.stderr
    for flags in (UF[:2], ()):  # --designs given takes precedence over the trace's
        r = dax("replay", str(cex), *flags, cwd=proj)
        assert r.returncode == 12 and "reproduces" in r.stdout, r.stdout + r.stderr
    # a changed file is reported as changed (and gated as it is now), not as missing
    f = proj / "dsync_write.py"
    f.write_text(f.read_text() + "# a comment\n")
    r = dax("gate", "m/manifest.json", cwd=proj)
    assert r.returncode == 0 and "changed since" in r.stdout, r.stdout + r.stderr
    r = dax("replay", str(cex), cwd=proj)
    assert r.returncode == 2 and "changed since" in r.stderr
    f.unlink()
    r = dax("gate", "m/manifest.json", cwd=proj)
    assert r.returncode == 2 and "no longer exists" in r.stderr and "user_files[0]" in r.stderr


def test_failed_user_gate_writes_its_trace_and_the_printed_hint_works(tmp_path):
    proj = _project(tmp_path)
    f = proj / "dsync_write.py"
    good = f.read_text()
    f.write_text(good.replace(*BREAK_FIXED))  # the fixed design broken, undeclared
    r = dax("gate", "m/manifest.json", *UF, "--json", "r.json", cwd=proj)
    assert r.returncode == 1, r.stdout + r.stderr
    trace = proj / "gate-failures" / "dsync-dirty-if-pinned__dsync_writes_survive_crash.itf.json"
    assert trace.is_file() and "gate-failures/" in r.stdout
    rows = json.loads((proj / "r.json").read_text())["results"]
    row = next(
        x
        for x in rows
        if x["design"] == "dsync-dirty-if-pinned" and x["property"] == "dsync_writes_survive_crash"
    )
    assert row["trace"] == "gate-failures/" + trace.name and row["difference"]
    hint = next(line for line in r.stdout.splitlines() if "after a deliberate change" in line)
    cmd = shlex.split(hint.split(": ", 1)[1])
    assert cmd[:3] == ["daxcheck", "gate", "--update"] and "--designs" in cmd
    # run as printed: an undeclared violation is never blessed
    r = dax(*cmd[1:], cwd=proj)
    assert r.returncode == 1 and "expect_violated" in r.stdout
    # a deliberate change (declared) is pinned by the same command; the gate passes again
    f.write_text(
        good.replace(*BREAK_FIXED).replace(
            'name="dsync-dirty-if-pinned", seed="user"',
            'name="dsync-dirty-if-pinned", seed="user", '
            'expect_violated=frozenset({"dsync_writes_survive_crash"})',
        )
    )
    r = dax(*cmd[1:], cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((proj / "m" / "manifest.json").read_text())
    assert "dsync_writes_survive_crash" in doc["properties"]
    assert (
        doc["designs"]["dsync-dirty-if-pinned"]["verdicts"]["dsync_writes_survive_crash"]["verdict"]
        == "violated"
    )
    assert dax("gate", "m/manifest.json", cwd=proj).returncode == 0


def test_update_refuses_an_entry_not_registered_in_this_run(tmp_path):
    proj = _project(tmp_path)
    other = proj / "other.py"
    other.write_text(
        "from daxcheck.spec.designs import DESIGNS, register_design\n"
        "register_design(DESIGNS['map-sync'].variant(name='mine'))\n"
    )
    before = (proj / "m" / "manifest.json").read_text()
    r = dax("gate", "m/manifest.json", "--designs", "other.py", "--update", cwd=proj)
    assert r.returncode == 2 and "not registered in this run" in r.stderr
    assert "dsync-dirty-if-" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (proj / "m" / "manifest.json").read_text() == before
