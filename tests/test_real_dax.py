"""The real-DAX oracle: the spec against a Debian kernel's fsdax path in QEMU.

The first half needs nothing (op checks, comparisons on given answers, the mapping of the
shipped counterexamples to syscalls, bad input).  The second boots the kernels that
``daxcheck kernel setup`` prepared (``.ci/run`` does it); without root, the Debian packages
or the fixture they skip with the one-line reason :func:`fixture.unavailable_reason` gives.
One guest per kernel is booted for the module and always killed.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from daxcheck.checker import cli
from daxcheck.checker.oracle.differential import Mismatch, OracleError
from daxcheck.checker.oracle.qemu import dax_oracle as O
from daxcheck.checker.oracle.qemu import fixture, traces
from daxcheck.checker.oracle.qemu.guest import DaxGuest, GuestError
from daxcheck.checker.trace import read_itf
from daxcheck.spec.kernels import SETTINGS, kernel_design
from daxcheck.spec.model import DaxModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "counterexamples", "*.itf.json")))


def reason(kernel):
    return fixture.unavailable_reason(kernel)


# ----------------------------------------------------------------------------- no QEMU
def test_unknown_kernel_is_one_line():
    with pytest.raises(fixture.FixtureError, match="unknown kernel '5.4': choose one of 6.12, 6.1"):
        fixture.check_kernel("5.4")


def test_not_root_is_reported(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in fixture.host_reason()
    assert cli.main(["kernel", "setup"]) == 75


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setattr(fixture.shutil, "which", lambda tool: None if tool == "ndctl" else "/x")
    assert fixture.missing_tools() == ["ndctl"]


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["oracle", "--target", "qemu-dax", "--kernel", "5.4"], "invalid choice: '5.4'"),
        (["oracle", "--target", "qemu-dax", "--setting", "foo=bar"], "unknown setting 'foo'"),
        (
            ["oracle", "--target", "qemu-dax", "--setting", "sync_fault=maybe"],
            "'maybe' is not one of",
        ),
        (["oracle", "--target", "qemu-dax", "--setting", "sync_fault"], "is not KEY=VALUE"),
        (["oracle", "--target", "qemu-dax", "--crash-rate", "2"], "not a number in 0..1"),
        (
            ["oracle", "--setting", "sync_fault=never"],
            "--setting applies to --target qemu-dax only",
        ),
    ],
)
def test_bad_oracle_input_is_one_line_exit_2(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(cli.main(argv))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_kernel_designs_differ_where_the_kernels_do():
    a, b = kernel_design("6.12"), kernel_design("6.1")
    diff = {k for k in a.settings() if a.settings()[k] != b.settings()[k]}
    assert diff == {k for k in SETTINGS["6.12"] if SETTINGS["6.12"][k][0] != SETTINGS["6.1"][k][0]}
    assert diff == {"read_shared", "reflink_dax", "dedupe_compare"}
    assert all(src for s in SETTINGS.values() for _v, src in s.values())


def test_ops_outside_the_bounds_are_refused():
    with pytest.raises(OracleError, match="segment 6 exceeds 3 blocks"):
        O.MStore(0, 6, 1).check(3, 2)
    with pytest.raises(OracleError, match="kind 'huge'"):
        O.Map(0, "huge").check(2, 2)
    with pytest.raises(OracleError, match="how 'reboot'"):
        O.Crash("reboot").check(2, 2)


def _ctx(kernel="6.12", files=2, blocks=2):
    return O.GuestCtx(DaxModel(kernel_design(kernel, files, blocks)), None, blocks)


def _state(size, ext, segs, dax=1):
    return {"size": str(size), "dax": str(dax), "ext": ext, "segs": segs}


def test_compare_reads_the_guest_answers():
    c = _ctx()
    O.PWrite(0, 0, 2, 1).spec(c)
    ok = [_state(4096, "0:53248:4096:1", "41,41"), _state(0, "-", "")]
    O.compare(c, ok)
    for states, msg in [
        ([_state(4096, "0:53248:4096:1", "41,42"), ok[1]], "a: kernel reads [t1 t2], spec [t1 t1]"),
        ([_state(8192, "0:53248:4096:1", "41,41,00,00"), ok[1]], "kernel i_size 8192 B"),
        ([_state(4096, "0:53248:4096:801", "41,41"), ok[1]], "kernel unwritten, spec written"),
        ([_state(4096, "0:53248:4096:2001", "41,41"), ok[1]], "FIEMAP_EXTENT_SHARED=True"),
        ([_state(4096, "0:53248:4096:1", "41,41", dax=0), ok[1]], "STATX_ATTR_DAX=0"),
    ]:
        with pytest.raises(Mismatch, match=msg.replace("[", r"\[").replace("]", r"\]")):
            O.compare(c, states)


def test_crash_members_cover_every_subset_of_dirty_lines():
    c = _ctx()
    O.PWrite(0, 0, 4, 1).spec(c)
    O.Map(0, "shared").spec(c)
    O.MStore(0, 0, 2).spec(c)
    O.MStore(0, 1, 3).spec(c)
    first = list(O.crash_members(c))
    every = list(O.crash_members(c, every_subset=True))
    assert [label for label, _ in first] == ["2 of 2 dirty cache lines evicted"]
    assert len(every) == 4 and every[0] == first[0]


def test_shrink_drops_ops_that_do_not_matter():
    calls = []

    def run(ops):
        calls.append(ops)
        bad = "x" in ops and "y" in ops
        return O.Outcome("mismatch" if bad else "match", len(ops), f"{len(ops)} ops")

    ops, msg = O.shrink(run, ["a", "x", "b", "y", "c"], "5 ops")
    assert ops == ["x", "y"] and msg == "2 ops"


def test_shipped_counterexamples_map_to_syscalls_or_say_why():
    mapped, why = [], {}
    for path in SHIPPED:
        t, m, _ = read_itf(path)
        try:
            files, blocks, ops = traces.ops_from_trace(t.actions, m.design, t.prop)
            mapped.append(os.path.basename(path))
            assert files >= 2 and ops
            if t.prop in traces.CRASH_PROPERTIES:
                assert isinstance(ops[-1], O.Crash)
        except traces.NotMappable as e:
            why[os.path.basename(path)] = str(e)
    assert len(mapped) == 31 and len(why) == len(SHIPPED) - 31
    assert all(
        any(
            k in w
            for k in ("threads", "never merged", "2 MiB", "has no", "dax=inode", "second process")
        )
        for w in why.values()
    )


# ----------------------------------------------------------------------------- QEMU
@pytest.fixture(scope="module")
def guest612():
    why = reason("6.12")
    if why:
        pytest.skip(why)
    with DaxGuest(fixture.find("6.12")) as g:
        g.boot()
        O.prepare(g, fresh=True)
        yield g


MAP_SYNC_CRASH = [O.Map(0, "sync"), O.Falloc(0, 0), O.MStore(0, 0, 1), O.Crash("shutdown")]


def test_smoke_sequences_and_crash_points_match(guest612):
    s = O.run(guest612, "6.12", runs=40, seed=7, max_ops=8, crash_rate=0.3, kill_share=0.15)
    assert s.mismatches == [], "\n".join(s.lines())
    assert s.matched == 40 and s.operations > 40
    assert s.kills >= 1 and s.kills + s.shutdowns >= 8


def test_a_wrong_map_sync_setting_is_a_mismatch(guest612):
    assert O.run_sequence(guest612, "6.12", 2, 2, MAP_SYNC_CRASH).status == "match"
    out = O.run_sequence(guest612, "6.12", 2, 2, MAP_SYNC_CRASH, {"sync_fault": "never"})
    assert out.status == "mismatch" and "no allowed post-crash state" in out.message


def test_fdatasync_of_a_clean_file_forces_no_log(guest612):
    """Regression for the spec fix fsync_log_force='if-pinned' (xfs_file_fsync)."""
    ops = [O.PWrite(0, 0, 1, 1), O.Fdatasync(1), O.Crash("shutdown")]
    assert O.run_sequence(guest612, "6.12", 2, 2, ops).status == "match"
    out = O.run_sequence(guest612, "6.12", 2, 2, ops, {"fsync_log_force": "always"})
    assert out.status == "mismatch" and "a: spec size 1 blocks, kernel 0 B" in out.message


def test_dedupe_compares_an_unwritten_extents_raw_pmem(guest612):
    """The kernel finding behind dedupe_compare='raw-media': a fallocated block that got a
    freed block's 'A's "equals" a written block of 'A's, and b's data is gone."""
    g = guest612
    O.prepare(g, fresh=True)  # a new XFS: the allocator's choices as in the reproducer
    for line in ("reset 3", "pwrite 2 0 4096 65", "fdatasync 2"):
        g.cmd(line)
    freed = g.cmd("state 2")["ext"].split(":")[1]
    for line in ("falloc 2 3 0 4096", "fsync 2", "syncfs", "falloc 0 0 0 4096"):
        g.cmd(line)
    a = g.cmd("state 0")
    if a["ext"].split(":")[1] != freed:
        pytest.skip("XFS did not hand the freed block to the fallocate: no stale bytes")
    assert a["segs"] == "00,00" and a["ext"].endswith(":801")  # unwritten: reads zeros
    g.cmd("pwrite 1 0 4096 65")
    assert g.cmd("dedupe 0 0 4096 1 0")["same"] == "1"
    b = g.cmd("state 1")
    assert b["ext"] == "-" and b["segs"] == "00,00"  # b's 'A's are gone


def test_a_store_past_eof_is_sigbus_on_both_sides(guest612):
    out = O.run_sequence(
        guest612,
        "6.12",
        2,
        2,
        [O.PWrite(0, 0, 2, 1), O.Map(0, "shared"), O.MStore(0, 2, 1), O.MLoad(0, 3)],
    )
    assert out.status == "match" and out.ops_run == 4


def test_a_shipped_counterexample_shows_the_fixed_design(guest612):
    t, m, _ = read_itf(
        os.path.join(ROOT, "counterexamples", "cow-single-iomap__no_stale_data.itf.json")
    )
    r = traces.check_on_kernel(guest612, "6.12", t.actions, m.design, t.prop)
    assert r.shows_fixed and r.tells_apart and r.differing == {"cow": "single-iomap"}


@pytest.mark.thorough
def test_every_mapped_counterexample_shows_the_fixed_design(guest612):
    for path in SHIPPED:
        t, m, _ = read_itf(path)
        try:
            r = traces.check_on_kernel(guest612, "6.12", t.actions, m.design, t.prop)
        except traces.NotMappable:
            continue
        assert r.shows_fixed, (path, r.fixed.message)


def test_no_qemu_survives_a_sigkill_of_daxcheck(guest612, tmp_path):
    script = (
        "import sys, time\n"
        "from daxcheck.checker.oracle.qemu import fixture\n"
        "from daxcheck.checker.oracle.qemu.guest import DaxGuest\n"
        f"g = DaxGuest(fixture.find('6.12'), workdir={str(tmp_path)!r})\n"
        "g.boot(); print(g.proc.pid, flush=True); time.sleep(600)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    qemu = int(p.stdout.readline())
    p.send_signal(signal.SIGKILL)
    p.wait()
    for _ in range(100):
        try:
            os.kill(qemu, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(qemu, signal.SIGKILL)
        pytest.fail("QEMU outlived a SIGKILL of its parent")


def test_cli_qemu_oracle_runs_and_reports(guest612, capsys):
    assert (
        cli.main(
            ["oracle", "--target", "qemu-dax", "--runs", "5", "--seed", "2", "--crash-rate", "0"]
        )
        == 0
    )
    out = " ".join(capsys.readouterr().out.split())  # as wrapped at any terminal width
    assert "real-DAX oracle on 6.12 (6.12." in out and "5 matched" in out and "0 mismatches" in out


def test_6_1_shows_the_two_settings_it_differs_in():
    """6.1 warns on read -> FICLONE -> read (read_shared='not-reported') and drops S_DAX from
    a reflinked inode read back after recovery (reflink_dax='dropped-on-load')."""
    why = reason("6.1")
    if why:
        pytest.skip(why)
    warn = [
        O.PWrite(0, 0, 2, 1),
        O.Map(0, "shared"),
        O.MLoad(0, 0),
        O.Clone(0, 1),
        O.Map(1, "shared"),
        O.MLoad(1, 0),
    ]
    dax = [O.PWrite(0, 0, 2, 1), O.Clone(0, 1), O.Fdatasync(1), O.Crash("shutdown")]
    with DaxGuest(fixture.find("6.1")) as g:
        g.boot()
        O.prepare(g, fresh=True)
        assert O.run_sequence(g, "6.1", 2, 2, warn).status == "match"
        assert any("WARNING" in w for w in g.warned)
        assert O.run_sequence(g, "6.1", 2, 2, dax).status == "match"
        out = O.run_sequence(g, "6.1", 2, 2, dax, {"reflink_dax": "kept"})
        assert out.status == "mismatch" and "STATX_ATTR_DAX=0" in out.message


def test_a_guest_that_does_not_boot_is_one_line(tmp_path):
    why = fixture.host_reason()
    if why:
        pytest.skip(why)
    bogus = fixture.Fixture(
        "6.12", "none", str(tmp_path / "no-vmlinuz"), str(tmp_path / "no-initrd")
    )
    g = DaxGuest(bogus)
    with pytest.raises(GuestError, match="QEMU exited .*no-vmlinuz") as e:
        g.boot()
    assert "\n" not in str(e.value) and g.proc is None
    g.close()
    assert not os.path.exists(g.dir)


def test_a_hung_guest_is_killed(guest612):
    """Last of the module's tests on its guest: a command with no answer in time kills it."""
    with pytest.raises(GuestError, match="guest hung"):
        guest612.raw("ping", timeout=0.0)
    assert guest612.proc is None
    with pytest.raises(GuestError, match="not running"):
        guest612.raw("ping")
