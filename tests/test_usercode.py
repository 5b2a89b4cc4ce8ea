"""A user's code that raises or returns a non-bool: one line naming the user's file:line,
exit 3 (``--traceback`` for the full one); a user file loaded twice is loaded once."""

import pytest

from daxcheck import registries
from daxcheck.checker.explicit import explore
from daxcheck.properties import PROPERTIES, invariant, load_properties_file
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.usercode import UserCodeError
from helpers import dax

SMALL = ["--design", "iomap-hole-size", "--depth", "2", "--no-write", "--quiet"]




PREDICATE = '''
from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """A user's invariant."""
    return {body}
'''


@pytest.mark.parametrize("body,expect", [
    ("abs(s[L.size[0]]) // 0 == 0", "mine.py:8: ZeroDivisionError"),
    ("'yes'", "mine.py:5: property mine returned 'yes' (str), not a bool"),
    ("5", "returned 5 (int), not a bool"),
    ("[0]", "returned [0] (list), not a bool"),
])
def test_user_predicate_errors_are_one_line_exit_3(tmp_path, body, expect):
    f = tmp_path / "mine.py"
    f.write_text(PREDICATE.format(body=body))
    r = dax("check", "--properties", str(f), "--property", "mine", *SMALL)
    assert r.returncode == 3, r.stdout + r.stderr
    assert expect in r.stderr and "design iomap-hole-size" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Dep" not in r.stderr


def test_user_design_hook_error_names_the_hook_and_traceback_on_request(tmp_path):
    f = tmp_path / "hooks.py"
    f.write_text('''
import dataclasses
from daxcheck.spec.designs import DESIGNS, Design, register_design


@dataclasses.dataclass(frozen=True)
class Mine(Design):
    def hole_length(self, L, s, f, x, want):
        n = int(s[L.size[f]])
        return {}[n]


register_design(Mine(**{**{f.name: getattr(DESIGNS["iomap-hole-size"], f.name)
                           for f in dataclasses.fields(Design)}, "name": "mine"}))
''')
    r = dax("check", "--designs", str(f), "--design", "mine", "--no-write", "--quiet")
    assert r.returncode == 3
    assert r.stderr.strip() == (f"daxcheck: error: {f}:10: KeyError: 0 (in design hook "
                                f"hole_length, design mine)")
    r = dax("check", "--designs", str(f), "--design", "mine", "--no-write", "--quiet",
            "--traceback", traceback_ok=True)
    assert r.returncode == 3 and "Traceback" in r.stderr and "return {}[n]" in r.stderr


def test_non_bool_is_refused_in_process_at_first_evaluation():
    with registries.isolated():
        @invariant
        def counts(L, s):
            """Returns a count, not a bool."""
            return 0
        with pytest.raises(UserCodeError, match="returned 0 .int., not a bool"):
            explore(DaxModel(DESIGNS["iomap-hole-size"]), [PROPERTIES["counts"]], depth=1)
    assert "counts" not in PROPERTIES


def test_help_lists_every_exit_code():
    r = dax("check", "--help")
    assert r.returncode == 0
    for code in ("0", "12", "75", "2", "1", "3"):
        assert f"\n  {code:>2}  " in r.stdout


def test_loading_a_user_file_twice_is_idempotent(tmp_path):
    f = tmp_path / "twice.py"
    f.write_text(PREDICATE.format(body="s[L.size[0]] <= 2"))
    with registries.isolated():
        assert load_properties_file(str(f)) == ["mine"]
        first = PROPERTIES["mine"]
        assert load_properties_file(str(f)) == ["mine"]
        assert PROPERTIES["mine"] is first
        f.write_text(PREDICATE.format(body="s[L.size[0]] <= 1"))   # changed: loaded again
        assert load_properties_file(str(f)) == ["mine"] and PROPERTIES["mine"] is not first
    assert "mine" not in PROPERTIES
    with registries.isolated():                                    # and again after isolation
        assert load_properties_file(str(f)) == ["mine"]
