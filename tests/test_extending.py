"""The extension API of issue 8, through the tutorial's file (docs/extending.md,
tests/user_files/dsync_write.py): a hook override, a new operation, a ghost field, an
invariant and a kernel WARN, found by both engines and replayed in a fresh process."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import pytest
from helpers import dax

from daxcheck import registries
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.checker.symbolic.engine import bmc
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS, Design, hooks
from daxcheck.spec.kernel import warn as fsdax
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import Action, ActionDefinitionError, action
from daxcheck.spec.state import WARNINGS, ghost_field
from daxcheck.spec.vocab import draft, freeze

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "tests" / "user_files" / "dsync_write.py"
DOC = ROOT / "docs" / "extending.md"


@pytest.fixture
def tutorial():
    """The tutorial's file loaded (as design and property file), registries restored after."""
    with registries.isolated():
        load_user_files(str(TUTORIAL), str(TUTORIAL))
        yield


def test_tutorial_finds_its_bug_with_both_engines(tutorial):
    props = list(PROPERTIES.values())
    bad, good = DaxModel(DESIGNS["dsync-dirty-if-new"]), DaxModel(DESIGNS["dsync-dirty-if-pinned"])
    ex_bad, ex_good = explore(bad, props), explore(good, props)
    got = {p: v.depth for p, v in ex_bad.verdicts.items() if v.status == VIOLATED}
    assert got == {"dsync_writes_survive_crash": 2}
    assert got.keys() == DESIGNS["dsync-dirty-if-new"].expect_violated
    assert {v.status for v in ex_good.verdicts.values()} == {HOLDS}
    acts = [
        bad.actions[i].describe()
        for i, _ in ex_bad.verdicts["dsync_writes_survive_crash"].trace[1:]
    ]
    assert acts == [
        "write(file=a, idx=0, lo=0, hi=1, token=t1)",
        "dsync_write(file=a, idx=0, token=t1)",
    ]
    z_bad, z_good = bmc(bad, props, depth=3), bmc(good, props, depth=3)
    assert {p: v.depth for p, v in z_bad.verdicts.items() if v.status == VIOLATED} == got
    assert {v.status for v in z_good.verdicts.values()} == {HOLDS}


def test_tutorial_checks_and_replays_in_fresh_processes(tmp_path):
    """check writes the trace (recording the user file), replay reproduces it from another
    folder without being given the file; the user operation is replayed abstract-only."""
    r = dax(
        "check",
        "--designs",
        str(TUTORIAL),
        "--properties",
        str(TUTORIAL),
        "--design",
        "dsync-dirty-if-new",
        "--design",
        "dsync-dirty-if-pinned",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert r.returncode == 12, r.stdout + r.stderr
    trace = tmp_path / "dsync-dirty-if-new__dsync_writes_survive_crash.itf.json"
    r = dax("replay", str(trace), cwd=str(tmp_path))
    assert r.returncode == 12, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    assert "dsync_write(file=a, idx=0, token=t1): no byte-level semantics (abstract only)" in text
    assert "refinement: ok" in text and "reproduces: dsync_writes_survive_crash fails" in text
    r = dax(
        "check",
        "--engine",
        "z3",
        "--designs",
        str(TUTORIAL),
        "--properties",
        str(TUTORIAL),
        "--design",
        "dsync-dirty-if-new",
        "--no-write",
        "--quiet",
    )
    assert r.returncode == 12 and "✗2" in r.stdout


def test_tutorial_text_matches_its_file():
    """Every line of the tutorial's Python excerpts (but elisions) is in the file."""
    src = {line.strip() for line in TUTORIAL.read_text().splitlines()}
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 5
    for b in blocks:
        for line in b.splitlines():
            line = line.split("#")[0].strip() if "  # " in line else line.strip()
            if line and "..." not in line:
                assert line in src or any(line in s for s in src), line
    assert str(TUTORIAL.relative_to(ROOT)) in DOC.read_text()


# ------------------------------------------------------------------ hooks
def test_every_hook_names_its_kernel_source_and_is_called():
    """``list hooks`` shows each hook with a kernel function; every hook is reached by some
    shipped design's transitions (a hook nobody calls could be overridden to no effect)."""
    hs = dict(hooks())
    assert len(hs) >= 30
    assert all(re.search(r"[a-z_]+[a-z]", doc) and len(doc) > 20 for doc in hs.values())
    for name in (
        "dax_insert_entry",
        "dax_associate_entry",
        "dax_disassociate_entry",
        "dax_writeback_one",
        "dax_iomap_copy_around",
        "xfs_reflink_end_cow",
        "iomap_f_shared",
        "iomap_f_dirty",
        "iomap_f_new",
        "iomap_hole_length",
        "invalidate_inode_pages2_range",
        "dax_layout_busy_page",
        "dax_zero_range",
        "xfs_log_force",
        "xlog_recover",
        "xfs_bmapi_write",
    ):
        assert name in hs
    called = set()

    class Spy(Design):
        pass

    for h in hs:

        def spy(self, *a, _h=h, **kw):
            called.add(_h)
            return getattr(Design, _h)(self, *a, **kw)

        setattr(Spy, h, spy)
    from daxcheck.checker.explicit.transitions import action_footprint

    for d in DESIGNS.values():  # on taint states every branch of every action runs
        m = DaxModel(Spy(**{f.name: getattr(d, f.name) for f in dataclasses.fields(Design)}))
        for a in m.actions:
            assert action_footprint(m, a) is not None
    assert called == set(hs)
    r = dax("list", "hooks")
    assert r.returncode == 0 and "dax_associate_entry" in r.stdout


def test_old_hook_names_still_override():
    """A subclass written against the earlier method names (README before issue 8) still
    changes the kernel step: cow_fill is dax_iomap_copy_around."""

    class NoCopy(Design):
        def cow_fill(self, L, d, src_kind, src, dst, segs, whole):
            pass

    base = DESIGNS["cow-srcmap"]
    d = NoCopy(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Design)})
    m = DaxModel(d, base.bounds.replace(depth=3))
    assert explore(m, [PROPERTIES["no_stale_data"]]).verdicts["no_stale_data"].status == VIOLATED


def test_list_designs_verbose_cites_every_design():
    import os

    r = dax("list", "designs", "--verbose", env={**os.environ, "COLUMNS": "400"})
    assert r.returncode == 0
    for d in DESIGNS.values():
        assert d.cite, d.name
    assert "generic/503" in r.stdout and "history 5" in r.stdout


# ------------------------------------------------------------------ WARN, fields, actions
def test_warn_on_records_a_declared_message_once():
    L = DaxModel(DESIGNS["map-sync"]).L
    msg = "dax_associate_entry: page->mapping already set"
    d = bytearray(L.init_state())
    fsdax.warn_on(L, d, False, msg)
    assert d[L.warning] == 0
    fsdax.warn_on(L, d, True, msg)
    assert d[L.warning] == list(WARNINGS).index(msg) + 1
    assert L.show(L.warning, d[L.warning]) == msg
    fsdax.warn_on(L, d, True, "dax_disassociate_entry: page->mapping is another file's")
    assert d[L.warning] == list(WARNINGS).index(msg) + 1  # sticky: the first one stays
    with pytest.raises(fsdax.SpecError, match="not declared"):
        fsdax.warn_on(L, d, True, "never declared anywhere")


def test_warn_on_literals_of_a_user_file_are_declared_in_order(tmp_path):
    f = tmp_path / "warns.py"
    f.write_text("""
import dataclasses
from daxcheck.spec import fsdax
from daxcheck.spec.designs import DESIGNS, Design, register_design


@dataclasses.dataclass(frozen=True)
class Loud(Design):
    def xfs_log_force(self, L, d):
        fsdax.warn_on(L, d, d[L.size[0]] == 1, "xfs_log_force: user warning one")
        fsdax.warn_on(L, d, d[L.size[0]] == 2, "xfs_log_force: user warning two")
        super().xfs_log_force(L, d)


register_design(Loud(**{**{f.name: getattr(DESIGNS["map-sync"], f.name)
                           for f in dataclasses.fields(Design)}, "name": "loud",
                        "expect_violated": frozenset({"no_kernel_warning"})}))
""")
    with registries.isolated():
        load_user_files(str(f))
        names = list(WARNINGS)
        assert names[-2:] == ["xfs_log_force: user warning one", "xfs_log_force: user warning two"]
        m = DaxModel(DESIGNS["loud"])
        v = explore(m, [PROPERTIES["no_kernel_warning"]]).verdicts["no_kernel_warning"]
        assert v.status == VIOLATED and v.depth == 2  # write, fdatasync
        assert (
            m.L.show(m.L.warning, v.trace[-1][1][m.L.warning]) == "xfs_log_force: user warning one"
        )
    assert "xfs_log_force: user warning one" not in WARNINGS  # isolated() restored it


def test_ghost_field_declarations_are_checked():
    with registries.isolated():
        spec = ghost_field("my_flag", ("file", "blk"))
        assert ghost_field("my_flag", ("file", "blk")) is spec  # a file loaded twice
        L = DaxModel(DESIGNS["map-sync"]).L
        assert L.my_flag[0][0] == L.flat("my_flag")[0] and L.specs["my_flag"].values(L.bounds) == (
            0,
            1,
        )
        for args, msg in [
            (("size", ("file",)), "shipped state field"),
            (("my_flag", ("file",)), "already declared"),
            (("x2", ("inode",)), "unknown dimension"),
            (("files", ("file",)), "Layout attribute"),
            (("not a name", ("file",)), "identifier"),
        ]:
            with pytest.raises(ValueError, match=msg):
                ghost_field(*args)


def test_action_definitions_are_checked():
    with pytest.raises(ActionDefinitionError, match="name"):

        @action
        class NoName(Action):
            def apply(self, m, s):
                return s

            @classmethod
            def instances(cls, L, D):
                return []

    with pytest.raises(ActionDefinitionError, match="apply"):

        @action
        class NoApply(Action):
            name: ClassVar[str] = "no_apply"

            @classmethod
            def instances(cls, L, D):
                return []

    with pytest.raises(ActionDefinitionError, match="already registered"):

        @action
        class Clash(Action):
            name: ClassVar[str] = "write"

            def apply(self, m, s):
                return s

            @classmethod
            def instances(cls, L, D):
                return []


def test_a_user_action_without_byte_semantics_replays_abstract_only():
    from daxcheck.checker.concrete.executor import replay_concrete

    with registries.isolated():

        @action
        class Scribble(Action):
            """A user operation writing token 1 to p1's media directly (no kernel path)."""

            name: ClassVar[str] = "scribble"

            def apply(self, m, s):
                d = draft(s)
                d[m.L.media[1][0]] = 1
                return freeze(d)

            @classmethod
            def instances(cls, L, D):
                return [cls()]

        d = DESIGNS["map-sync"].variant(name="scribbly", families=("write", "scribble"))
        m = DaxModel(d)
        rep = replay_concrete(m, [Scribble()], prop="no_stale_data")
        assert rep.refinement_ok and any("abstract only" in n for n in rep.notes)
