"""Issue 25: short copies.  dax_iomap_iter's copy (``dax_iomap_iter_copy`` ->
``dax_copy_from_iter``) returns the segments copied, and write(2) (``write_short``: the
user buffer supplies only ``avail`` segments) reports and records only those."""

from __future__ import annotations

import dataclasses

from helpers import Reflink, Write, field, run

from daxcheck.checker.concrete.executor import replay_concrete
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import ALL_FAMILIES, DESIGNS, Design
from daxcheck.spec.kernel.dax import dax_iomap_iter_copy
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import WriteShort
from daxcheck.spec.state import STALE, Bounds

A, B = 0, 1
SCOPE = DESIGNS["cov-short-copy"]


def copy_of(base, cls):
    return cls(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})


def test_a_short_write_stores_and_records_only_the_copied_segments():
    m = DaxModel(SCOPE)
    s = run(m, WriteShort(A, 0, 0, 1, 2, 1))
    p = field(m, s, "ext_pblk", A, 0)
    assert [field(m, s, "media", p, g) for g in (0, 1)] == [2, 0]  # new block: zeroed
    assert [field(m, s, "ghost_last", A, 0, g) for g in (0, 1)] == [2, 0]
    assert field(m, s, "size", A) == 1
    assert all(PROPERTIES[n].holds(m.L, s) for n in ("read_returns_last_write", "no_stale_data"))


def test_write_short_instances_are_the_short_counts_of_multi_segment_ranges():
    m = DaxModel(SCOPE)
    shorts = [a for a in m.actions if a.name == "write_short"]
    assert {(a.lo, a.hi, a.avail) for a in shorts} == {(0, 1, 1)}
    assert "write_short" not in ALL_FAMILIES
    four = DaxModel(SCOPE, SCOPE.bounds.replace(segs=4))
    assert max(a.avail for a in four.actions if a.name == "write_short") == 3


def test_write_goes_through_the_copy_hook():
    seen = []

    class Spy(Design):
        def dax_iomap_iter_copy(self, L, d, p, segs, t, avail):
            seen.append((tuple(segs), avail))
            return super().dax_iomap_iter_copy(L, d, p, segs, t, avail)

    m = DaxModel(copy_of(SCOPE, Spy))
    run(m, Write(A, 0, 0, 1, 1), WriteShort(A, 0, 0, 1, 2, 1))
    assert seen == [((0, 1), 2), ((0, 1), 1)]


def test_reporting_the_requested_length_is_caught_and_the_scope_holds():
    class Requested(Design):
        def dax_iomap_iter_copy(self, L, d, p, segs, t, avail):
            dax_iomap_iter_copy(self, L, d, p, segs, t, avail)
            return tuple(segs)  # write(2) returns map_len, not xfer

    props = list(PROPERTIES.values())
    bad = explore(DaxModel(copy_of(SCOPE, Requested)), props)
    assert bad.verdicts["read_returns_last_write"].status == VIOLATED
    good = explore(DaxModel(SCOPE), props)
    assert {v.status for v in good.verdicts.values()} == {HOLDS}


def test_a_short_copy_into_a_cowd_block_leaves_the_new_blocks_old_bytes():
    """dax_iomap_copy_around fills only outside the write's range, so the uncopied rest of
    the range keeps what the CoW block held (xfs_reflink_end_cow remaps it anyway)."""
    d = SCOPE.variant(families=SCOPE.families + ("reflink",))
    m = DaxModel(d, Bounds(files=2, blocks=1, phys=3, tokens=2, procs=1, depth=4))
    s = run(m, Write(A, 0, 0, 1, 1), Reflink(A, B), WriteShort(A, 0, 0, 1, 2, 1))
    p = field(m, s, "ext_pblk", A, 0)
    assert p != field(m, s, "ext_pblk", B, 0)
    assert [field(m, s, "media", p, g) for g in (0, 1)] == [2, STALE]


def test_a_short_write_replays_on_pmem_bytes():
    m = DaxModel(SCOPE)
    acts = [Write(A, 0, 0, 1, 1), WriteShort(A, 0, 0, 1, 2, 1)]
    rep = replay_concrete(m, acts, crash_states=8)
    assert rep.refinement_ok and rep.steps == 2 and rep.symptoms == []
