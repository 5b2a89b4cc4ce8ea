"""Exit-code hygiene (issue 27): an OS error on a path the user gave is exit 2 naming the
option and the path, checked before any search; errors writing many traces name each file;
an exception whose ``__str__`` raises, or a user's file that sets ``sys.stderr = None``
before raising, still gives its one line and its documented exit code."""

import errno

import pytest
from helpers import dax, dax_here

LONG = "x" * 300  # one component longer than NAME_MAX (255)
SMALL = ["--design", "userspace-flush"]


def _one_line(code, err, want_code, *words):
    assert code == want_code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "internal error" not in err, err
    for w in words:
        assert w in err, err


@pytest.fixture
def no_search(monkeypatch):
    """Any search or proof started fails the test: the refusal must come first."""
    import daxcheck.checker.runner as runner
    import daxcheck.checker.symbolic.engine as engine

    def started(*a, **k):
        raise AssertionError("the search started before the path was refused")

    monkeypatch.setattr(runner, "run_check", started)
    monkeypatch.setattr(engine, "prove_all", started)


@pytest.mark.parametrize(
    "args,flag",
    [
        (["check", *SMALL, "--json", "{d}/" + LONG + ".json"], "--json"),
        (["check", *SMALL, "--junit", "{d}/" + LONG + ".xml"], "--junit"),
        (["check", *SMALL, "--summary", "{d}/" + LONG + ".md"], "--summary"),
        (["check", *SMALL, "--out", "{d}/" + LONG], "--out"),
        (["check", *SMALL, "--checkpoint", "{d}/" + LONG], "--checkpoint"),
        (["check", *SMALL, "--resume", "{d}/" + LONG], "--resume"),
        (["prove", *SMALL, "--summary", "{d}/" + LONG + ".md"], "--summary"),
        (
            [
                "view",
                "counterexamples/userspace-flush__durable_after_sync.itf.json",
                "--html",
                "{d}/" + LONG + ".html",
            ],
            "--html",
        ),
    ],
)
def test_over_long_names_are_bad_input_before_any_work(tmp_path, no_search, args, flag):
    """main: "internal error: OSError File name too long", exit 1, after the search."""
    from daxcheck.checker.gate import SHIPPED_DIR

    argv = [a.format(d=tmp_path) for a in args]
    argv = [str(SHIPPED_DIR.parent / a) if a.startswith("counterexamples/") else a for a in argv]
    code, _, err = dax_here(*argv)
    _one_line(code, err, 2, flag, "File name too long")


@pytest.mark.parametrize("flag", ["--out", "--json", "--checkpoint"])
def test_a_destination_under_a_regular_file_is_refused_before_the_search(tmp_path, no_search, flag):
    (tmp_path / "f").write_text("mine")
    code, _, err = dax_here("check", *SMALL, flag, str(tmp_path / "f" / "sub" / "x"))
    _one_line(code, err, 2, flag, "is a file")
    assert (tmp_path / "f").read_text() == "mine"


@pytest.mark.parametrize("err_no", [errno.ENOSPC, errno.EROFS])
def test_each_trace_that_cannot_be_written_is_named(tmp_path, monkeypatch, err_no):
    """ENOSPC or a read-only file system while saving several counterexamples: one line per
    trace naming its file (main printed the same line for each, without the file)."""
    import daxcheck.fileio as fileio

    real = fileio.os.write

    def failing(fd, data):
        if fileio.os.readlink(f"/proc/self/fd/{fd}").endswith(fileio.TMP_SUFFIX):
            raise OSError(err_no, fileio.os.strerror(err_no))
        return real(fd, data)

    monkeypatch.setattr(fileio.os, "write", failing)
    code, _, err = dax_here(
        "check", "--design", "hole-size-unknown", "--quiet", "--out", str(tmp_path / "cx")
    )
    assert code == 2, err
    lines = err.strip().splitlines()
    names = [
        "hole-size-unknown__mapping_matches_extents.itf.json",
        "hole-size-unknown__read_returns_last_write.itf.json",
    ]
    assert len(lines) == len(names), err
    for line, name in zip(sorted(lines), names):
        assert name in line and fileio.os.strerror(err_no) in line, err


STR_RAISES = """
class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message")
"""


def test_an_exception_whose_str_raises_keeps_its_exit_code(tmp_path):
    """A user file raising it while imported: exit 2 (main: 3, the __str__ error reported
    instead); a predicate raising it while checking: exit 3; one line each."""
    f = tmp_path / "unprintable.py"
    f.write_text(STR_RAISES + "raise Unprintable()\n")
    for flag in ("--designs", "--properties"):
        code, _, err = dax_here("check", *SMALL, flag, str(f), "--no-write")
        _one_line(code, err, 2, "unprintable.py line 5", "Unprintable")
    g = tmp_path / "pred.py"
    g.write_text(
        STR_RAISES
        + '''
from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """Raises an exception that cannot be printed."""
    raise Unprintable()
'''
    )
    code, _, err = dax_here(
        "check", *SMALL, "--properties", str(g), "--property", "mine", "--no-write", "--depth", "1"
    )
    _one_line(code, err, 3, "pred.py:12", "Unprintable")


@pytest.mark.parametrize("where", ["import", "predicate"])
def test_stderr_set_to_none_then_raise_still_reports(tmp_path, where):
    """main: exit 1 and no message at all."""
    f = tmp_path / "silent.py"
    if where == "import":
        f.write_text("import sys\nsys.stderr = None\nraise ValueError('boom')\n")
        args, want = ["--designs", str(f)], 2
    else:
        f.write_text('''import sys
from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """Silences stderr, then raises."""
    sys.stderr = None
    raise ValueError("boom")
''')
        args, want = ["--properties", str(f), "--property", "mine", "--depth", "1"], 3
    r = dax("check", *SMALL, *args, "--no-write")
    _one_line(r.returncode, r.stderr, want, "silent.py", "ValueError: boom")
