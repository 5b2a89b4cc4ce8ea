"""A user's code that raises or returns a non-bool: one line naming the user's file:line,
exit 3 (``--traceback`` for the full one); a user file loaded twice is loaded once."""

import pytest
from helpers import dax, dax_here

from daxcheck import registries
from daxcheck.checker.explicit import explore
from daxcheck.properties import PROPERTIES, invariant, load_properties_file
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.usercode import UserCodeError

SMALL = ["--design", "iomap-hole-size", "--depth", "2", "--no-write", "--quiet"]


PREDICATE = '''
from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """A user's invariant."""
    return {body}
'''


@pytest.mark.parametrize(
    "body,expect",
    [
        ("abs(s[L.size[0]]) // 0 == 0", "mine.py:8: ZeroDivisionError"),
        ("'yes'", "mine.py:5: property mine returned 'yes' (str), not a bool"),
        ("5", "returned 5 (int), not a bool"),
        ("[0]", "returned [0] (list), not a bool"),
    ],
)
def test_user_predicate_errors_are_one_line_exit_3(tmp_path, body, expect):
    f = tmp_path / "mine.py"
    f.write_text(PREDICATE.format(body=body))
    r = dax("check", "--properties", str(f), "--property", "mine", *SMALL)
    assert r.returncode == 3, r.stdout + r.stderr
    assert expect in r.stderr and "design iomap-hole-size" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Dep" not in r.stderr


def test_user_design_hook_error_names_the_hook_and_traceback_on_request(tmp_path):
    f = tmp_path / "hooks.py"
    f.write_text("""
import dataclasses
from daxcheck.spec.designs import DESIGNS, Design, register_design


@dataclasses.dataclass(frozen=True)
class Mine(Design):
    def hole_length(self, L, s, f, x, want):
        n = int(s[L.size[f]])
        return {}[n]


register_design(Mine(**{**{f.name: getattr(DESIGNS["iomap-hole-size"], f.name)
                           for f in dataclasses.fields(Design)}, "name": "mine"}))
""")
    r = dax("check", "--designs", str(f), "--design", "mine", "--no-write", "--quiet")
    assert r.returncode == 3
    assert r.stderr.strip() == (
        f"daxcheck: error: {f}:10: KeyError: 0 (in design hook hole_length, design mine)"
    )
    r = dax(
        "check",
        "--designs",
        str(f),
        "--design",
        "mine",
        "--no-write",
        "--quiet",
        "--traceback",
        traceback_ok=True,
    )
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
        f.write_text(PREDICATE.format(body="s[L.size[0]] <= 1"))  # changed: loaded again
        assert load_properties_file(str(f)) == ["mine"] and PROPERTIES["mine"] is not first
    assert "mine" not in PROPERTIES
    with registries.isolated():  # and again after isolation
        assert load_properties_file(str(f)) == ["mine"]


@pytest.mark.parametrize(
    "body,expect",
    [
        ("__import__('sys').exit(0)", "SystemExit: sys.exit(0) called (in property mine"),
        ("(_ for _ in ()).throw(KeyboardInterrupt())", "KeyboardInterrupt (in property mine"),
    ],
)
def test_sys_exit_or_keyboardinterrupt_in_a_predicate_is_an_error_not_an_exit(
    tmp_path, body, expect
):
    f = tmp_path / "mine.py"
    f.write_text(PREDICATE.format(body=body))
    code, out, err = dax_here("check", "--properties", str(f), "--property", "mine", *SMALL)
    assert code == 3, out + err
    assert expect in err and "mine.py:8" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "source,expect",
    [
        ("import sys\nsys.exit(0)\n", "x.py line 2: SystemExit: the file called sys.exit(0)"),
        ("raise KeyboardInterrupt\n", "x.py line 1: KeyboardInterrupt"),
        ("def f(:\n", "x.py line 1: SyntaxError"),
        (
            "from daxcheck.spec.designs import DESIGNS, register_design\n"
            "register_design(DESIGNS['iomap-hole-size'].variant(name=5))\n",
            "registers design 5 (int): a name is a string",
        ),
        (
            "from daxcheck.spec.designs import DESIGNS, register_design\n"
            "register_design(DESIGNS['iomap-hole-size'].variant(name='../../x'))\n",
            "registers design '../../x' (str): a name is a string",
        ),
        (
            "from daxcheck.spec.designs import DESIGNS\nDESIGNS['five'] = 5\n",
            "registers design five: is 5 (int), not a Design",
        ),
        (
            "from daxcheck.properties import invariant\ninvariant(each=5)(lambda L, s, i: True)\n",
            "each= must be a function of the layout",
        ),
    ],
)
def test_a_user_file_that_cannot_be_loaded_is_exit_2_and_registers_nothing(
    tmp_path, source, expect
):
    f = tmp_path / "x.py"
    f.write_text(source)
    from daxcheck.spec.designs import DESIGNS

    before = set(DESIGNS)
    for flag in ("--designs", "--properties"):
        code, out, err = dax_here("check", flag, str(f), *SMALL)
        assert code == 2, out + err
        assert expect in err and len(err.splitlines()) == 1
    assert set(DESIGNS) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.py"]  # no __pycache__


def test_properties_file_with_any_suffix_and_special_files(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text(PREDICATE.format(body="s[L.size[0]] <= 2"))
    code, out, err = dax_here("check", "--properties", str(f), "--property", "mine", *SMALL)
    assert code == 0, out + err
    for special, what in (("/dev/zero", "a character device"), (str(tmp_path), "a directory")):
        code, out, err = dax_here("check", "--properties", special, *SMALL)
        assert code == 2 and f"is {what}, not a regular Python file" in err, err


def test_each_domain_returning_a_non_sequence_is_exit_3(tmp_path):
    f = tmp_path / "dom.py"
    f.write_text('''
from daxcheck.properties import invariant


@invariant(each=lambda L: 5)
def per_item(L, s, item):
    """Per item."""
    return True
''')
    code, out, err = dax_here("check", "--properties", str(f), "--property", "per_item", *SMALL)
    assert (
        code == 3
        and "dom.py:5: the each= domain of property per_item returned 5 (int)" in err
        and len(err.splitlines()) == 1
    )


LOOP = '''
from daxcheck.properties import invariant


@invariant
def spins(L, s):
    """Never returns."""
    while True:
        {body}
'''


@pytest.mark.parametrize(
    "body", ["pass", "try:\n            pass\n        except BaseException:\n            pass"]
)
def test_time_limit_stops_a_predicate_that_never_returns(tmp_path, body):
    """--time-limit bounds a user's code that never returns (even one that swallows the stop:
    the CLI then exits at once): incomplete, exit 75, naming the user's file:line."""
    f = tmp_path / "spin.py"
    f.write_text(LOOP.format(body=body))
    r = dax("check", "--properties", str(f), "--property", "spins", "--time-limit", "0.5", *SMALL)
    assert r.returncode == 75, r.stdout + r.stderr
    assert f"time limit 0.5s reached in user code {f}:" in r.stdout + r.stderr


def test_time_limit_in_process_gives_incomplete_verdicts(tmp_path):
    from daxcheck.checker.explicit import Budget
    from daxcheck.checker.results import INCOMPLETE
    from daxcheck.checker.runner import make_model, run_check

    f = tmp_path / "spin.py"
    f.write_text(LOOP.format(body="pass"))
    with registries.isolated():
        load_properties_file(str(f))
        c = run_check(
            make_model(DESIGNS["iomap-hole-size"], {}),
            [PROPERTIES["spins"]],
            budget=Budget(time_limit=0.3),
        )
    v = c.result.verdicts["spins"]
    assert v.status == INCOMPLETE and f"in user code {f}:8" in c.result.stats.stopped


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_handled_in_a_gc_callback_is_not_lost(name):
    """A SIGTERM or Ctrl-C whose handler runs inside a gc callback (where Python prints an
    exception and drops it) still stops the code once the callback has returned: under
    ``daxcheck oracle`` hypothesis's gc callback lost a SIGTERM and the run went on."""
    import gc
    import signal
    import time

    from daxcheck.usercode import Interrupted, Terminated, signal_handlers

    sig = getattr(signal, name)
    fired = []

    def callback(phase, info):
        if phase == "start" and not fired:
            fired.append(phase)
            signal.raise_signal(sig)  # runs the handler here, inside the callback

    with signal_handlers():
        gc.callbacks.append(callback)
        try:
            with pytest.raises(Terminated if name == "SIGTERM" else Interrupted) as e:
                gc.collect()
                until = time.monotonic() + 10
                while time.monotonic() < until:  # Python code: the signal lands here
                    pass
        finally:
            gc.callbacks.remove(callback)
    assert fired == ["start"]
    assert name != "SIGINT" or not isinstance(e.value, Terminated)
