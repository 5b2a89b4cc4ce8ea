"""Caller-aware hooks (issue 25): xfs_reflink_end_cow and invalidate_inode_pages2_range
receive the kernel path that reached them (``caller=``, a :class:`Caller`), so an override
can change one path only; an override written without the argument keeps working, with a
DeprecationWarning."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest
from helpers import Reflink, Write, field, model, run

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.kernel.registry import Caller
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import ACTIONS
from daxcheck.spec.vocab import draft, freeze

SEEN: dict[str, set] = {"end_cow": set(), "invalidate": set()}


@dataclass(frozen=True)
class Recording(Design):
    """Records every caller it is reached with (the default bodies otherwise)."""

    def xfs_reflink_end_cow(self, L, d, f, x, new, caller=None):
        SEEN["end_cow"].add(caller)
        return Design.xfs_reflink_end_cow(self, L, d, f, x, new, caller=caller)

    def invalidate_inode_pages2_range(self, L, d, f, x, caller=None):
        SEEN["invalidate"].add(caller)
        return Design.invalidate_inode_pages2_range(self, L, d, f, x, caller=caller)


@dataclass(frozen=True)
class RemapKeepsMappings(Design):
    """A reflink forgets to drop the destination's mappings; every other path invalidates."""

    def invalidate_inode_pages2_range(self, L, d, f, x, caller=None):
        if caller == Caller.REMAP:
            return None
        return Design.invalidate_inode_pages2_range(self, L, d, f, x, caller=caller)


def _as(cls, base_name, **changes):
    base = DESIGNS[base_name]
    return cls(**{**{f.name: getattr(base, f.name) for f in fields(Design)}, **changes})


def _run(design, depth=None):
    r = explore(DaxModel(design), list(PROPERTIES.values()), depth=depth, batched=False)
    return r, {n for n, v in r.verdicts.items() if v.status == VIOLATED}


def test_hooks_receive_each_path():
    for k in SEEN:
        SEEN[k].clear()
    fams = DESIGNS["cow-srcmap"].families + ("unshare", "zero_range", "fault")
    _run(_as(Recording, "cow-srcmap", families=fams), depth=4)
    assert {Caller.WRITE, Caller.FAULT, Caller.UNSHARE} <= SEEN["end_cow"]
    assert None not in SEEN["end_cow"] and None not in SEEN["invalidate"]
    assert {Caller.WRITE, Caller.FAULT, Caller.REMAP, Caller.FLUSH} <= SEEN["invalidate"]
    assert Caller.FAULT.iomap_flags == ("IOMAP_WRITE", "IOMAP_FAULT") and Caller.WRITE == "write"


def test_an_override_changes_one_path_only():
    _, ok = _run(DESIGNS["reflink-shared-count"])
    _, bad = _run(_as(RemapKeepsMappings, "reflink-shared-count", name="remap-keeps"))
    assert ok == set() and "mapping_matches_extents" in bad


def test_override_without_caller_is_deprecated_but_honoured():
    with pytest.warns(DeprecationWarning, match="without the caller argument"):

        @dataclass(frozen=True)
        class OldStyle(Design):
            def invalidate_inode_pages2_range(self, L, d, f, x):
                return None

    @dataclass(frozen=True)
    class NewStyle(Design):
        def invalidate_inode_pages2_range(self, L, d, f, x, caller=None):
            return None

    (r_old, v_old) = _run(_as(OldStyle, "cow-srcmap"), depth=4)
    (r_new, v_new) = _run(_as(NewStyle, "cow-srcmap"), depth=4)
    (r_def, _) = _run(DESIGNS["cow-srcmap"], depth=4)
    assert (r_old.stats.states, v_old) == (r_new.stats.states, v_new)
    assert r_old.stats.states != r_def.stats.states


def test_unshare_over_a_block_range_is_a_hook():
    """``D.xfs_reflink_unshare(L, d, f, off, length)``: a user's FALLOC_FL_UNSHARE_RANGE over
    two blocks CoWs both, each with ``caller=Caller.UNSHARE``; the shipped unshare is the
    same hook over one block."""
    m = model("cow-srcmap")
    L = m.L
    s = run(m, Write(0, 0, 0, 1, 1), Write(0, 1, 0, 1, 2), Reflink(0, 1))
    assert [field(m, s, "ext_pblk", 1, x) for x in (0, 1)] == [
        field(m, s, "ext_pblk", 0, x) for x in (0, 1)
    ]
    for k in SEEN:
        SEEN[k].clear()
    rec = _as(Recording, "cow-srcmap", families=m.design.families)
    d = draft(s)
    assert rec.xfs_reflink_unshare(L, d, 1, 0, 2) is True
    t = freeze(d)
    assert SEEN["end_cow"] == {Caller.UNSHARE}
    for x in (0, 1):
        assert field(m, t, "ext_pblk", 1, x) != field(m, t, "ext_pblk", 0, x)
        assert field(m, t, "refcount", field(m, t, "ext_pblk", 0, x)) == 1
    one = run(m, ACTIONS["unshare"](1, 0), s=s)
    assert field(m, one, "ext_pblk", 1, 1) == field(m, s, "ext_pblk", 1, 1)  # block 1 shared
