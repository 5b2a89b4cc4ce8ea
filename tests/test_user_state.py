"""User state with crash semantics (issue 25; tests/user_files/user_state.py): per kind,
what a crash does (kept, recovered from the last log force, lost), in the explicit engine,
in Z3 and in a replayed trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import dax_here, field, run

from daxcheck import registries
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.checker.symbolic.engine import bmc
from daxcheck.properties import PROPERTIES, invariant
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import ACTIONS
from daxcheck.spec.user_state import CRASH_SEMANTICS, state_field

USER = Path(__file__).parent / "user_files" / "user_state.py"


@pytest.fixture
def model():
    with registries.isolated():
        load_user_files(str(USER), str(USER))
        yield DaxModel(DESIGNS["user-state"])


def _flags(m, s):
    return {k: field(m, s, f"ustate_{k}", 0) for k in ("kept", "recovered", "lost")}


def test_crash_keeps_recovers_or_loses_each_kind(model):
    m = model
    SetFlags, Crash, Fdatasync = ACTIONS["set_flags"], ACTIONS["crash"], ACTIONS["fdatasync"]
    s = run(m, SetFlags(0))
    assert _flags(m, s) == {"kept": 1, "recovered": 1, "lost": 1}
    after = run(m, Crash(), s=s)  # the flag never reached the log
    assert _flags(m, after) == {"kept": 1, "recovered": 0, "lost": 0}
    synced = run(m, Fdatasync(0), Crash(), s=s)  # fsync forced the log first
    assert _flags(m, synced) == {"kept": 1, "recovered": 1, "lost": 0}


def test_engines_agree_on_user_state(model):
    @invariant
    def ustate_crash_changes_nothing(L, s):
        """Wrong on purpose: the in-core flag equals the on-media one (a crash breaks it)."""
        return s[L.ustate_lost[0]] == s[L.ustate_kept[0]]

    props = [
        PROPERTIES["ustate_lost_implies_recovered"],
        PROPERTIES["ustate_crash_changes_nothing"],
    ]
    ex, z3 = explore(model, props), bmc(model, props, depth=3)
    for r in (ex, z3):
        assert r.verdicts["ustate_lost_implies_recovered"].status == HOLDS
        bad = r.verdicts["ustate_crash_changes_nothing"]
        assert (bad.status, bad.depth) == (VIOLATED, 2)
    steps = [
        model.actions[i].describe()
        for i, _ in ex.verdicts["ustate_crash_changes_nothing"].trace[1:]
    ]
    assert steps == ["set_flags(file=a)", "crash()"]


def test_bad_crash_mode_and_redeclaration():
    with registries.isolated():
        with pytest.raises(ValueError, match="crash='gone' is not one of kept, recovered, lost"):
            state_field("ustate_x", ("file",), crash="gone")
        state_field("ustate_y", ("file",), crash="lost")
        with pytest.raises(ValueError, match="already declared with crash='lost'"):
            state_field("ustate_y", ("file",), crash="kept")
    assert "ustate_y" not in CRASH_SEMANTICS


WRONG = '''from daxcheck.properties import invariant


@invariant
def ustate_crash_changes_nothing(L, s):
    """Wrong on purpose: the in-core flag equals the on-media one."""
    return s[L.ustate_lost[0]] == s[L.ustate_kept[0]]
'''


def test_replay_follows_the_crash_semantics(tmp_path):
    props = tmp_path / "p.py"
    props.write_text(WRONG)
    files = ("--designs", str(USER), "--properties", str(props))
    code, _, err = dax_here(
        "check", *files, "--design", "user-state", "--out", str(tmp_path / "cx")
    )
    assert code == 12, err
    trace = next((tmp_path / "cx").glob("*ustate_crash_changes_nothing*.itf.json"))
    code, out, err = dax_here("replay", str(trace), *files)
    assert code == 12, err
    assert "reproduces: ustate_crash_changes_nothing fails after step 2" in " ".join(out.split())
