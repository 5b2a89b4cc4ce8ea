"""A user file written against the API of daxcheck before issue 24 (kept as the check that
such files still load and give the same verdicts): settings through ``variant``, hook
overrides by the old alias (``cow_fill``) and by the deprecated ``dax_mark_dirty``, an
operation built from ``daxcheck.spec.fsdax`` building blocks and registered through
``daxcheck.spec.actions``, a ghost field and an invariant over it.

    daxcheck check --designs tests/user_files/old_api.py --properties tests/user_files/old_api.py
"""
from dataclasses import dataclass, fields
from typing import ClassVar

from daxcheck.properties import invariant
from daxcheck.spec import fsdax
from daxcheck.spec.actions import Action, action
from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.state import Bounds, ghost_field
from daxcheck.spec.vocab import And, Implies, draft, freeze

ghost_field("old_api_stored", ("file", "blk"), kind="promise",
            doc="token the old_overwrite operation last stored at this block (token + 1)")


@action
@dataclass(frozen=True)
class OldOverwrite(Action):
    """write(2) of ``token`` over the whole block ``idx`` of ``file``, built from the old
    building blocks (fsdax.begin_write, D.dax_copy_from_iter, fsdax.wrote, fsdax.grow)."""

    name: ClassVar[str] = "old_overwrite"
    file: int
    idx: int
    token: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, t = self.file, self.idx, self.token
        d = draft(s)
        if not fsdax.begin_write(D, L, d, f, x, tuple(L.segs)):
            return None
        p = d[L.ext_pblk[f][x]]
        for g in L.segs:
            D.dax_copy_from_iter(L, d, p, g, t)
            fsdax.wrote(L, d, f, x, g, t)
        fsdax.grow(L, d, f, x + 1)
        d[L.old_api_stored[f][x]] = t + 1
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x, t) for f in L.files for x in L.blks for t in L.toks]


@invariant(each=lambda L: L.file_blk_segs)
def old_overwrite_reads_back(L, s, fxg):
    """While the block still holds what old_overwrite stored (ghost_last), read(2) returns
    it (fsdax.file_view)."""
    f, x, g = fxg
    stored = s[L.old_api_stored[f][x]]
    return Implies(And(stored != 0, s[L.ghost_last[f][x][g]] == stored - 1),
                   fsdax.file_view(L, s, f, x, g) == stored - 1)


@dataclass(frozen=True)
class OldNoCowCopy(Design):
    def cow_fill(self, L, d, src_kind, src, dst, segs, whole):   # the name before issue 8
        pass


@dataclass(frozen=True)
class OldNoDirty(Design):
    def dax_mark_dirty(self, L, s, f):                           # deprecated in 0.2
        return False


def _copy(design, cls, **changes):
    return cls(**{**{f.name: getattr(design, f.name) for f in fields(Design)}, **changes})


COW = DESIGNS["cow-srcmap"].variant(
    name="old-api-cow", seed="user", summary="cow-srcmap with the old overwrite operation",
    families=DESIGNS["cow-srcmap"].families + ("old_overwrite",),
    bounds=Bounds(files=2, blocks=1, phys=3, tokens=2, procs=1, depth=4))
register_design(COW)
BROKEN_COW = frozenset({"no_stale_data", "no_stale_data_after_crash", "read_returns_last_write",
                        "old_overwrite_reads_back"})
register_design(COW.variant(name="old-api-single-iomap", cow="single-iomap",
                            expect_violated=BROKEN_COW))
register_design(_copy(COW, OldNoCowCopy, name="old-api-no-cow-copy", expect_violated=BROKEN_COW))
register_design(_copy(DESIGNS["map-sync"].variant(bounds=Bounds(files=1, blocks=1, phys=2,
                                                                tokens=1, procs=1, depth=6)),
                      OldNoDirty, name="old-api-no-dirty", seed="user",
                      summary="map-sync whose write faults never tag the entry dirty",
                      expect_violated=frozenset({"durable_after_sync"})))
register_design(DESIGNS["map-sync"].variant(   # the setting's name before 0.2
    name="old-api-no-map-sync", seed="user", summary="map-sync with MAP_SYNC not offered",
    map_sync=False, bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=5)))
