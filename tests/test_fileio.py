"""Safe reading of a user's files and atomic writing of daxcheck's own (daxcheck/fileio.py):
special files refused before reading, no FIFO blocks, a size cap; every file daxcheck writes
appears whole or not at all, with nothing left behind on ENOSPC, an exception or Ctrl-C,
and a user's own ``*.tmp`` file untouched."""

import errno
import json
import os
import re

import pytest
from helpers import dax_here

from daxcheck import fileio
from daxcheck.fileio import InputFileError, atomic_write, read_input, read_json

BAD = "hole-size-unknown"
TRACE = f"{BAD}__mapping_matches_extents.itf.json"
CHECK = ("check", "--design", BAD, "--property", "mapping_matches_extents", "--quiet")


def test_special_files_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, what in (
        (fifo, "a FIFO"),
        ("/dev/zero", "a character device"),
        (tmp_path, "a directory"),
    ):
        with pytest.raises(InputFileError, match=f"is {what}, not a regular trace file"):
            read_input(path, "trace")  # returns at once: nothing is read
    with pytest.raises(InputFileError, match="no such file"):
        read_input(tmp_path / "missing")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(InputFileError, match="is 2,000 bytes, over the 1,000-byte limit"):
        read_input(big, "trace", limit=1000)


@pytest.mark.parametrize(
    "data,msg",
    [
        (b"\xff{}", "not UTF-8 text (byte 0xff at offset 0)"),
        (b"[" * 50 + b"]" * 50, "nested more than 32 levels"),
        (b"[" * 100000, "nested too deeply"),
        (b"1" * 5000, "integer string conversion"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": 1', "not valid JSON (truncated?)"),
    ],
)
def test_bad_json_is_one_line(tmp_path, data, msg):
    f = tmp_path / "x.json"
    f.write_bytes(data)
    with pytest.raises(InputFileError, match=re.escape(msg)) as e:
        read_json(f)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(f))


def test_atomic_write_replaces_whole_and_keeps_the_mode(tmp_path):
    f = tmp_path / "out.json"
    atomic_write(f, "one\n")
    assert f.read_text() == "one\n" and (f.stat().st_mode & 0o777) == 0o666 & ~fileio._umask()
    f.chmod(0o600)
    atomic_write(f, b"two\n")
    assert f.read_text() == "two\n" and (f.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="is a FIFO"):
        atomic_write(fifo, "x")  # never opened, never replaced


@pytest.mark.parametrize("fail", ["write", "fsync", "replace"])
@pytest.mark.parametrize(
    "exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]
)
def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, fail, exc):
    f = tmp_path / "out.json"
    f.write_text("old\n")
    mine = tmp_path / "out.json.tmp"  # a user's own file of that name
    mine.write_text("mine\n")

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(fileio.os, fail, boom)
    with pytest.raises(type(exc)):
        atomic_write(f, "new\n")
    monkeypatch.undo()
    assert f.read_text() == "old\n" and mine.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.json.tmp"]


def _snapshot(folder):
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_cli_on_a_full_disk_exits_2_with_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """ENOSPC while saving a counterexample, and while writing --json: one line, exit 2, the
    user's files (including a *.itf.json.tmp of their own) unchanged, no temporary left."""
    out = tmp_path / "cx"
    out.mkdir()
    (out / (TRACE + ".tmp")).write_text("my own notes\n")
    (tmp_path / "r.json").write_text('{"format": "daxcheck-results"}\n')
    before = _snapshot(tmp_path)
    real_write = os.write

    def full(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(fileio.TMP_SUFFIX):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(fileio.os, "write", full)
    code, out_text, err = dax_here(*CHECK, "--out", str(out))
    assert code == 2 and "No space left on device" in err and len(err.splitlines()) == 1
    code, out_text, err = dax_here(*CHECK, "--no-write", "--json", str(tmp_path / "r.json"))
    assert code == 2 and "No space left on device" in err and len(err.splitlines()) == 1
    assert _snapshot(tmp_path) == before
    monkeypatch.undo()
    code, _, err = dax_here(*CHECK, "--out", str(out))  # the disk has room again
    assert code == 12, err
    assert (out / (TRACE + ".tmp")).read_text() == "my own notes\n"
    assert sorted(p.name for p in out.iterdir()) == sorted([TRACE, TRACE + ".tmp"])
    assert json.loads((out / TRACE).read_text())["#meta"]["design"] == BAD


def test_outputs_are_refused_before_the_run(tmp_path):
    """A --json that is a directory, a FIFO or someone else's file, and an --out that is a
    file, are refused before anything is explored (and nothing is written)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    mine = tmp_path / "mine.json"
    mine.write_text("{}\n")
    before = _snapshot(tmp_path)
    for args, msg in (
        (["--json", str(tmp_path)], "is a directory"),
        (["--junit", str(fifo)], "is a FIFO"),
        (["--summary", str(mine)], "was not written by daxcheck"),
        (["--out", str(mine)], "exists and is not a folder"),
    ):
        code, out, err = dax_here("check", "--design", "cow-srcmap", *args)
        assert code == 2 and msg in err and len(err.splitlines()) == 1, err
        assert "states" not in out  # refused before the exploration
    assert _snapshot(tmp_path) == before
